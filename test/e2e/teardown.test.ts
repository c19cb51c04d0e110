// Issue 6: the post step removes exactly what main created, and main removes only its own leftovers.
import { existsSync, statSync } from "node:fs";
import { errors, runJob, runStep } from "../sim/runner.ts";
import { hostShell, type Simulator } from "../sim/simulator.ts";
import { runnerId } from "../../src/ownership.js";
import { DEFAULT_IMAGE as IMAGE, describe, expect, test } from "../fixtures/mac.ts";

const NODE = "kina-control-plane";
const OURS = {
  "io.kina.created-by": "kina-setup-cluster",
  "io.kina.cluster": "kina",
  "io.kina.role": "control-plane",
  "io.kina.runner": "kina-sim-runner",
  "io.kina.job": "kina/setup-cluster/4100000/1/e2e",
};

/** A container made outside the job, as another runner, an earlier job or the user would. */
async function precreate(sim: Simulator, name: string, labels: Record<string, string>, image = IMAGE) {
  const l = Object.entries(labels)
    .map(([k, v]) => `-l '${k}=${v}'`)
    .join(" ");
  const r = await hostShell(sim, `container run -d --name ${name} ${l} ${image}`);
  expect(r.code, r.stderr).toBe(0);
}

const destructive = (sim: Simulator, from = 0) =>
  sim.calls
    .slice(from)
    .filter((c) => c.tool === "container" && ["stop", "delete", "rm", "kill"].includes(c.argv[0] ?? ""))
    .concat(
      sim.calls
        .slice(from)
        .filter((c) => c.tool === "container" && c.argv[0] === "system" && c.argv[1] === "stop"),
    );

const container = (sim: Simulator, name: string) => sim.containers().find((c) => c.name === name);

describe("post step", () => {
  test("removes the node and the kubeconfig, stops the service it started, and is idempotent", async ({
    mac,
  }) => {
    const sim = await mac();
    let kubeconfig = "";
    const { main, post } = await runJob({
      sim,
      afterMain: (m) => {
        kubeconfig = m.outputs.kubeconfig!;
        expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
        expect(container(sim, NODE)?.state).toBe("running");
        expect(sim.serviceRunning).toBe(true);
      },
    });
    expect(main.code, main.stdout.slice(-2000)).toBe(0);
    expect(main.state).toMatchObject({ node: NODE, kubeconfig, "service-started": "true", cleanup: "true" });
    expect(post.code).toBe(0);
    expect(post.stdout).not.toContain("::warning::");
    expect(sim.containers()).toEqual([]);
    expect(existsSync(kubeconfig)).toBe(false);
    expect(sim.serviceRunning).toBe(false);
    // One forced delete (no grace period to wait out), then the service this job started.
    const removal = destructive(sim).map((c) => c.argv.join(" "));
    expect(removal).toEqual([`delete --force ${NODE}`, "system stop"]);
    const teardownSeconds = Number(/Teardown: done in ([\d.]+)s/.exec(post.stdout)?.[1]);
    console.log(`post step ${(post.durationMs / 1000).toFixed(2)}s, teardown ${teardownSeconds}s`);
    expect(teardownSeconds).toBeLessThan(10);

    // The same post again: the service is down, so it is started to look for the node, and stopped again.
    const before = sim.calls.length;
    const again = await runStep("post", { sim, state: main.state });
    expect(again.code).toBe(0);
    expect(again.stdout).not.toMatch(/::(warning|error)::/);
    expect(again.stdout).toContain(`Node ${NODE} does not exist`);
    expect(destructive(sim, before).map((c) => c.argv.join(" "))).toEqual(["system stop"]);
    expect(sim.serviceRunning).toBe(false);
  });

  test("exits 0 and touches nothing when main saved nothing to remove", async ({ mac }) => {
    const sim = await mac({ serviceRunning: true, kernelInstalled: true });
    await precreate(sim, "web", {}, "nginx:1.27");
    const states: Array<Record<string, string>> = [{}, { "cluster-name": "kina", cleanup: "true" }];
    for (const state of states) {
      const before = sim.calls.length;
      const post = await runStep("post", { sim, state });
      expect(post.code).toBe(0);
      expect(post.stdout).toContain("Nothing to clean up.");
      expect(post.stdout).not.toMatch(/::(warning|error)::/);
      expect(sim.calls.slice(before)).toEqual([]);
    }
    expect(container(sim, "web")?.state).toBe("running");
    expect(sim.serviceRunning).toBe(true);
  });

  test("cleanup: false keeps everything and prints commands that remove it", async ({ mac }) => {
    const sim = await mac();
    const { main, post } = await runJob({ sim, inputs: { cleanup: "false" } });
    expect(main.code).toBe(0);
    expect(post.code).toBe(0);
    expect(destructive(sim)).toEqual([]);
    expect(container(sim, NODE)?.state).toBe("running");
    expect(existsSync(main.outputs.kubeconfig!)).toBe(true);
    expect(sim.serviceRunning).toBe(true);
    const notice = /^::notice::cleanup is false: the cluster is kept\. Remove it later with: (.*)$/m.exec(
      post.stdout,
    );
    expect(notice, post.stdout).not.toBeNull();
    const r = await hostShell(sim, notice![1]!);
    expect(r.code, r.stderr).toBe(0);
    expect(sim.containers()).toEqual([]);
    expect(existsSync(main.outputs.kubeconfig!)).toBe(false);
    expect(sim.serviceRunning).toBe(false);
  });
});

