// The per-user jobs folder: which other jobs of this action may be using the container service.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { jobsDir, otherJobs, register, unregister, withJobsLock } from "../src/jobs.js";
import { runnerId } from "../src/ownership.js";

let home: string;
const env = (name: string, extra: Record<string, string> = {}) => ({
  HOME: home,
  RUNNER_NAME: name,
  RUNNER_TEMP: `/Users/ci/${name}/_work/_temp`,
  GITHUB_REPOSITORY: "o/r",
  GITHUB_RUN_ID: "7",
  GITHUB_JOB: "e2e",
  ...extra,
});

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "kina-jobs-"));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

describe("registrations", () => {
  it("lists other live jobs, never this one, and forgets a job once unregistered", async () => {
    await register(env("a"));
    await register(env("b"));
    expect((await otherJobs(env("a"))).map((j) => j.runner)).toEqual(["b"]);
    expect(await otherJobs(env("b"))).toHaveLength(1);
    await unregister(env("b"));
    expect(await otherJobs(env("a"))).toEqual([]);
    expect(jobsDir(env("a"))).toBe(
      join(home, "Library", "Application Support", "io.kina.setup-cluster", "jobs"),
    );
  });

  it("expires a job whose runner worker has exited, and one registered more than 5 days ago", async () => {
    const dir = jobsDir(env("a"));
    await register(env("a"));
    // A pid that surely ran and ended.
    const gone = spawnSync("true").pid!;
    const reg = (name: string, pid: number, at: Date) =>
      writeFileSync(
        join(dir, `${runnerId(env(name))}.json`),
        JSON.stringify({
          runner: name,
          runnerId: runnerId(env(name)),
          job: "j",
          workerPid: pid,
          registeredAt: at.toISOString(),
        }),
      );
    reg("dead", gone, new Date());
    reg("old", process.pid, new Date(Date.now() - 6 * 24 * 3600_000));
    reg("live", process.pid, new Date());
    expect((await otherJobs(env("a"))).map((j) => j.runner)).toEqual(["live"]);
    expect(readdirSync(dir).sort()).toEqual(
      [`${runnerId(env("a"))}.json`, `${runnerId(env("live"))}.json`].sort(),
    );
  });

  it("runs one holder of the lock at a time, and frees it after a failure", async () => {
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const first = withJobsLock(env("a"), async () => {
      order.push("first in");
      entered();
      await held;
      order.push("first out");
    });
    // Asked only once the first holds the lock, so the order cannot depend on which mkdir ran first;
    // the second then waits for the first to leave.
    await inside;
    const second = withJobsLock(env("b"), async () => void order.push("second"));
    await new Promise((r) => setTimeout(r, 300));
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(["first in", "first out", "second"]);
    await expect(withJobsLock(env("a"), () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(existsSync(join(jobsDir(env("a")), ".lock"))).toBe(false);
  });
});
