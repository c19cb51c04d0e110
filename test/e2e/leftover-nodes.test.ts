// Tester findings on multi-node leftovers: clearing a stale or reclaimed cluster considers every
// container labelled with this action and this cluster (not only the names this job will create), and
// either removes all of them or refuses the whole cluster when any node is busy or foreign, before any
// VM of this job boots. The refusal names every node in one command that works as written.
import { errors, runJob, runStep } from "../sim/runner.ts";
import { hostShell, type Simulator } from "../sim/simulator.ts";
import { DEFAULT_IMAGE, describe, expect, test, WARM } from "../fixtures/mac.ts";

const CP = "kina-control-plane";
const W1 = "kina-worker-1";
const W2 = "kina-worker-2";
const HOUR = 3600_000;

/** A node of cluster kina left running by runner `runner` (another runner: no runner-id of ours). */
async function leftover(
  sim: Simulator,
  name: string,
  o: { ageMs: number; runner?: string; role?: string; labels?: Record<string, string> },
) {
  const labels = o.labels ?? {
    "io.kina.created-by": "kina-setup-cluster",
    "io.kina.cluster": "kina",
    "io.kina.role": o.role ?? (name === CP ? "control-plane" : "worker"),
    "io.kina.runner": o.runner ?? "ephemeral-7f3a",
    "io.kina.runner-id": "0123456789abcdef",
    "io.kina.job": "o/r/41/1/e2e",
    "io.kina.created-at": new Date(Date.now() - o.ageMs).toISOString(),
  };
  const l = Object.entries(labels)
    .map(([k, v]) => `-l '${k}=${v}'`)
    .join(" ");
  const r = await hostShell(sim, `container run -d --name ${name} ${l} ${DEFAULT_IMAGE}`);
  expect(r.code, r.stderr).toBe(0);
}

const names = (sim: Simulator) => sim.containers().map((c) => `${c.name} ${c.state}`);
const runs = (sim: Simulator, from: number) =>
  sim.calls.slice(from).filter((c) => c.tool === "container" && c.argv[0] === "run");
const deletes = (sim: Simulator, from: number) =>
  sim.calls.slice(from).filter((c) => c.tool === "container" && ["delete", "rm"].includes(c.argv[0] ?? ""));

describe("leftover workers are removed with their cluster", () => {
  test("same runner: a workers: 1 job removes the earlier workers: 2 job's kina-worker-2 too", async ({
    mac,
  }) => {
    const sim = await mac(WARM);
    const a = await runJob({ sim, inputs: { workers: "2", cleanup: "false" }, timeoutMs: 180_000 });
    expect(a.main.code, a.main.stdout.slice(-2000)).toBe(0);
    expect(names(sim).sort()).toEqual([`${CP} running`, `${W1} running`, `${W2} running`]);

    const b = await runJob({
      sim,
      inputs: { workers: "1" },
      timeoutMs: 180_000,
      afterMain: () => expect(names(sim).sort()).toEqual([`${CP} running`, `${W1} running`]),
    });
    expect(errors(b.main.stdout), b.main.stdout.slice(-2000)).toEqual([]);
    expect(b.main.code).toBe(0);
    for (const n of [CP, W1, W2])
      expect(b.main.stdout).toMatch(
        new RegExp(`::notice::Removing ${n} \\(running\\) left by an earlier job`),
      );
    expect(b.post.code).toBe(0);
    expect(sim.containers()).toEqual([]);
  });

  test("reclaim-after: a workers: 0 job reclaims a dead runner's control plane and both its workers", async ({
    mac,
  }) => {
    const sim = await mac(WARM);
    for (const n of [CP, W1, W2]) await leftover(sim, n, { ageMs: 7 * HOUR });
    const { main, post } = await runJob({
      sim,
      inputs: { workers: "0", "reclaim-after": "6h" },
      afterMain: () => {
        expect(names(sim)).toEqual([`${CP} running`]);
        expect(sim.node(CP).spec.labels["io.kina.runner"]).toBe("kina-sim-runner");
      },
    });
    expect(errors(main.stdout), main.stdout.slice(-2000)).toEqual([]);
    expect(main.code).toBe(0);
    for (const n of [CP, W1, W2])
      expect(main.stdout).toMatch(
        new RegExp(
          `::notice::Removing ${n} \\(running, job o/r/41/1/e2e on runner ephemeral-7f3a, created 7\\.0h ago\\): it is older than reclaim-after \\(6h\\)`,
        ),
      );
    expect(post.code).toBe(0);
    expect(sim.containers()).toEqual([]);
  });
});

describe("a cluster with a busy node is refused whole, before any VM of this job", () => {
  test("the error names every node in one command; following it, the next job works", async ({ mac }) => {
    const sim = await mac(WARM);
    // Another runner's cluster, up for an hour: its control plane stopped (stale on its own), its
    // workers running (busy). Nothing of it may go, not even the stopped node.
    for (const n of [CP, W1, W2]) await leftover(sim, n, { ageMs: HOUR, runner: "mac-b" });
    const stop = await hostShell(sim, `container stop ${CP}`);
    expect(stop.code, stop.stderr).toBe(0);
    const before = sim.calls.length;
    const r = await runStep("main", { sim, inputs: { workers: "0", "reclaim-after": "6h" } });
    expect(r.code).not.toBe(0);
    const errs = errors(r.stdout);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^Node VM: cluster kina is running for runner mac-b \(job o\/r\/41\/1\/e2e\)/);
    const cmd = /'(container delete --force [^']+)'/.exec(errs[0]!)?.[1];
    expect(cmd).toBe(`container delete --force ${CP} ${W1} ${W2}`);
    expect(runs(sim, before)).toEqual([]);
    expect(deletes(sim, before)).toEqual([]);
    expect(names(sim).sort()).toEqual([`${CP} stopped`, `${W1} running`, `${W2} running`]);

    const rm = await hostShell(sim, cmd!);
    expect(rm.code, rm.stderr).toBe(0);
    const { main, post } = await runJob({ sim, inputs: { workers: "0" } });
    expect(errors(main.stdout), main.stdout.slice(-2000)).toEqual([]);
    expect(post.code).toBe(0);
    expect(sim.containers()).toEqual([]);
  });

  test.for([
    [
      "another runner's running worker",
      { ageMs: HOUR, runner: "mac-b" },
      /cluster kina is running for runner mac-b/,
    ],
    [
      "a container named like a worker that the action did not make",
      { ageMs: HOUR, labels: { app: "mine" } },
      /a container named kina-worker-1 exists and was not created by this action for cluster kina/,
    ],
  ] as const)("only %s blocks: refused before the control plane boots", async ([, o, message], { mac }) => {
    const sim = await mac(WARM);
    await leftover(sim, W1, o);
    const before = sim.calls.length;
    const r = await runStep("main", { sim, inputs: { workers: "1" } });
    expect(r.code).not.toBe(0);
    const errs = errors(r.stdout);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^Node VMs: /);
    expect(errs[0]).toMatch(message);
    expect(errs[0]).toContain(`'container delete --force ${W1}'`);
    expect(runs(sim, before)).toEqual([]);
    expect(deletes(sim, before)).toEqual([]);
    expect(r.state.node).toBeUndefined();
    expect(names(sim)).toEqual([`${W1} running`]);
  });
});
