// Runs the bundled action the way the GitHub runner does: node24 on dist/<step>/index.js with INPUT_*
// variables (defaults from action.yml), the file commands (GITHUB_OUTPUT, _ENV, _STATE, _PATH,
// _STEP_SUMMARY) in temp files, STATE_* for the post step, and the simulated macOS host on PATH.
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { NODE24, type Simulator } from "./simulator.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(HERE, "..", "..");
export const PRETEND_DARWIN = join(HERE, "pretend-darwin.mjs");
/** Where Apple's package installs the CLI; the simulator's installDir is mounted there for a step. */
export const USR_LOCAL_BIN = "/usr/local/bin";

export interface StepOptions {
  inputs?: Record<string, string>;
  sim?: Simulator;
  /** Extra environment (wins over everything else). */
  env?: Record<string, string>;
  /** STATE_* values for a post step (what main saved). */
  state?: Record<string, string>;
  /** Load pretend-darwin.mjs (default true). */
  preload?: boolean;
  timeoutMs?: number;
  /** Run this script instead of dist/<step>/index.js (for harness tests). */
  entry?: string;
  /** Copy the step's stdout/stderr to this process's as it runs. */
  echo?: boolean;
  /**
   * Cancel the step as the runner does: `signal` (default SIGINT) to the step's process alone, once
   * `when` (ms after the start, or a predicate polled every 20 ms) holds; SIGTERM 7.5 s later if it
   * still runs; 2.5 s after that, SIGKILL to its process group.
   */
  signalAfter?: { when: number | (() => boolean); signal?: NodeJS.Signals };
}

export interface StepResult {
  /** Exit code; null when killed (timeout); 128+n when the signalAfter cancellation killed it. */
  code: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  exportedEnv: Record<string, string>;
  state: Record<string, string>;
  /** Directories added with GITHUB_PATH, in the order added. */
  path: string[];
  summary: string;
  durationMs: number;
  /** With signalAfter: ms after the start when the first signal was sent (undefined: never sent). */
  signalledAtMs?: number;
}

/** `name=value` lines and `name<<DELIM` … `DELIM` blocks, as @actions/core writes them. */
export function parseFileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line) continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i]!);
      if (i >= lines.length) throw new Error(`unterminated heredoc for ${name} (delimiter ${delim})`);
      out[name!] = value.join("\n");
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`malformed file command line: ${line}`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** Input defaults from action.yml at the repository root ({} when it is absent). */
export function actionDefaults(actionYml = join(REPO_ROOT, "action.yml")): Record<string, string> {
  if (!existsSync(actionYml)) return {};
  const doc = parseYaml(readFileSync(actionYml, "utf8")) as {
    inputs?: Record<string, { default?: unknown }>;
  };
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(doc.inputs ?? {})) {
    if (spec?.default === undefined || spec.default === null) continue;
    const d = String(spec.default);
    out[name] = /^\$\{\{\s*github\.token\s*\}\}$/.test(d) ? "ghs_kinaSimToken" : d;
  }
  return out;
}

