// Shared-Mac safety (follow-ups to issues 11 and 12): who owns a node, and who may stop the service.
// Each test is a way a job on a Mac shared by several runners harmed another one before.
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { startDownloadServer } from "../sim/download-server.ts";
import { errors, runJob, runStep } from "../sim/runner.ts";
import { hostShell, type Simulator } from "../sim/simulator.ts";
import { DEFAULT_IMAGE, describe, expect, test, WARM } from "../fixtures/mac.ts";

const NODE = "kina-control-plane";

/** A host with a kernel and the default image whose container service is down (a job starts it). */
const COLD_SERVICE = { kernelInstalled: true, images: [DEFAULT_IMAGE] };

const systemStops = (sim: Simulator, from = 0) =>
  sim.calls
    .slice(from)
    .filter((c) => c.tool === "container" && c.argv[0] === "system" && c.argv[1] === "stop");
const installerCalls = (sim: Simulator, from = 0) =>
  sim.calls
    .slice(from)
    .filter((c) => c.tool === "installer" || (c.tool === "sudo" && c.argv.includes("installer")));

/** Another runner install on this Mac: its own work folder (RUNNER_TEMP), the same RUNNER_NAME by default. */
function twinRunner(sim: Simulator, name = "kina-sim-runner"): Record<string, string> {
  return { RUNNER_NAME: name, RUNNER_TEMP: mkdtempSync(join(sim.runnerTemp, "twin-runner-")) };
}

async function containerRun(sim: Simulator, name: string, labels: Record<string, string>) {
  const l = Object.entries(labels)
    .map(([k, v]) => `-l '${k}=${v}'`)
    .join(" ");
  const r = await hostShell(sim, `container run -d --name ${name} ${l} ${DEFAULT_IMAGE}`);
  expect(r.code, r.stderr).toBe(0);
}

/**
 * Holds the next `container image pull` until `releasePull()`; `pulling` resolves once it has started:
 * another job in the middle of setting up, with no container yet.
 */
function holdNextPull(sim: Simulator): { pulling: Promise<void>; releasePull: () => void } {
  let started!: () => void;
  const pulling = new Promise<void>((resolve) => (started = resolve));
  let releasePull!: () => void;
  const released = new Promise<void>((resolve) => (releasePull = resolve));
  sim.faults.push({
    when: "container image pull",
    times: 1,
    passThrough: true,
    run: () => {
      started();
      return released;
    },
  });
  return { pulling, releasePull };
}