describe("containers that were there before the job", () => {
  test("replaces this action's stale node and leaves an unrelated container and the service alone", async ({
    mac,
  }) => {
    const sim = await mac({ serviceRunning: true, kernelInstalled: true });
    await precreate(sim, "web", { app: "web" }, "nginx:1.27");
    // The same runner install's node from a job whose post step never ran (its runner-id label: since
    // defect 2, a node labelled by RUNNER_NAME alone is never taken for this runner's).
    await precreate(sim, NODE, {
      ...OURS,
      "io.kina.runner-id": runnerId({ RUNNER_NAME: "kina-sim-runner", RUNNER_TEMP: sim.runnerTemp }),
    });
    const before = sim.calls.length;
    const { main, post } = await runJob({
      sim,
      afterMain: () => {
        const node = container(sim, NODE);
        expect(node?.state).toBe("running");
        expect(node?.labels["io.kina.job"]).not.toBe(OURS["io.kina.job"]);
        expect(node?.labels["io.kina.job"]).toMatch(/^kina\/setup-cluster\/\d+\/1\/e2e$/);
      },
    });
    expect(main.code, main.stdout.slice(-2000)).toBe(0);
    expect(main.stdout).toMatch(
      new RegExp(
        `::notice::Removing ${NODE} \\(running\\) left by an earlier job \\(${OURS["io.kina.job"]} on runner kina-sim-runner\\)`,
      ),
    );
    expect(main.state["service-started"]).toBeUndefined();
    expect(post.code).toBe(0);
    expect(container(sim, NODE)).toBeUndefined();
    expect(container(sim, "web")).toMatchObject({ state: "running", labels: { app: "web" } });
    expect(sim.serviceRunning).toBe(true);
    // Nothing ever addressed the unrelated container.
    expect(sim.calls.slice(before).filter((c) => c.tool === "container" && c.argv.includes("web"))).toEqual(
      [],
    );
  });

  test.for([
    [
      "a container the action did not create",
      {},
      /was not created by this action for cluster kina; it is left untouched/,
    ],
    [
      "another runner's running node of the same cluster",
      { ...OURS, "io.kina.runner": "other-runner" },
      /cluster kina is running for runner other-runner \(job kina\/setup-cluster\/4100000\/1\/e2e\) on this Mac and may be in use/,
    ],
  ] as Array<[string, Record<string, string>, RegExp]>)(
    "refuses %s with the node's name, and never touches it",
    async ([, labels, message], { mac }) => {
      const sim = await mac({ serviceRunning: true, kernelInstalled: true });
      await precreate(sim, NODE, labels);
      const before = sim.calls.length;
      const { main, post } = await runJob({ sim });
      expect(main.code).not.toBe(0);
      const errs = errors(main.stdout);
      expect(errs).toHaveLength(1);
      expect(errs[0]).toMatch(/^Node VM: /);
      expect(errs[0]).toMatch(message);
      expect(errs[0]).toContain(`container delete --force ${NODE}`);
      expect(main.state.node).toBeUndefined();
      expect(post.code).toBe(0);
      expect(destructive(sim, before)).toEqual([]);
      expect(sim.calls.slice(before).filter((c) => c.tool === "container" && c.argv[0] === "run")).toEqual(
        [],
      );
      expect(container(sim, NODE)).toMatchObject({ state: "running", labels });
    },
  );
});
