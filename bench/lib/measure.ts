// The measurements: each starts its own simulator (or plain node processes), bounds every wait, and
// stops what it started before it returns, also on failure.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { addCacheTools, startCacheServer, type CacheCounters } from "../../test/sim/cache-server.ts";
import { errors, REPO_ROOT, runJob, runStep, type StepResult } from "../../test/sim/runner.ts";
import type { TimelineEvent } from "../../test/sim/vm.ts";
import { chunkNames, cpuByOrigin } from "./cpuprofile.ts";
import {
  NODE24,
  startSimulator,
  type CallRecord,
  type Latency,
  type Simulator,
  type SimulatorOptions,
} from "../../test/sim/simulator.ts";
import {
  hostCalls,
  lineAt,
  median,
  phaseWindows,
  probeEnv,
  readProbe,
  summaryPhases,
  unionLength,
  type Interval,
  type Probe,
} from "./timing.ts";

/** A simulated Mac as a fresh self-hosted runner finds it: CLI 1.2.2 installed, service stopped, no kernel, no image. */
export const COLD_MAC: SimulatorOptions = {
  installedVersion: "1.2.2",
  serviceRunning: false,
  kernelInstalled: false,
};
const STEP_TIMEOUT_MS = 240_000;
const NODE = "kina-control-plane";

interface Timed {
  code: number | null;
  wallMs: number;
  stdout: string;
  timedOut: boolean;
}

/** Spawns a program (as @actions/exec does: no shell) and times it from spawn to close. */
function timedSpawn(
  cmd: string,
  args: string[],
  o: { env: Record<string, string>; cwd: string; timeoutMs: number },
): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { env: o.env, cwd: o.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let timedOut = false;
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.resume();
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill("SIGKILL");
    }, o.timeoutMs);
    p.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, wallMs: performance.now() - t0, stdout, timedOut });
    });
  });
}

// ---------------------------------------------------------------- cold load

export interface ColdLoad {
  reps: number;
  /** `node empty.mjs`: Node's own start and exit. */
  baselineMs: number[];
  /** `node dist/main/index.js` without inputs: it exits at input parsing. */
  mainMs: number[];
  /** The same with NODE_COMPILE_CACHE warm (a product option, not the default). */
  mainCompileCacheMs: number[];
  /** `node dist/post/index.js` without state: "Nothing to clean up." */
  postMs: number[];
  /** The largest lazily loaded chunk of dist/main, imported alone (read, decode, compile; nothing evaluated). */
  chunk: { file: string; mb: number; importMs: number[] } | undefined;
  mainExitedAtInputs: boolean;
  postExitedEarly: boolean;
}

export async function coldLoad(reps: number, work: string): Promise<ColdLoad> {
  const dir = mkdtempSync(join(work, "load-"));
  const empty = join(dir, "empty.mjs");
  writeFileSync(empty, "export {};\n");
  const cacheDir = join(dir, "compile-cache");
  const env = { PATH: "/usr/bin:/bin", HOME: dir, RUNNER_TEMP: dir };
  const run = (script: string, extra: Record<string, string> = {}) =>
    timedSpawn(NODE24, [script], { env: { ...env, ...extra }, cwd: dir, timeoutMs: 30_000 });
  const mainJs = join(REPO_ROOT, "dist", "main", "index.js");
  const postJs = join(REPO_ROOT, "dist", "post", "index.js");
  const chunks = readdirSync(dirname(mainJs))
    .filter((f) => /^\d+\.index\.js$/.test(f))
    .map((f) => ({ file: f, bytes: statSync(join(dirname(mainJs), f)).size }))
    .sort((a, b) => b.bytes - a.bytes);
  const biggest = chunks[0];
  const chunkEntry = join(dir, "chunk.mjs");
  if (biggest) {
    writeFileSync(
      chunkEntry,
      `const t = performance.now();\nawait import(${JSON.stringify(join(dirname(mainJs), biggest.file))});\n` +
        "console.log(performance.now() - t);\n",
    );
  }
  const out: ColdLoad = {
    reps,
    baselineMs: [],
    mainMs: [],
    mainCompileCacheMs: [],
    postMs: [],
    mainExitedAtInputs: true,
    postExitedEarly: true,
    chunk: biggest && { file: biggest.file, mb: biggest.bytes / 1e6, importMs: [] },
  };
  await run(mainJs, { NODE_COMPILE_CACHE: cacheDir }); // fills the compile cache
  // Interleaved, so a burst of load on this shared machine hits every variant alike.
  for (let i = 0; i < reps; i++) {
    out.baselineMs.push((await run(empty)).wallMs);
    const m = await run(mainJs);
    out.mainMs.push(m.wallMs);
    if (m.code !== 1 || !/^::error::inputs: /m.test(m.stdout)) out.mainExitedAtInputs = false;
    out.mainCompileCacheMs.push((await run(mainJs, { NODE_COMPILE_CACHE: cacheDir })).wallMs);
    const p = await run(postJs);
    out.postMs.push(p.wallMs);
    if (p.code !== 0 || !p.stdout.includes("Nothing to clean up.")) out.postExitedEarly = false;
    if (out.chunk) {
      const c = await run(chunkEntry);
      if (c.code === 0) out.chunk.importMs.push(Number(c.stdout.trim()));
    }
  }
  return out;
}

