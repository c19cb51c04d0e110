// Host side of the wire protocol spoken by bin/sim-client.mjs (see the frame table there).
import { createServer, type Server, type Socket } from "node:net";
import { PassThrough, type Readable } from "node:stream";

export interface ClientRequest {
  tool: string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

/** One client call as a handler sees it. */
export interface Call {
  req: ClientRequest;
  out(data: string | Buffer): void;
  err(data: string | Buffer): void;
  /** The client's stdin; asks the client for it on first use (a command that never reads it never waits). */
  stdin(): Readable;
  /** Aborted when the client goes away (killed, timed out). */
  signal: AbortSignal;
}

export type CallHandler = (call: Call) => Promise<number>;

function frame(type: string, payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

function serveConnection(sock: Socket, handler: CallHandler): void {
  const abort = new AbortController();
  let buf: Buffer = Buffer.alloc(0);
  let started = false;
  let stdin: PassThrough | undefined;
  let finished = false;
  const send = (type: string, data: string | Buffer) => {
    if (finished || sock.destroyed) return;
    const payload = typeof data === "string" ? Buffer.from(data) : data;
    if (payload.length || type === "X" || type === "N") sock.write(frame(type, payload));
  };
  sock.on("error", () => {});
  sock.on("close", () => {
    abort.abort(new Error("client went away"));
    stdin?.end();
  });
  sock.on("data", (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1);
      if (buf.length < 5 + len) break;
      const type = String.fromCharCode(buf[0]!);
      const payload = buf.subarray(5, 5 + len);
      buf = buf.subarray(5 + len);
      if (type === "R" && !started) {
        started = true;
        const req = JSON.parse(payload.toString()) as ClientRequest;
        const call: Call = {
          req,
          out: (d) => send("O", d),
          err: (d) => send("e", d),
          stdin() {
            if (!stdin) {
              stdin = new PassThrough();
              if (sock.destroyed) stdin.end();
              else send("N", "");
            }
            return stdin;
          },
          signal: abort.signal,
        };
        handler(call).then(
          (code) => {
            send("X", String(code));
            finished = true;
            sock.end();
          },
          (e: unknown) => {
            send(
              "e",
              `kina-sim: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
            );
            send("X", "70");
            finished = true;
            sock.end();
          },
        );
      } else if (type === "I") {
        stdin?.write(Buffer.from(payload));
      } else if (type === "E") {
        stdin?.end();
      }
    }
  });
}

/** Listens on a unix socket path; `close()` also drops every open connection. */
export async function listenCalls(
  path: string,
  handler: CallHandler,
): Promise<{ server: Server; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
    serveConnection(s, handler);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
