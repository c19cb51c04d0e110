// Which jobs of this action use the container service of this user right now. The service is per
// user, and `container system stop` stops every container of the user and breaks every job that is
// pulling or starting one, so a post step stops the service only when no other job is registered.
import * as core from "@actions/core";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { sleep } from "./backoff.js";
import { OTHER_BOUNDS } from "./bounds.js";
import { jobLabel, runnerId, runnerName } from "./ownership.js";

/** A self-hosted job may run for up to 5 days (GitHub's "Usage limits" for self-hosted runners). */
const MAX_JOB_MS = 5 * 24 * 3600_000;
const LOCK_MS = OTHER_BOUNDS.jobsLock.seconds * 1000;

export interface Registration {
  runner: string;
  runnerId: string;
  job: string;
  /** The runner's worker process, which lives from the job's start until after its post steps. */
  workerPid: number;
  /** ISO 8601. */
  registeredAt: string;
}

/**
 * `~/Library/Application Support/io.kina.setup-cluster/jobs`: per user like the service, next to its
 * app root (`~/Library/Application Support/com.apple.container`).
 */
export function jobsDir(env: NodeJS.ProcessEnv): string {
  return path.join(
    env.HOME || os.homedir(),
    "Library",
    "Application Support",
    "io.kina.setup-cluster",
    "jobs",
  );
}

const fileOf = (dir: string, env: NodeJS.ProcessEnv) => path.join(dir, `${runnerId(env)}.json`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Runs `fn` holding the folder's lock (an atomic mkdir). Waits at most OTHER_BOUNDS.jobsLock for it; a
 * lock older than that is left over by a killed step and is taken over.
 */
export async function withJobsLock<T>(env: NodeJS.ProcessEnv, fn: () => Promise<T>): Promise<T> {
  const dir = jobsDir(env);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const lock = path.join(dir, ".lock");
  const deadline = Date.now() + LOCK_MS;
  for (;;) {
    try {
      await fs.mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const since = await fs.stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (since > LOCK_MS || Date.now() > deadline) {
        // Its holder was killed (a post step holds it for one `system stop` at most).
        core.info(`Taking over ${lock}: held for more than ${OTHER_BOUNDS.jobsLock.seconds}s.`);
        await fs.rm(lock, { recursive: true, force: true });
        continue;
      }
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}

/** Registers this job (one file per runner install: a runner runs one job at a time). */
export async function register(env: NodeJS.ProcessEnv, now = Date.now()): Promise<void> {
  const r: Registration = {
    runner: runnerName(env),
    runnerId: runnerId(env),
    job: jobLabel(env),
    workerPid: process.ppid,
    registeredAt: new Date(now).toISOString(),
  };
  await withJobsLock(env, () => fs.writeFile(fileOf(jobsDir(env), env), JSON.stringify(r), { mode: 0o600 }));
}

/** Removes this job's registration; none is fine. */
export async function unregister(env: NodeJS.ProcessEnv): Promise<void> {
  await fs.rm(fileOf(jobsDir(env), env), { force: true });
}

/**
 * Other jobs registered and alive (their runner's worker process runs, registered less than 5 days
 * ago); expired registrations are removed. Call it holding the lock.
 */
export async function otherJobs(env: NodeJS.ProcessEnv, now = Date.now()): Promise<Registration[]> {
  const dir = jobsDir(env);
  const mine = path.basename(fileOf(dir, env));
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const out: Registration[] = [];
  for (const name of names) {
    if (!name.endsWith(".json") || name === mine) continue;
    const file = path.join(dir, name);
    let r: Partial<Registration> = {};
    try {
      r = JSON.parse(await fs.readFile(file, "utf8")) as Partial<Registration>;
    } catch {
      // Unreadable or half-written: judged by its age alone.
    }
    const at = Date.parse(r.registeredAt ?? "");
    const age = Number.isFinite(at)
      ? now - at
      : now -
        (await fs.stat(file).then(
          (s) => s.mtimeMs,
          () => 0,
        ));
    const live = age < MAX_JOB_MS && (typeof r.workerPid !== "number" || alive(r.workerPid));
    if (live)
      out.push({ runner: "?", runnerId: name.slice(0, -5), job: "?", workerPid: 0, registeredAt: "", ...r });
    else await fs.rm(file, { force: true });
  }
  return out;
}