// ---------------------------------------------------------------- per-call cost of the simulator

export interface PerCall {
  calls: number;
  /** Spawn of the fake CLI until the host sees the request. */
  preMs: number;
  /** Host answer until the client process has exited and closed its pipes. */
  postMs: number;
  hostMs: number;
  totalMs: number;
}

/** Times trivial fake-CLI calls end to end and splits them at the host's record of each. */
export async function perCallCost(calls: number): Promise<PerCall> {
  const sim = await startSimulator(COLD_MAC);
  try {
    const pre: number[] = [];
    const post: number[] = [];
    const host: number[] = [];
    const total: number[] = [];
    for (let i = 0; i < calls; i++) {
      const [tool, ...args] = i % 2 ? ["container", "--version"] : ["sw_vers", "-productVersion"];
      const before = sim.calls.length;
      const t0 = performance.now();
      const r = await timedSpawn(join(tool === "container" ? sim.installDir : sim.binDir, tool!), args, {
        env: sim.env,
        cwd: sim.home,
        timeoutMs: 30_000,
      });
      const t1 = performance.now();
      const rec = sim.calls[before];
      if (r.code !== 0 || !rec) throw new Error(`${tool} ${args.join(" ")} failed (${r.code})`);
      pre.push(rec.start - t0);
      post.push(t1 - rec.end);
      host.push(rec.end - rec.start);
      total.push(t1 - t0);
    }
    return {
      calls,
      preMs: median(pre),
      postMs: median(post),
      hostMs: median(host),
      totalMs: median(total),
    };
  } finally {
    await sim.stop();
  }
}

// ---------------------------------------------------------------- one run of the action

export interface StepView {
  code: number | null;
  timedOut: boolean;
  /** As the runner sees it: spawn to close. */
  wallMs: number;
  errors: string[];
  probe: Probe | undefined;
  summaryPhases: Record<string, number>;
}

export interface JobRun {
  main: StepView;
  post: StepView | undefined;
  calls: CallRecord[];
  counters: Simulator["counters"];
  /** The simulated API server's event times (this process's clock). */
  apiTimes: Record<string, number>;
  /** The node's timeline (boot, kubeadm-init-start, …), this process's clock. */
  timeline: TimelineEvent[];
  state: Record<string, string>;
  outputs: Record<string, string>;
  /** Main's CPU self time by code origin, ms (profiled runs only). */
  cpuByOrigin?: Record<string, number> | undefined;
}

function view(r: StepResult, probeDir: string, step: "main" | "post"): StepView {
  return {
    code: r.code,
    timedOut: r.timedOut,
    wallMs: r.durationMs,
    errors: errors(r.stdout),
    probe: readProbe(probeDir, step),
    summaryPhases: summaryPhases(r.summary),
  };
}

function nodeRecords(
  sim: Simulator,
  name: string,
): { times: Record<string, number>; timeline: TimelineEvent[] } {
  try {
    const n = sim.node(name);
    return { times: { ...(n.api?.times ?? {}) }, timeline: [...n.timeline] };
  } catch {
    return { times: {}, timeline: [] }; // no node was created
  }
}