describe("defect 1: the node name was taken by another runner just before this job's `container run`", () => {
  test("post leaves that node and the service it runs in, though this job started the service", async ({
    mac,
  }) => {
    const sim = await mac(COLD_SERVICE);
    sim.faults.push({
      when: /^container run -d --name kina-control-plane /,
      times: 1,
      passThrough: true,
      // Runner B wins the race for the name (the fault is used up, so B's own run goes through).
      run: () =>
        containerRun(sim, NODE, {
          "io.kina.created-by": "kina-setup-cluster",
          "io.kina.cluster": "kina",
          "io.kina.role": "control-plane",
          "io.kina.runner": "mac-b",
          "io.kina.job": "o/r/99/1/b",
        }),
    });
    const { main, post } = await runJob({ sim });
    expect(main.code).not.toBe(0);
    expect(errors(main.stdout)[0]).toMatch(/already exists/);
    expect(main.state["service-started"]).toBe("true");
    expect(post.code).toBe(0);
    expect(post.stdout).toMatch(/::warning::Cleanup: kina-control-plane was not created by this job/);
    expect(post.stdout).toMatch(
      /::notice::.*left running: other containers use it \(kina-control-plane \(runner mac-b/,
    );
    expect(systemStops(sim)).toEqual([]);
    expect(sim.serviceRunning).toBe(true);
    expect(sim.containers().map((c) => `${c.name} ${c.state}`)).toEqual([`${NODE} running`]);
  });
});

describe("defect 2: two runner installs on one Mac share RUNNER_NAME", () => {
  test("neither deletes the other's running cluster as a leftover, nor stops the service under it", async ({
    mac,
  }) => {
    const sim = await mac(WARM);
    // Runner B (second install, same name) has a cluster up, its job still running.
    const b = await runStep("main", { sim, env: twinRunner(sim) });
    expect(errors(b.stdout), b.stdout.slice(-2000)).toEqual([]);
    const bJob = sim.node(NODE).spec.labels["io.kina.job"];

    // Runner A, default inputs: the same cluster name. It must not take B's node for its own leftover.
    const from = sim.calls.length;
    const a = await runStep("main", { sim });
    expect(a.code).not.toBe(0);
    const [err] = errors(a.stdout);
    expect(err).toMatch(/cluster kina is running for runner kina-sim-runner .* left untouched/);
    expect(err).toContain("another runner install on this Mac has the same name");
    expect(sim.node(NODE).spec.labels["io.kina.job"]).toBe(bJob);
    expect(sim.containers().map((c) => `${c.name} ${c.state}`)).toEqual([`${NODE} running`]);

    // Runner A pins another CLI: the upgrade would stop B's cluster, so it is refused before anything.
    const pinned = await runStep("main", {
      sim,
      inputs: { "container-version": "1.5.0", "cluster-name": "a" },
    });
    expect(pinned.code).not.toBe(0);
    expect(errors(pinned.stdout)[0]).toMatch(
      /needs 'container system stop'.*kina-control-plane \(runner kina-sim-runner/,
    );
    expect(systemStops(sim, from)).toEqual([]);
    expect(installerCalls(sim, from)).toEqual([]);
    expect(sim.containers().map((c) => `${c.name} ${c.state}`)).toEqual([`${NODE} running`]);
  });

  test("a running node labelled by RUNNER_NAME alone (before runner-id labels) is left while young", async ({
    mac,
  }) => {
    const sim = await mac(WARM);
    await containerRun(sim, NODE, {
      "io.kina.created-by": "kina-setup-cluster",
      "io.kina.cluster": "kina",
      "io.kina.role": "control-plane",
      "io.kina.runner": "kina-sim-runner",
      "io.kina.job": "o/r/41/1/e2e",
      "io.kina.created-at": new Date(Date.now() - 3600_000).toISOString(),
    });
    const r = await runStep("main", { sim, inputs: { "reclaim-after": "6h" } });
    expect(r.code).not.toBe(0);
    expect(errors(r.stdout)[0]).toContain("it predates runner-id labels");
    expect(sim.node(NODE).spec.labels["io.kina.job"]).toBe("o/r/41/1/e2e");
  });
});

describe("defect 3: post of the job that started the service, while another job is still setting up", () => {
  test("leaves the service running for a job that is pulling its image and has no container yet", async ({
    mac,
  }) => {
    const sim = await mac(COLD_SERVICE);
    // B's pull waits (with no container of B anywhere) until A's post has run.
    const { pulling, releasePull } = holdNextPull(sim);
    let b: Promise<Awaited<ReturnType<typeof runStep>>> | undefined;
    const { main, post } = await runJob({
      sim,
      afterMain: async () => {
        b = runStep("main", {
          sim,
          inputs: { "cluster-name": "b", "kubernetes-version": "1.36" },
          env: twinRunner(sim, "mac-b"),
        });
        await pulling;
      },
    });
    releasePull();
    expect(main.code, main.stdout.slice(-2000)).toBe(0);
    expect(main.state["service-started"]).toBe("true");
    expect(post.code).toBe(0);
    expect(post.stdout).toMatch(
      /::notice::.*left running: other jobs of this action on this Mac may be using it \(runner mac-b/,
    );
    expect(systemStops(sim)).toEqual([]);
    const bMain = await b!;
    expect(errors(bMain.stdout), bMain.stdout.slice(-2000)).toEqual([]);
    expect(bMain.code).toBe(0);
    expect(sim.containers().map((c) => `${c.name} ${c.state}`)).toEqual(["b-control-plane running"]);
  });
});

describe("defect 3, the same kind in main: stopping the service for an upgrade or a skew restart", () => {
  test("is refused while another job of this action is still pulling its image", async ({ mac }) => {
    const sim = await mac(WARM);
    const { pulling, releasePull } = holdNextPull(sim);
    const b = runStep("main", {
      sim,
      inputs: { "cluster-name": "b", "kubernetes-version": "1.36" },
      env: twinRunner(sim, "mac-b"),
    });
    await pulling;
    // A mirror that serves 1.3.0, so nothing but the guard stands between A and the stop.
    const dir = mkdtempSync(join(sim.runnerTemp, "mirror-"));
    const dl = await startDownloadServer({ dir, installers: { "1.3.0": {} } });
    const a = await runStep("main", {
      sim,
      inputs: { "container-version": "1.3.0", "installer-url": dl.installerUrl },
    }).finally(() => dl.close());
    releasePull();
    expect(a.code).not.toBe(0);
    expect(errors(a.stdout)[0]).toMatch(
      /needs 'container system stop', and other jobs of this action are setting up on this Mac \(runner mac-b, job .*\); nothing was stopped or installed/,
    );
    expect(systemStops(sim)).toEqual([]);
    expect(installerCalls(sim)).toEqual([]);
    const bMain = await b;
    expect(errors(bMain.stdout), bMain.stdout.slice(-2000)).toEqual([]);
  });
});
