// Issue 12: runner names and leftovers. The README recommends `cluster-name: kina-${{ runner.name }}`,
// and typical runner names have capitals, spaces and dots; an ephemeral runner that died leaves a
// running node that blocks every later job of the same cluster name unless the user has a way out.
import { errors, runJob, runStep } from "../sim/runner.ts";
import { hostShell, type Simulator } from "../sim/simulator.ts";
import { DEFAULT_IMAGE, describe, expect, test, WARM } from "../fixtures/mac.ts";

describe("cluster-name: kina-${{ runner.name }}", () => {
  test.for([
    ["Mac-Studio-02", "kina-mac-studio-02"],
    // Characters replaced, not only lowercased: a hash of `kina-<runner>` keeps them distinct (tester
    // findings; before, `kina-build-mac-local` and `kina-mac-mini-3`).
    ["Build Mac.local", "kina-build-mac-local-c0b4da"],
    ["mac_mini_3", "kina-mac-mini-3-7225c3"],
  ])("runner %s works as written, as cluster %s", async ([runner, cluster], { mac }) => {
    const sim = await mac(WARM);
    const { main, post } = await runJob({
      sim,
      inputs: { "cluster-name": `kina-${runner}` },
      env: { RUNNER_NAME: runner! },
    });
    expect(errors(main.stdout), main.stdout.slice(-2000)).toEqual([]);
    expect(main.code).toBe(0);
    expect(main.outputs["cluster-name"]).toBe(cluster);
    expect(main.outputs.kubeconfig).toMatch(new RegExp(`/${cluster}\\.kubeconfig$`));
    expect(main.stdout).toContain(`cluster-name 'kina-${runner}' is used as '${cluster}'`);
    expect(post.code).toBe(0);
    expect(sim.containers()).toEqual([]);
  });
});

describe("runners whose names differ only in characters the name cannot keep", () => {
  test("mac_1 and mac.1 on one Mac get a cluster each, and kina-🚀 is not the default kina", async ({
    mac,
  }) => {
    const sim = await mac(WARM);
    const up = async (runner: string, cluster: string) => {
      const r = await runStep("main", {
        sim,
        inputs: { "cluster-name": `kina-${runner}` },
        env: { RUNNER_NAME: runner },
      });
      expect(errors(r.stdout), r.stdout.slice(-2000)).toEqual([]);
      expect(r.outputs["cluster-name"]).toBe(cluster);
      expect(r.stdout).toContain(
        `cluster-name 'kina-${runner}' is used as '${cluster}' (lowercase letters, digits, '-'; it ends in a hash of the name as given`,
      );
    };
    await up("mac_1", "kina-mac-1-c61ba8");
    await up("mac.1", "kina-mac-1-e2a50b");
    await up("🚀", "kina-ec7849");
    expect(
      sim
        .containers()
        .map((c) => `${c.name} ${c.state}`)
        .sort(),
    ).toEqual([
      "kina-ec7849-control-plane running",
      "kina-mac-1-c61ba8-control-plane running",
      "kina-mac-1-e2a50b-control-plane running",
    ]);
  });
});

const NODE = "kina-control-plane";
const HOUR = 3600_000;

/** A node left running by an ephemeral runner that died mid-job `ageMs` ago. */
async function leftover(sim: Simulator, ageMs: number) {
  const labels = {
    "io.kina.created-by": "kina-setup-cluster",
    "io.kina.cluster": "kina",
    "io.kina.role": "control-plane",
    "io.kina.runner": "ephemeral-7f3a",
    "io.kina.job": "o/r/41/1/e2e",
    "io.kina.created-at": new Date(Date.now() - ageMs).toISOString(),
  };
  const l = Object.entries(labels)
    .map(([k, v]) => `-l '${k}=${v}'`)
    .join(" ");
  const r = await hostShell(sim, `container run -d --name ${NODE} ${l} ${DEFAULT_IMAGE}`);
  expect(r.code, r.stderr).toBe(0);
}

describe("a running node left by an ephemeral runner that died", () => {
  test("is replaced once older than reclaim-after, with a notice saying whose it was", async ({ mac }) => {
    const sim = await mac(WARM);
    await leftover(sim, 7 * HOUR);
    const { main, post } = await runJob({
      sim,
      inputs: { "reclaim-after": "6h" },
      afterMain: () => expect(sim.node(NODE).spec.labels["io.kina.runner"]).toBe("kina-sim-runner"),
    });
    expect(errors(main.stdout), main.stdout.slice(-2000)).toEqual([]);
    expect(main.code).toBe(0);
    expect(main.stdout).toMatch(/::notice::.*ephemeral-7f3a.*older than reclaim-after \(6h\)/);
    expect(post.code).toBe(0);
  });

  test("is left alone while younger, and the error names the way out and its risk", async ({ mac }) => {
    const sim = await mac(WARM);
    await leftover(sim, 2 * HOUR);
    const r = await runStep("main", { sim, inputs: { "reclaim-after": "6h" } });
    expect(r.code).not.toBe(0);
    const [err] = errors(r.stdout);
    expect(err).toContain("ephemeral-7f3a");
    expect(err).toContain("reclaim-after");
    expect(sim.node(NODE).spec.labels["io.kina.runner"]).toBe("ephemeral-7f3a");
  });

  test("by default, only when older than the longest job a self-hosted runner can run", async ({ mac }) => {
    const sim = await mac(WARM);
    await leftover(sim, 7 * HOUR);
    const young = await runStep("main", { sim });
    expect(young.code).not.toBe(0);
    expect(errors(young.stdout)[0]).toContain("reclaim-after");
    const rm = await hostShell(sim, `container delete --force ${NODE}`);
    expect(rm.code).toBe(0);
    await leftover(sim, 121 * HOUR);
    const { main } = await runJob({ sim });
    expect(errors(main.stdout), main.stdout.slice(-2000)).toEqual([]);
    expect(main.code).toBe(0);
  });
});