/**
 * Runs the bundled action on a fresh simulated Mac: main alone, or main then post (as the runner does),
 * with the probe preloaded. `prepare` may adjust the simulator (cache tools) before the job.
 */
export async function runAction(o: {
  work: string;
  sim: SimulatorOptions;
  post: boolean;
  env?: Record<string, string>;
  prepare?: (sim: Simulator) => void;
  /** Profile main's CPU (node --cpu-prof); slows it down, so not for timing. */
  cpuProfile?: boolean;
}): Promise<JobRun> {
  const sim = await startSimulator(o.sim);
  try {
    o.prepare?.(sim);
    const probeDir = mkdtempSync(join(o.work, "probe-"));
    const profDir = join(probeDir, "cpu");
    const env = { ...o.env, ...probeEnv(probeDir) };
    if (o.cpuProfile) env.NODE_OPTIONS += ` --cpu-prof --cpu-prof-dir=${profDir}`;
    let main: StepResult;
    let post: StepResult | undefined;
    if (o.post) ({ main, post } = await runJob({ sim, env, timeoutMs: STEP_TIMEOUT_MS }));
    else main = await runStep("main", { sim, env, timeoutMs: STEP_TIMEOUT_MS });
    const node = nodeRecords(sim, main.state.node || NODE);
    return {
      main: view(main, probeDir, "main"),
      post: post && view(post, probeDir, "post"),
      calls: [...sim.calls],
      counters: { ...sim.counters },
      apiTimes: node.times,
      timeline: node.timeline,
      ...(o.cpuProfile && existsSync(profDir)
        ? { cpuByOrigin: cpuByOrigin(profDir, chunkNames(join(REPO_ROOT, "dist", "main"))) }
        : {}),
      state: main.state,
      outputs: main.outputs,
    };
  } finally {
    await sim.stop();
  }
}

export function failed(r: JobRun): string | undefined {
  const bad = (name: string, v: StepView | undefined) =>
    v && (v.code !== 0 || v.timedOut)
      ? `${name} exited ${v.code}${v.timedOut ? " (timed out)" : ""}: ${v.errors.join(" | ") || "no error line"}`
      : undefined;
  return (
    bad("main", r.main) ?? bad("post", r.post) ?? (r.main.probe ? undefined : "main wrote no probe file")
  );
}

// ---------------------------------------------------------------- analysis of one step

export interface Segment {
  name: string;
  wallMs: number;
  /** Seconds the action itself reported for the phase. */
  reportedS?: number;
  calls: number;
  /** Time inside CLI calls (union, client cost included). */
  cliMs: number;
  /** The rest: the action's own work and its waits on the simulated cluster. */
  ownMs: number;
}

export interface StepAnalysis {
  wallMs: number;
  /** Child processes the step spawned (the fake CLIs). */
  calls: number;
  /** Calls made from inside the node during those (kubeadm, systemctl, …). */
  nodeCalls: number;
  /** Host time answering the step's host-level calls (the simulated machinery: VM exec, in-node tools). */
  hostMs: number;
  /** Per child: spawn → the host has the request, and the host's answer → 'close' (the fake CLI's own cost). */
  clientPreMs: number[];
  clientPostMs: number[];
  /** Time with at least one child process running (union). */
  cliMs: number;
  /** wall − cliMs: Node start, bundle load, the action's own work and its waits on the simulated API. */
  ownMs: number;
  cpuMs: number;
  maxRssMiB: number;
  segments: Segment[];
  /** Start of the step's first phase minus process start: Node start, bundle load, inputs. */
  startupMs: number;
}

