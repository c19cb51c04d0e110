#!/usr/bin/env node
// Every fake executable of the simulator (container, sw_vers, kubeadm, …) is this script under another
// name. It forwards the call to the simulator host over a unix socket and replays the answer, so it
// stays tiny: the host does all the work and asks for stdin only when the command reads it.
// Frames: 1 byte type, 4 bytes big-endian length, payload.
//   to host:   R request JSON, I stdin chunk, E stdin end
//   from host: O stdout, e stderr, N send stdin, X exit code
import { connect } from "node:net";
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";

const self = process.argv[1] ?? "";
const beside = join(dirname(self), ".sim.sock");
const sockPath = existsSync(beside) ? beside : process.env.KINA_SIM_SOCK;
if (!sockPath) {
  process.stderr.write("kina-sim: no simulator socket next to " + self + "\n");
  process.exit(125);
}

const frame = (type, payload) => {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
};

const sock = connect(sockPath);
let done = false;
sock.on("connect", () => {
  const req = { tool: basename(self), argv: process.argv.slice(2), cwd: process.cwd(), env: process.env };
  sock.write(frame("R", Buffer.from(JSON.stringify(req))));
});

let buf = Buffer.alloc(0);
sock.on("data", (chunk) => {
  buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
  while (buf.length >= 5) {
    const len = buf.readUInt32BE(1);
    if (buf.length < 5 + len) break;
    const type = String.fromCharCode(buf[0]);
    const payload = buf.subarray(5, 5 + len);
    buf = buf.subarray(5 + len);
    if (type === "O") process.stdout.write(payload);
    else if (type === "e") process.stderr.write(payload);
    else if (type === "N") {
      process.stdin.on("data", (c) => sock.write(frame("I", c)));
      process.stdin.on("end", () => sock.write(frame("E", Buffer.alloc(0))));
      process.stdin.on("error", () => sock.write(frame("E", Buffer.alloc(0))));
    } else if (type === "X") {
      done = true;
      const code = Number(payload.toString());
      process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
    }
  }
});
sock.on("error", (e) => {
  if (done) return;
  process.stderr.write("kina-sim: simulator host unreachable: " + e.message + "\n");
  process.exit(125);
});
sock.on("close", () => {
  if (done) return;
  process.stderr.write("kina-sim: simulator host closed the connection\n");
  process.exit(125);
});
