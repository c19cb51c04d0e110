// Preload for the action's own process (NODE_OPTIONS=--import=…/probe.mjs, KINA_BENCH_PROBE=<dir>):
// stamps every stdout/stderr line with the wall clock (performance.timeOrigin + now, in ms, so the
// bench can map it onto its own performance.now()), and at exit writes the lines, the CPU time and
// the peak RSS to <dir>/<step>.json (step: main or post, from the script's folder). It also records
// each child process the action spawns (child_process.spawn, which @actions/exec uses), from the spawn
// call to its 'close'. It clears NODE_OPTIONS first, so the fake CLIs the action spawns run exactly
// as without it.
import childProcess from "node:child_process";
import { writeFileSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { basename, dirname, join } from "node:path";

const out = process.env.KINA_BENCH_PROBE;
delete process.env.KINA_BENCH_PROBE;
// The bench sets NODE_OPTIONS for this process only (the probe, maybe --cpu-prof); children get none.
delete process.env.NODE_OPTIONS;

if (out) {
  const epoch = () => performance.timeOrigin + performance.now();
  const loadedAt = epoch();
  const lines = [];
  const partial = { stdout: "", stderr: "" };
  const MAX_LINES = 5000;
  const tap = (name) => {
    const stream = process[name];
    const write = stream.write.bind(stream);
    stream.write = (chunk, ...rest) => {
      const at = epoch();
      const text = partial[name] + (typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
      const parts = text.split("\n");
      partial[name] = parts.pop() ?? "";
      for (const line of parts) {
        if (lines.length < MAX_LINES) lines.push({ at, stream: name, text: line.slice(0, 300) });
      }
      return write(chunk, ...rest);
    };
  };
  tap("stdout");
  tap("stderr");
  const children = [];
  const spawn = childProcess.spawn;
  childProcess.spawn = function (file, args, ...rest) {
    const rec = {
      start: epoch(),
      end: NaN,
      file: String(file),
      args: Array.isArray(args) ? args.slice(0, 3).map((a) => String(a).slice(0, 60)) : [],
    };
    children.push(rec);
    const child = spawn.call(this, file, args, ...rest);
    child.once("close", () => (rec.end = epoch()));
    return child;
  };
  syncBuiltinESMExports();
  process.once("exit", (code) => {
    const cpu = process.cpuUsage();
    const doc = {
      pid: process.pid,
      script: process.argv[1] ?? "",
      timeOrigin: performance.timeOrigin,
      loadedAt,
      exitAt: epoch(),
      exitCode: code,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      maxRssKiB: process.resourceUsage().maxRSS,
      lines,
      children,
    };
    try {
      const step = basename(dirname(process.argv[1] ?? "")) || "script";
      writeFileSync(join(out, `${step}.json`), JSON.stringify(doc));
    } catch {
      // The bench reports a missing probe file; the action's exit code stays its own.
    }
  });
}