/** Splits a step's wall time into time spent in child processes and the action's own time, per phase. */
export function analyzeStep(v: StepView, allCalls: readonly CallRecord[]): StepAnalysis | undefined {
  const p = v.probe;
  if (!p) return undefined;
  const calls = allCalls.filter((c) => c.start >= p.start && c.start <= p.exit);
  const host = hostCalls(calls);
  const ivs = p.children.map((c): Interval => [c.start, c.end]);
  // Each child's host record: the first host call of that tool that began while it ran.
  const pre: number[] = [];
  const post: number[] = [];
  const used = new Set<CallRecord>();
  for (const c of p.children) {
    const tool = basename(c.file);
    const rec = host.find((h) => !used.has(h) && h.tool === tool && h.start >= c.start && h.start <= c.end);
    if (!rec) continue;
    used.add(rec);
    pre.push(rec.start - c.start);
    post.push(c.end - rec.end);
  }
  const cliMs = unionLength(ivs, p.start, p.exit);
  const seg = (name: string, from: number, to: number, reportedS?: number): Segment => {
    const cli = unionLength(ivs, from, to);
    return {
      name,
      wallMs: to - from,
      ...(reportedS !== undefined ? { reportedS } : {}),
      calls: p.children.filter((c) => c.start >= from && c.start < to).length,
      cliMs: cli,
      ownMs: to - from - cli,
    };
  };
  const phases = phaseWindows(p);
  const segments: Segment[] = [];
  let cursor = p.start;
  const first = phases[0];
  segments.push(seg("(process start, bundle load, inputs)", p.start, first ? first.start : p.exit));
  for (const ph of phases) {
    if (ph.start - cursor > 20 && cursor !== p.start)
      segments.push(seg(`(between phases, before ${ph.name})`, cursor, ph.start));
    segments.push(seg(ph.name, ph.start, ph.end, ph.reportedS));
    cursor = ph.end;
  }
  if (first) segments.push(seg("(after the last phase, until exit)", cursor, p.exit));
  return {
    wallMs: v.wallMs,
    calls: p.children.length,
    nodeCalls: calls.filter((c) => c.node).length,
    hostMs: host.reduce((a, c) => a + (c.end - c.start), 0),
    clientPreMs: pre,
    clientPostMs: post,
    cliMs,
    ownMs: v.wallMs - cliMs,
    cpuMs: p.cpuUserMs + p.cpuSystemMs,
    maxRssMiB: p.maxRssKiB / 1024,
    segments,
    startupMs: first ? first.start - p.start : NaN,
  };
}

// ---------------------------------------------------------------- readiness detection

export interface Readiness {
  /** ms from the simulated event to the action's line or exit (negative: impossible, would be a clock error). */
  nodeReadyToLineMs: number;
  corednsToLineMs: number;
  certToLineMs: number;
  /** The approver: kubelet CSR created → approved. */
  csrApproveMs: number;
  /** max(node Ready, CoreDNS available) → `Readiness: done`. */
  detectMs: number;
  /** The same → process exit. */
  exitMs: number;
  /** True when the readiness phase was already waiting when the cluster turned ready. */
  waiting: boolean;
  readinessPhaseMs: number;
}

export function analyzeReadiness(r: JobRun): Readiness | undefined {
  const p = r.main.probe;
  const t = r.apiTimes;
  if (!p || t.nodeReady === undefined || t.corednsReady === undefined) return undefined;
  const ready = Math.max(t.nodeReady, t.corednsReady);
  const phase = phaseWindows(p).find((w) => w.name === "Readiness");
  const done = phase?.end ?? NaN;
  return {
    nodeReadyToLineMs: lineAt(p, /^node Ready after /) - t.nodeReady,
    corednsToLineMs: lineAt(p, /^CoreDNS available after /) - t.corednsReady,
    certToLineMs:
      t.certIssued === undefined
        ? NaN
        : lineAt(p, /^kubelet serving certificate issued after /) - t.certIssued,
    csrApproveMs:
      t.csrApproved === undefined || t.csrCreated === undefined ? NaN : t.csrApproved - t.csrCreated,
    detectMs: done - ready,
    exitMs: p.exit - ready,
    waiting: phase !== undefined && phase.start < ready,
    readinessPhaseMs: phase ? phase.end - phase.start : NaN,
  };
}

// ---------------------------------------------------------------- modeled operations

export interface LatencySpan {
  key: keyof Latency;
  /** When the simulator applied the (scaled) latency, this process's clock. */
  interval: Interval;
}

/**
 * Where the simulator applied each latency in a run, from its own records: the calls that sleep (from
 * their start, when they lasted at least that long), the node's timeline marks and the API server's
 * times. Overlapping spans are operations the action ran concurrently.
 */