/** The runner's variable name for an input: upper case, spaces to underscores, hyphens kept. */
export function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, "_").toUpperCase()}`;
}

/** `::error::msg` and `::error file=…::msg` lines, unescaped (%0A → newline, …). */
export function errors(stdout: string): string[] {
  const out: string[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^::error(?: [^:]*)?::(.*)$/.exec(line);
    if (m) out.push(m[1]!.replace(/%0D/g, "\r").replace(/%0A/g, "\n").replace(/%25/g, "%"));
  }
  return out;
}

let runCounter = 0;
/** The GITHUB_RUN_ID of the main step that wrote each state (StepResult.state). */
const runOfState = new WeakMap<Record<string, string>, string>();

interface MountNamespace {
  pid: number;
  close(): Promise<void>;
}

/** A private mount namespace, held by a sleeping process, in which `dir` is bind-mounted at `at`. */
async function mountNamespace(dir: string, at: string): Promise<MountNamespace> {
  const holder = spawn(
    "/usr/bin/setpriv",
    [
      "--pdeathsig",
      "KILL",
      "/usr/bin/unshare",
      "--mount",
      "--propagation",
      "private",
      "/usr/bin/sleep",
      "infinity",
    ],
    { stdio: "ignore" },
  );
  await new Promise<void>((resolve, reject) => {
    holder.once("spawn", resolve);
    holder.once("error", reject);
  });
  const close = () =>
    new Promise<void>((resolve) => {
      if (holder.exitCode !== null || holder.signalCode !== null) return resolve();
      holder.once("exit", () => resolve());
      holder.kill("SIGKILL");
    });
  // unshare has to have left this process's mount namespace before it can be entered.
  const own = readlinkSync("/proc/self/ns/mnt");
  const deadline = Date.now() + 5000;
  for (;;) {
    let mnt = own;
    try {
      mnt = readlinkSync(`/proc/${holder.pid}/ns/mnt`);
    } catch {
      // not there yet
    }
    if (mnt !== own) break;
    if (Date.now() > deadline || holder.exitCode !== null) {
      await close();
      throw new Error("kina-sim: the step's mount namespace did not come up within 5 s");
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  const mount = spawnSync(
    "/usr/bin/nsenter",
    ["-t", String(holder.pid), "-m", "/usr/bin/mount", "--bind", dir, at],
    {
      encoding: "utf8",
      timeout: 10_000,
    },
  );
  if (mount.status !== 0) {
    await close();
    throw new Error(`kina-sim: could not mount ${dir} at ${at}: ${mount.stderr || mount.error?.message}`);
  }
  return { pid: holder.pid!, close };
}

export async function runStep(step: "main" | "post", o: StepOptions = {}): Promise<StepResult> {
  const work = mkdtempSync(join(o.sim?.runnerTemp ?? tmpdir(), `step-${step}-`));
  const files = {
    GITHUB_OUTPUT: join(work, "output"),
    GITHUB_ENV: join(work, "env"),
    GITHUB_STATE: join(work, "state"),
    GITHUB_STEP_SUMMARY: join(work, "summary"),
    GITHUB_PATH: join(work, "path"),
  };
  for (const f of Object.values(files)) writeFileSync(f, "");
  const workspace = join(work, "workspace");
  mkdirSync(workspace);
  const inputs = { ...actionDefaults(), ...o.inputs };
  const base: Record<string, string> = o.sim
    ? { ...o.sim.env }
    : {
        PATH: `${dirname(NODE24)}:/usr/local/bin:/usr/bin:/bin`,
        HOME: work,
        RUNNER_TEMP: work,
        RUNNER_TOOL_CACHE: join(work, "tool-cache"),
      };
  const env: Record<string, string> = {
    ...base,
    CI: "true",
    GITHUB_ACTIONS: "true",
    RUNNER_OS: "macOS",
    RUNNER_ARCH: "ARM64",
    RUNNER_NAME: "kina-sim-runner",
    RUNNER_ENVIRONMENT: "self-hosted",
    GITHUB_ACTION: "kina",
    GITHUB_ACTION_PATH: REPO_ROOT,
    GITHUB_ACTION_REPOSITORY: "kina/setup-cluster",
    // A post step given a main step's state is that job's post: the same run, as on the runner.
    GITHUB_RUN_ID: (o.state && runOfState.get(o.state)) ?? String(4_200_000 + ++runCounter),
    GITHUB_RUN_NUMBER: "1",
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_JOB: "e2e",
    GITHUB_WORKFLOW: "kina-sim",
    GITHUB_REPOSITORY: "kina/setup-cluster",
    GITHUB_REPOSITORY_OWNER: "kina",
    GITHUB_EVENT_NAME: "push",
    GITHUB_REF: "refs/heads/main",
    GITHUB_SHA: "0000000000000000000000000000000000000000",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_API_URL: "https://api.github.com",
    GITHUB_WORKSPACE: workspace,
    ...files,
  };
  for (const [k, v] of Object.entries(inputs)) env[inputEnvName(k)] = v;
  for (const [k, v] of Object.entries(o.state ?? {})) env[`STATE_${k}`] = v;
  Object.assign(env, o.env);

  const script = o.entry ?? join(REPO_ROOT, "dist", step, "index.js");
  let cmd = NODE24;
  let args = [...(o.preload === false ? [] : ["--import", PRETEND_DARWIN]), script];
  let ns: MountNamespace | undefined;
  if (o.sim) {
    // Apple's installer writes /usr/local/bin/container, and the action knows that path. The step
    // runs in a mount namespace of its own where the simulator's install folder is /usr/local/bin
    // (the machine's own stays untouched), and PATH names it so. nsenter execs node itself, so the
    // step keeps its pid and its environment (a shell would drop INPUT_POD-SUBNET and the like).
    ns = await mountNamespace(o.sim.installDir, USR_LOCAL_BIN);
    env.PATH = env
      .PATH!.split(":")
      .map((d) => (d === o.sim!.installDir ? USR_LOCAL_BIN : d))
      .join(":");
    args = ["-t", String(ns.pid), "-m", "--", NODE24, ...args];
    cmd = "/usr/bin/nsenter";
  }
  const started = performance.now();
  let signalledAtMs: number | undefined;
  const { code, timedOut, stdout, stderr } = await new Promise<{
    code: number | null;
    timedOut: boolean;
    stdout: string;
    stderr: string;
  }>((resolve, reject) => {
    const p = spawn(cmd, args, { env, cwd: workspace, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    let err = "";
    let timedOut = false;
    p.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (o.echo) process.stdout.write(d);
    });
    p.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      if (o.echo) process.stderr.write(d);
    });
    const timer =
      o.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            try {
              process.kill(-p.pid!, "SIGKILL");
            } catch {
              p.kill("SIGKILL");
            }
          }, o.timeoutMs);
    const cancelTimers: NodeJS.Timeout[] = [];
    if (o.signalAfter) {
      const { when, signal = "SIGINT" } = o.signalAfter;
      const killGroup = () => {
        try {
          process.kill(-p.pid!, "SIGKILL");
        } catch {
          // already gone
        }
      };
      const send = () => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        signalledAtMs = performance.now() - started;
        p.kill(signal);
        cancelTimers.push(
          setTimeout(() => {
            p.kill("SIGTERM");
            cancelTimers.push(setTimeout(killGroup, 2500));
          }, 7500),
        );
      };
      if (typeof when === "number") cancelTimers.push(setTimeout(send, when));
      else {
        const poll = setInterval(() => {
          if (p.exitCode !== null || p.signalCode !== null) return clearInterval(poll);
          if (when()) {
            clearInterval(poll);
            send();
          }
        }, 20);
        cancelTimers.push(poll);
      }
    }
    p.on("error", reject);
    p.on("close", (c, sig) => {
      clearTimeout(timer);
      for (const t of cancelTimers) clearTimeout(t);
      // Killed by the cancellation signal: 128+n, as a shell reports it.
      const signo: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
      const cancelled = sig && signalledAtMs !== undefined && !timedOut ? 128 + (signo[sig] ?? 0) : null;
      resolve({ code: c ?? cancelled, timedOut, stdout: out, stderr: err });
    });
  });
  const durationMs = performance.now() - started;
  await ns?.close();
  const read = (f: string) => readFileSync(f, "utf8");
  const result: StepResult = {
    code,
    timedOut,
    stdout,
    stderr,
    outputs: parseFileCommands(read(files.GITHUB_OUTPUT)),
    exportedEnv: parseFileCommands(read(files.GITHUB_ENV)),
    state: parseFileCommands(read(files.GITHUB_STATE)),
    path: read(files.GITHUB_PATH).split("\n").filter(Boolean),
    summary: read(files.GITHUB_STEP_SUMMARY),
    durationMs,
    ...(signalledAtMs !== undefined ? { signalledAtMs } : {}),
  };
  if (env.GITHUB_RUN_ID) runOfState.set(result.state, env.GITHUB_RUN_ID);
  rmSync(work, { recursive: true, force: true });
  return result;
}

/**
 * main, then post with main's state (post also runs when main failed, as `post-if: always()` does).
 * Like the runner, post sees main's GITHUB_ENV exports and GITHUB_PATH additions.
 */
export async function runJob(
  o: Omit<StepOptions, "state"> & {
    /** Runs between main and post (e.g. to read what main left on disk before post removes it). */
    afterMain?: (main: StepResult) => void | Promise<void>;
  } = {},
): Promise<{ main: StepResult; post: StepResult }> {
  const { afterMain, signalAfter, ...rest } = o;
  // One job: main and post share the run's identity, as on the runner.
  rest.env = { GITHUB_RUN_ID: String(4_200_000 + ++runCounter), ...rest.env };
  const main = await runStep("main", { ...rest, ...(signalAfter ? { signalAfter } : {}) });
  await afterMain?.(main);
  const basePath = o.env?.PATH ?? o.sim?.env.PATH ?? `${dirname(NODE24)}:/usr/local/bin:/usr/bin:/bin`;
  const path = [...main.path].reverse().concat(basePath).join(":");
  const post = await runStep("post", {
    ...rest,
    state: main.state,
    env: { ...main.exportedEnv, ...rest.env, PATH: path },
  });
  return { main, post };
}
