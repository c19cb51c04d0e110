// The one way the action runs a process: bounded in time, cancellable, stdin given or closed (never a
// prompt), extra environment, and an optional echo of the command line and its output in the log, as
// @actions/exec prints them, with credentials blanked. @actions/exec cannot be aborted or timed out.
import { spawn, type ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";
import { redact } from "./secrets.js";

export interface RunOptions {
  /** Kill the process after this many milliseconds (SIGKILL); the result then says `timedOut`. */
  timeoutMs: number;
  /** Written to stdin, which is then closed. Without it stdin is closed at once. */
  input?: string | Buffer;
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Kills the process when aborted; the result then says `cancelled`. */
  signal?: AbortSignal;
  /** Print `[command]<line>` and stream the output to the log, redacted. */
  echo?: boolean;
  /** The command line to print instead of `cmd args…` (e.g. a shortened script). */
  display?: string;
  /** Keep at most this many bytes of each stream (default 16 MiB); the process is not stopped. */
  maxBuffer?: number;
}

export interface ProcessResult {
  /** Exit code; -1 when killed. */
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  cancelled: boolean;
  /** Wall time in milliseconds. */
  ms: number;
}

const DEFAULT_MAX_BUFFER = 16 * 1024 * 1024;
/** After SIGKILL, how long to wait for the pipes to close (a grandchild may hold them) before leaving. */
const CLOSE_GRACE_MS = 2_000;

const running = new Set<ChildProcess>();

/** Kills every process started here that still runs (the job was cancelled). */
export function killAll(): void {
  for (const p of running) p.kill("SIGKILL");
}

/** Quotes an argument for a readable command line (the log only; nothing is run through a shell). */
export function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Splits a stream into lines for the log, so redact() sees whole lines. */
function lineEcho(): { push(d: Buffer): void; flush(): void } {
  let pending = "";
  return {
    push(d) {
      pending += d.toString();
      const nl = pending.lastIndexOf("\n");
      if (nl < 0) return;
      process.stdout.write(redact(pending.slice(0, nl + 1)));
      pending = pending.slice(nl + 1);
    },
    flush() {
      if (pending) process.stdout.write(redact(pending) + "\n");
      pending = "";
    },
  };
}

interface Started {
  child: ChildProcess;
  result: Promise<ProcessResult>;
}

function start(cmd: string, args: string[], o: RunOptions, stdin: "input" | "pipe"): Started {
  const t0 = performance.now();
  if (o.echo)
    process.stdout.write(`[command]${redact(o.display ?? [cmd, ...args].map(quoteArg).join(" "))}\n`);
  const child = spawn(cmd, args, {
    stdio: ["pipe", "pipe", "pipe"],
    ...(o.env ? { env: { ...process.env, ...o.env } } : {}),
  });
  running.add(child);
  const result = new Promise<ProcessResult>((resolve, reject) => {
    const max = o.maxBuffer ?? DEFAULT_MAX_BUFFER;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    let cancelled = false;
    let settled = false;
    const echoOut = o.echo ? lineEcho() : undefined;
    const echoErr = o.echo ? lineEcho() : undefined;
    child.stdout!.on("data", (d: Buffer) => {
      if (outBytes < max) out.push(d);
      outBytes += d.length;
      echoOut?.push(d);
    });
    child.stderr!.on("data", (d: Buffer) => {
      if (errBytes < max) err.push(d);
      errBytes += d.length;
      echoErr?.push(d);
    });
    child.stdin!.on("error", () => undefined); // the process may exit without reading its input
    if (stdin === "input") child.stdin!.end(o.input ?? "");
    const kill = () => child.kill("SIGKILL");
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, o.timeoutMs);
    const onAbort = () => {
      cancelled = true;
      kill();
    };
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener("abort", onAbort, { once: true });
    let grace: NodeJS.Timeout | undefined;
    const finish = (code: number | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      o.signal?.removeEventListener("abort", onAbort);
      running.delete(child);
      echoOut?.flush();
      echoErr?.flush();
      resolve({
        code: timedOut || cancelled ? -1 : (code ?? -1),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        timedOut,
        cancelled,
        ms: performance.now() - t0,
      });
    };
    child.on("error", (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      running.delete(child);
      reject(e);
    });
    child.on("exit", (code) => {
      // Normally 'close' follows at once; a grandchild holding the pipes must not hold the action.
      grace = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code);
      }, CLOSE_GRACE_MS);
    });
    child.on("close", (code) => finish(code));
  });
  return { child, result };
}

/**
 * Runs `cmd args…` and collects its output. Resolves whatever the exit code; rejects only when the
 * program cannot be started (e.g. ENOENT: not on PATH).
 */
export function runProcess(cmd: string, args: string[], o: RunOptions): Promise<ProcessResult> {
  return start(cmd, args, o, "input").result;
}

/**
 * `first | second`: the first's stdout streamed into the second's stdin, both under the same bound and
 * signal. Resolves with both results once both ended.
 */
export async function runPipe(
  first: { cmd: string; args: string[] },
  second: { cmd: string; args: string[] },
  o: RunOptions,
): Promise<[ProcessResult, ProcessResult]> {
  const a = start(first.cmd, first.args, { ...o, echo: false, maxBuffer: 1 }, "input");
  const b = start(second.cmd, second.args, { ...o, echo: false }, "pipe");
  if (o.echo) {
    const line = [first, second].map((c) => [c.cmd, ...c.args].map(quoteArg).join(" ")).join(" | ");
    process.stdout.write(`[command]${redact(o.display ?? line)}\n`);
  }
  (a.child.stdout as Readable).pipe(b.child.stdin!);
  // If the reader fails, stop the writer rather than let it block on a full pipe.
  return Promise.all([
    a.result,
    b.result.then((r) => {
      if (r.code !== 0) a.child.kill("SIGKILL");
      return r;
    }),
  ]);
}