export function latencySpans(r: JobRun, scaled: Latency): LatencySpan[] {
  const out: LatencySpan[] = [];
  const add = (key: keyof Latency, from: number) => out.push({ key, interval: [from, from + scaled[key]] });
  const slept = (c: CallRecord, key: keyof Latency) => c.end - c.start >= 0.9 * scaled[key];
  for (const c of r.calls) {
    const verb = c.argv.find((a) => !a.startsWith("-")) ?? "";
    if (!c.node && !c.via && c.tool === "container") {
      if (c.argv[0] === "system" && c.argv[1] === "start" && slept(c, "serviceStartMs"))
        add("serviceStartMs", c.start);
      if (
        c.argv[0] === "system" &&
        c.argv[1] === "kernel" &&
        c.argv[2] === "set" &&
        slept(c, "kernelDownloadMs")
      )
        add("kernelDownloadMs", c.start);
      if (c.argv[0] === "image" && c.argv[1] === "pull" && slept(c, "pullMs")) add("pullMs", c.start);
    }
    if (c.node && c.tool === "systemctl" && /^(re)?start$/.test(verb) && slept(c, "serviceStartMs"))
      add("serviceStartMs", c.start);
  }
  for (const e of r.timeline) {
    if (e.event === "boot") add("bootMs", e.at);
    if (e.event === "kubeadm-init-start") add("kubeadmInitMs", e.at);
  }
  if (r.apiTimes.nodeReady !== undefined) add("nodeReadyMs", r.apiTimes.nodeReady - scaled.nodeReadyMs);
  if (r.apiTimes.corednsReady !== undefined) add("corednsMs", r.apiTimes.corednsReady - scaled.corednsMs);
  return out.sort((a, b) => a.interval[0] - b.interval[0]);
}

export interface SpanGroup {
  keys: Array<keyof Latency>;
  /** Scaled start of the group's first span (this process's clock). */
  start: number;
  /** The group's length at full latencies. */
  fullMs: number;
}

/**
 * The latency on the action's critical path at full scale. Spans that overlap substantially (more than
 * 10% of the later one) ran concurrently and form a group; a group lasts, at full scale, as long as its
 * longest member counted from the group's start, the members' start offsets kept as measured (they
 * are the action's own steps between them, which do not scale). Groups that follow one another add up.
 */
export function criticalPath(
  spans: readonly LatencySpan[],
  full: Latency,
): { ms: number; groups: SpanGroup[] } {
  const groups: Array<SpanGroup & { end: number; members: LatencySpan[] }> = [];
  for (const sp of [...spans].sort((a, b) => a.interval[0] - b.interval[0])) {
    const [a, b] = sp.interval;
    const g = groups.at(-1);
    const overlap = g ? Math.min(b, g.end) - a : -1;
    if (g && overlap > 0.1 * (b - a)) {
      g.members.push(sp);
      g.keys.push(sp.key);
      g.end = Math.max(g.end, b);
    } else groups.push({ keys: [sp.key], start: a, end: b, fullMs: 0, members: [sp] });
  }
  for (const g of groups) g.fullMs = Math.max(...g.members.map((m) => m.interval[0] - g.start + full[m.key]));
  return {
    ms: groups.reduce((t, g) => t + g.fullMs, 0),
    groups: groups.map(({ keys, start, fullMs }) => ({ keys, start, fullMs })),
  };
}

// ---------------------------------------------------------------- cold and warm cache

export interface CacheSide {
  run: JobRun;
  cache: CacheCounters;
}

/** A cold job, then a warm one on another fresh Mac (empty app root) sharing the loopback Actions cache. */
export async function cacheColdWarm(work: string): Promise<{ cold: CacheSide; warm: CacheSide }> {
  const cache = await startCacheServer();
  try {
    // The cache version hashes the cached paths, which live under RUNNER_TEMP: the same path for both jobs.
    const temp = join(work, "cache-runner-temp");
    mkdirSync(temp, { recursive: true });
    const env = { ...cache.env, RUNNER_TEMP: temp };
    const side = async (): Promise<CacheSide> => {
      const before = { ...cache.counters };
      const run = await runAction({
        work,
        sim: COLD_MAC,
        post: true,
        env,
        prepare: (s) => addCacheTools(s.binDir),
      });
      const after = cache.counters;
      const delta = {} as CacheCounters;
      for (const k of Object.keys(after) as Array<keyof CacheCounters>) delta[k] = after[k] - before[k];
      return { run, cache: delta };
    };
    const cold = await side();
    const warm = await side();
    return { cold, warm };
  } finally {
    await cache.close();
  }
}
