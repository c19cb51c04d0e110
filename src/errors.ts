// Everything the user reads about a failure: the error types the action throws and how they are turned
// into the one ::error:: line and into failure.txt of the diagnostics.
import { redact } from "./secrets.js";

/** An error that carries the phase it happened in, so the user reads where creation stopped. */
export class PhaseError extends Error {
  constructor(
    readonly phase: string,
    override readonly cause: unknown,
  ) {
    super(`${phase}: ${errorMessage(cause)}`);
    this.name = "PhaseError";
  }
}

/** A program that exited non-zero: its command line (program first), exit code and what it said. */
export class CommandError extends Error {
  constructor(
    readonly command: readonly string[],
    readonly code: number,
    readonly stderr: string,
    message?: string,
  ) {
    const said = lastLines(stderr, 3);
    super(message ?? `'${command.join(" ")}' exited ${code}${said ? `: ${said}` : ""}`);
    this.name = "CommandError";
  }
}

/** An operation that did not finish within its bound (src/container/bounds.ts, or a step's own). */
export class TimeoutError extends Error {
  constructor(
    /** How the user would spell it, e.g. "`container system status`". */
    readonly operation: string,
    readonly seconds: number,
    /** What to try, one sentence. */
    readonly fix: string,
    verb = "did not answer",
  ) {
    super(`${operation} ${verb} within ${seconds}s. ${fix}`);
    this.name = "TimeoutError";
  }
}

/** One step of a script run in the node failed: which one, its exit code and its own output. */
export class ScriptStepError extends CommandError {
  constructor(
    command: readonly string[],
    readonly step: string,
    readonly index: number,
    readonly total: number,
    code: number,
    readonly output: string,
  ) {
    const said = lastLines(output, 4);
    super(
      command,
      code,
      output,
      `step ${index} of ${total}, \`${oneLine(step, 120)}\`, failed (exit ${code})${said ? `: ${said}` : ""}`,
    );
    this.name = "ScriptStepError";
  }
}

/** The last `n` non-empty lines of `text`, joined with " | ". */
export function lastLines(text: string, n: number): string {
  return text
    .trim()
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join(" | ");
}

function oneLine(text: string, max: number): string {
  const t = text.replace(/\s*\n\s*/g, " ⏎ ").trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** The HTTP code and the Status message of a client-node ApiException, whose own message is a dump. */
export function apiStatus(err: unknown): { code: number; message: string } | undefined {
  const e = err as { code?: unknown; body?: unknown };
  if (typeof e?.code !== "number" || e.body === undefined) return undefined;
  let message = typeof e.body === "string" ? e.body : JSON.stringify(e.body);
  try {
    const status = (typeof e.body === "string" ? JSON.parse(e.body) : e.body) as { message?: string };
    if (status?.message) message = status.message;
  } catch {
    // not JSON: keep the raw body
  }
  return { code: e.code, message: message.slice(0, 500) };
}

export function errorMessage(err: unknown): string {
  const api = apiStatus(err);
  if (api) return `Kubernetes API answered HTTP ${api.code}: ${api.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** The chain of causes, outermost first. */
export function causes(error: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = error; e !== undefined && out.length < 10; e = (e as { cause?: unknown }).cause) {
    out.push(e);
    if (!(e instanceof Error)) break;
  }
  return out;
}

/** A Node system error's code (ECONNRESET, ENOENT…). */
export function systemCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * The one line for ::error::, credentials blanked. `fetch failed` alone explains nothing: the socket
 * error under it (ECONNREFUSED, ECONNRESET, …) is appended.
 */
export function failureMessage(error: unknown): string {
  let msg = errorMessage(error);
  const low = causes(error)
    .slice(1)
    .findLast((e) => e instanceof Error && systemCode(e));
  if (low instanceof Error && !msg.includes(low.message)) msg = `${msg} (${systemCode(low)}: ${low.message})`;
  return redact(msg.replace(/\s*\n\s*/g, " | "));
}

/** failure.txt: the step, the error, its causes and, for a failed command, its line, exit code and stderr. */
export function describeFailure(error: unknown): string {
  const chain = causes(error);
  const phase = chain.find((e): e is PhaseError => e instanceof PhaseError);
  const cause = phase ? phase.cause : error;
  const lines = [`failed step: ${phase?.phase ?? "unknown"}`, `error: ${errorMessage(cause)}`];
  for (const e of causes(cause).slice(1)) {
    const code = systemCode(e);
    lines.push(`caused by: ${e instanceof Error ? e.message : String(e)}${code ? ` (${code})` : ""}`);
  }
  const failed = chain.find((e): e is CommandError => e instanceof CommandError);
  if (failed) {
    lines.push(
      `command: ${failed.command.join(" ")}`,
      `exit code: ${failed.code}`,
      failed instanceof ScriptStepError ? "output:" : "stderr:",
      failed.stderr.trimEnd() || "(empty)",
    );
  }
  return redact(lines.join("\n") + "\n");
}
