// Small numeric helpers and the reading of probe files (bench/probe.mjs) onto this process's clock.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { CallRecord } from "../../test/sim/simulator.ts";

export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function min(xs: readonly number[]): number {
  return xs.length ? Math.min(...xs) : NaN;
}

export function max(xs: readonly number[]): number {
  return xs.length ? Math.max(...xs) : NaN;
}

export function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

export type Interval = [number, number];

/** Total length of the union of the intervals, each clipped to [from, to]. */
export function unionLength(intervals: readonly Interval[], from = -Infinity, to = Infinity): number {
  const v = intervals
    .map(([a, b]): Interval => [Math.max(a, from), Math.min(b, to)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let cur: Interval | undefined;
  for (const iv of v) {
    if (!cur || iv[0] > cur[1]) {
      if (cur) total += cur[1] - cur[0];
      cur = [iv[0], iv[1]];
    } else cur[1] = Math.max(cur[1], iv[1]);
  }
  if (cur) total += cur[1] - cur[0];
  return total;
}

/** A wall-clock epoch in ms (as the probe records it) on this process's performance.now() clock. */
export function toLocal(epochMs: number): number {
  return epochMs - performance.timeOrigin;
}

export interface ProbeLine {
  /** This process's performance.now() clock. */
  at: number;
  stream: string;
  text: string;
}

export interface Probe {
  /** Process start, this process's clock. */
  start: number;
  /** When the probe (the first preload) ran. */
  loaded: number;
  /** The 'exit' event. */
  exit: number;
  exitCode: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  maxRssKiB: number;
  lines: ProbeLine[];
  /** Child processes the step spawned, from the spawn call to 'close' (this process's clock). */
  children: ProbeChild[];
}

export interface ProbeChild {
  start: number;
  end: number;
  file: string;
  args: string[];
}

interface ProbeFile {
  timeOrigin: number;
  loadedAt: number;
  exitAt: number;
  exitCode: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  maxRssKiB: number;
  lines: Array<{ at: number; stream: string; text: string }>;
  children?: Array<{ start: number; end: number | null; file: string; args: string[] }>;
}

export function readProbe(dir: string, step: "main" | "post"): Probe | undefined {
  const file = join(dir, `${step}.json`);
  if (!existsSync(file)) return undefined;
  const p = JSON.parse(readFileSync(file, "utf8")) as ProbeFile;
  return {
    start: toLocal(p.timeOrigin),
    loaded: toLocal(p.loadedAt),
    exit: toLocal(p.exitAt),
    exitCode: p.exitCode,
    cpuUserMs: p.cpuUserMs,
    cpuSystemMs: p.cpuSystemMs,
    maxRssKiB: p.maxRssKiB,
    lines: p.lines.map((l) => ({ at: toLocal(l.at), stream: l.stream, text: l.text })),
    children: (p.children ?? []).map((c) => ({
      start: toLocal(c.start),
      // A child still running at exit (should not happen) counts until the exit.
      end: toLocal(c.end ?? p.exitAt),
      file: c.file,
      args: c.args,
    })),
  };
}

export function probeEnv(dir: string): Record<string, string> {
  return {
    NODE_OPTIONS: `--import=${new URL("../probe.mjs", import.meta.url).pathname}`,
    KINA_BENCH_PROBE: dir,
  };
}

export interface PhaseWindow {
  name: string;
  start: number;
  end: number;
  /** What the action itself printed: `<phase>: done in Ns`. */
  reportedS: number | undefined;
}

/** Phases from `::group::NAME` … `NAME: done in Ns` lines (a group without a done line ends at the next group). */
export function phaseWindows(p: Probe): PhaseWindow[] {
  const out: PhaseWindow[] = [];
  let open: PhaseWindow | undefined;
  for (const l of p.lines) {
    const g = /^::group::(.+)$/.exec(l.text);
    if (g) {
      if (open) out.push({ ...open, end: l.at });
      open = { name: g[1]!, start: l.at, end: NaN, reportedS: undefined };
      continue;
    }
    if (open && l.text.startsWith(`${open.name}: done in `)) {
      const s = Number(/done in ([0-9.]+)s/.exec(l.text)?.[1]);
      out.push({ ...open, end: l.at, reportedS: Number.isFinite(s) ? s : undefined });
      open = undefined;
    }
  }
  if (open) out.push({ ...open, end: p.exit });
  return out;
}

/** The time of the first line matching `re`, or NaN. */
export function lineAt(p: Probe, re: RegExp): number {
  return p.lines.find((l) => re.test(l.text))?.at ?? NaN;
}

/** `<tr><td>Phase</td><td>1.23</td></tr>` rows of the phase table in the job summary. */
export function summaryPhases(summary: string): Record<string, number> {
  const out: Record<string, number> = {};
  const table = /<th>Phase<\/th>[\s\S]*?<\/table>/.exec(summary)?.[0] ?? "";
  for (const m of table.matchAll(/<tr><td>([^<]+)<\/td><td>([0-9.]+)<\/td><\/tr>/g))
    out[m[1]!] = Number(m[2]);
  return out;
}

/** Calls made on the host (not from inside a node, not the root half of a sudo). */
export function hostCalls(calls: readonly CallRecord[]): CallRecord[] {
  return calls.filter((c) => !c.node && !c.via);
}

export const s = (ms: number, digits = 2): string =>
  Number.isFinite(ms) ? (ms / 1000).toFixed(digits) : "n/a";
export const msText = (ms: number): string => (Number.isFinite(ms) ? `${Math.round(ms)} ms` : "n/a");
