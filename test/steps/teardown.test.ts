// Teardown, stale-node classification and bounded `container` calls, against the simulated service.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, it } from "vitest";
import { ContainerCli, type ContainerState } from "../../src/container/cli.js";
import { boundSeconds } from "../../src/container/bounds.js";
import {
  classifyExisting,
  LABEL,
  ownedByThisJob,
  ownedByThisRunner,
  removeNode,
} from "../../src/steps/node-vm.js";
import { runnerId } from "../../src/ownership.js";
import { keepMessage, teardown } from "../../src/steps/teardown.js";
import { hostShell, type Simulator, type SimulatorOptions } from "../sim/simulator.ts";
import { DEFAULT_IMAGE as IMAGE, describe, expect, test, vi } from "../fixtures/mac.ts";

const NODE = "kina-control-plane";
const ENV = {
  RUNNER_NAME: "mac-1",
  RUNNER_TEMP: "/Users/ci/runner-a/_work/_temp",
  GITHUB_REPOSITORY: "o/r",
  GITHUB_RUN_ID: "7",
  GITHUB_RUN_ATTEMPT: "1",
  GITHUB_JOB: "e2e",
};
const THIS_JOB = {
  [LABEL.createdBy]: "kina-setup-cluster",
  [LABEL.cluster]: "kina",
  [LABEL.role]: "control-plane",
  [LABEL.runner]: "mac-1",
  [LABEL.runnerId]: runnerId(ENV),
  [LABEL.job]: "o/r/7/1/e2e",
};
/** Another runner install on this Mac. */
const MAC_2 = { [LABEL.runner]: "mac-2", [LABEL.runnerId]: runnerId({ ...ENV, RUNNER_NAME: "mac-2" }) };
/** A second install on this Mac with the same RUNNER_NAME (the default, the host name), its own folder. */
const TWIN = { [LABEL.runnerId]: runnerId({ ...ENV, RUNNER_TEMP: "/Users/ci/runner-b/_work/_temp" }) };
/** A node labelled before runner-id labels existed: RUNNER_NAME only. */
const { [LABEL.runnerId]: _, ...NAME_ONLY } = THIS_JOB;

const state = (labels: Record<string, string>, s = "running"): ContainerState => ({
  id: NODE,
  state: s,
  labels,
  ipv4: undefined,
  ipv4Prefix: undefined,
  mtu: undefined,
  startedDate: undefined,
});

describe("classifyExisting", () => {
  it.each([
    ["no labels", {}, "running", "foreign"],
    ["another tool's labels", { "com.apple.container.plugin": "k8s" }, "running", "foreign"],
    ["this action, another cluster", { ...THIS_JOB, [LABEL.cluster]: "other" }, "running", "foreign"],
    [
      "this action, stopped, no cluster label",
      { [LABEL.createdBy]: "kina-setup-cluster" },
      "stopped",
      "foreign",
    ],
    [
      "this runner, running (its post never ran)",
      { ...THIS_JOB, [LABEL.job]: "o/r/6/1/e2e" },
      "running",
      "stale",
    ],
    ["this runner, stopped", THIS_JOB, "stopped", "stale"],
    ["another runner, stopped", { ...THIS_JOB, ...MAC_2 }, "stopped", "stale"],
    ["another runner, stopping", { ...THIS_JOB, ...MAC_2 }, "stopping", "stale"],
    ["another runner, running: maybe in use", { ...THIS_JOB, ...MAC_2 }, "running", "busy"],
    // Defect 2: RUNNER_NAME is not unique on a Mac; the name alone proves nothing.
    ["another install of the same runner name, running", { ...THIS_JOB, ...TWIN }, "running", "busy"],
    ["runner name only (older labels), running, even our name", NAME_ONLY, "running", "busy"],
    ["runner name only (older labels), stopped", NAME_ONLY, "stopped", "stale"],
  ])("%s → %s", (_, labels, s, want) => {
    expect(classifyExisting(state(labels, s), { clusterName: "kina" }, ENV)).toBe(want);
  });
});

describe("ownedByThisRunner", () => {
  it("needs this action's and this runner install's labels; the job may be an earlier one", () => {
    expect(ownedByThisRunner(state(THIS_JOB), ENV)).toBe(true);
    expect(ownedByThisRunner(state({ ...THIS_JOB, [LABEL.job]: "o/r/6/1/e2e" }), ENV)).toBe(true);
    expect(ownedByThisRunner(state({ ...THIS_JOB, ...MAC_2 }), ENV)).toBe(false);
    expect(ownedByThisRunner(state({ ...THIS_JOB, [LABEL.createdBy]: "someone" }), ENV)).toBe(false);
    expect(ownedByThisRunner(state({}), ENV)).toBe(false);
  });

  it("tells two runner installs with the same RUNNER_NAME apart, and never owns a name-only node", () => {
    expect(ownedByThisRunner(state({ ...THIS_JOB, ...TWIN }), ENV)).toBe(false);
    expect(ownedByThisRunner(state(NAME_ONLY), ENV)).toBe(false);
    // RUNNER_WORKSPACE (<work folder>/<repo>) where RUNNER_TEMP is missing: still per install.
    const ws = (w: string) => runnerId({ RUNNER_NAME: "mac-1", RUNNER_WORKSPACE: w });
    expect(ws("/Users/ci/runner-a/_work/r")).not.toBe(ws("/Users/ci/runner-b/_work/r"));
  });
});

describe("ownedByThisJob", () => {
  it("needs this runner install and this job", () => {
    expect(ownedByThisJob(state(THIS_JOB), ENV)).toBe(true);
    expect(ownedByThisJob(state({ ...THIS_JOB, [LABEL.job]: "o/r/6/1/e2e" }), ENV)).toBe(false);
    expect(ownedByThisJob(state({ ...THIS_JOB, ...TWIN }), ENV)).toBe(false);
  });
});

describe("keepMessage", () => {
  it("lists the commands that remove what was kept", () => {
    expect(keepMessage({ node: NODE, kubeconfig: "/t/kina.kubeconfig", serviceStartedByUs: true })).toBe(
      `cleanup is false: the cluster is kept. Remove it later with: container delete --force ${NODE} && rm -f '/t/kina.kubeconfig' && container system stop`,
    );
    expect(
      keepMessage({
        node: NODE,
        workers: ["kina-worker-1", "kina-worker-2"],
        kubeconfig: "",
        serviceStartedByUs: false,
      }),
    ).toBe(
      "cleanup is false: the cluster is kept. Remove it later with: container delete --force kina-control-plane kina-worker-1 kina-worker-2",
    );
    expect(keepMessage({ node: "", kubeconfig: "", serviceStartedByUs: false })).toBe(
      "cleanup is false and nothing was created.",
    );
  });
});

describe("against the simulated service", () => {
  let out: string;
  let dir: string;

  beforeEach(() => {
    out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out += chunk.toString();
      return true;
    });
    dir = mkdtempSync(join(tmpdir(), "kina-teardown-"));
  });
  afterEach(() => {
    vi.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  const SERVICE: SimulatorOptions = { serviceRunning: true, kernelInstalled: true };
  /** The job's environment on that Mac (its HOME holds the jobs folder). */
  const envOf = (s: Simulator) => ({ ...ENV, HOME: s.env.HOME! });

  async function run(s: Simulator, name: string, labels: Record<string, string>, image = IMAGE) {
    const l = Object.entries(labels)
      .map(([k, v]) => `-l '${k}=${v}'`)
      .join(" ");
    const r = await hostShell(s, `container run -d --name ${name} ${l} ${image}`);
    expect(r.code, r.stderr).toBe(0);
  }

  const calls = (s: Simulator) => s.calls.filter((c) => c.tool === "container").map((c) => c.argv.join(" "));
  const warnings = () => out.split("\n").filter((l) => l.startsWith("::warning::"));

  test("removeNode deletes a running node in one forced call, and treats 'not found' as done", async ({
    onMac,
  }) => {
    const s = await onMac(SERVICE);
    await run(s, NODE, THIS_JOB);
    await removeNode(new ContainerCli(), NODE);
    expect(s.containers()).toEqual([]);
    expect(calls(s).slice(-1)).toEqual([`delete --force ${NODE}`]);
    await removeNode(new ContainerCli(), NODE); // already gone: no error
  });

  test("removeNode fails when the forced delete fails", async ({ onMac }) => {
    const s = await onMac(SERVICE);
    await run(s, NODE, THIS_JOB);
    s.faults.push({ when: /^container delete /, code: 1, stderr: "Error: internalError: storage busy" });
    await expect(removeNode(new ContainerCli(), NODE)).rejects.toThrow(
      `'container delete --force ${NODE}' exited 1: Error: internalError: storage busy`,
    );
  });

  test("warns instead of failing, and still removes the rest", async ({ onMac }) => {
    const s = await onMac(SERVICE);
    await run(s, NODE, THIS_JOB);
    const kubeconfig = join(dir, "kina.kubeconfig");
    writeFileSync(kubeconfig, "x");
    s.faults.push({ when: /^container delete /, code: 1, stderr: "Error: internalError: storage busy" });
    await teardown(
      new ContainerCli(),
      { node: NODE, kubeconfig, serviceStartedByUs: true },
      { env: envOf(s) },
    );
    expect(warnings()).toEqual([
      `::warning::Cleanup: could not remove node ${NODE}: 'container delete --force ${NODE}' exited 1: Error: internalError: storage busy`,
    ]);
    expect(existsSync(kubeconfig)).toBe(false);
    // The node is stopped, so nothing else runs in the service this job started.
    expect(s.serviceRunning).toBe(false);
  });

  test("leaves a same-named node that another runner created", async ({ onMac }) => {
    const s = await onMac(SERVICE);
    await run(s, NODE, { ...THIS_JOB, ...MAC_2 });
    const before = s.calls.length;
    await teardown(
      new ContainerCli(),
      { node: NODE, kubeconfig: "", serviceStartedByUs: false },
      { env: envOf(s) },
    );
    expect(warnings()).toEqual([
      `::warning::Cleanup: ${NODE} was not created by this job (runner label 'mac-2', job 'o/r/7/1/e2e'); left untouched.`,
    ]);
    expect(s.calls.slice(before).map((c) => c.argv.join(" "))).toEqual([`inspect ${NODE}`]);
    expect(s.containers().map((c) => c.state)).toEqual(["running"]);
  });

  test("keeps a service it started running while another runner's containers use it", async ({ onMac }) => {
    const s = await onMac(SERVICE);
    await run(s, NODE, THIS_JOB);
    await run(s, "ci-b-control-plane", { ...THIS_JOB, [LABEL.cluster]: "ci-b", ...MAC_2 });
    await teardown(
      new ContainerCli(),
      { node: NODE, kubeconfig: "", serviceStartedByUs: true },
      { env: envOf(s) },
    );
    expect(warnings()).toEqual([]);
    expect(out).toContain(
      "::notice::This job started the container service, but it is left running: other containers use it (ci-b-control-plane (runner mac-2, job o/r/7/1/e2e)).",
    );
    expect(s.serviceRunning).toBe(true);
    expect(s.containers().map((c) => `${c.name} ${c.state}`)).toEqual(["ci-b-control-plane running"]);
  });

  test("starts a service stopped during the job to remove the node, then stops it again", async ({
    onMac,
  }) => {
    const s = await onMac(SERVICE);
    await run(s, NODE, THIS_JOB);
    const stop = await hostShell(s, "container system stop");
    expect(stop.code).toBe(0);
    expect(s.containers().map((c) => c.state)).toEqual(["stopped"]);
    await teardown(
      new ContainerCli(),
      { node: NODE, kubeconfig: "", serviceStartedByUs: false },
      { env: envOf(s) },
    );
    expect(warnings()).toEqual([]);
    expect(s.containers()).toEqual([]);
    expect(s.serviceRunning).toBe(false);
  });

  test("removes every recorded node this runner made, a missing one being no problem (issue 13)", async ({
    onMac,
  }) => {
    const s = await onMac(SERVICE);
    const workers = ["kina-worker-1", "kina-worker-2", "kina-worker-3"];
    await run(s, NODE, THIS_JOB);
    await run(s, workers[0]!, { ...THIS_JOB, [LABEL.role]: "worker" });
    // Another runner's container that happens to carry a recorded name stays.
    await run(s, workers[1]!, { ...THIS_JOB, [LABEL.role]: "worker", ...MAC_2 });
    // workers[2] was recorded but never created.
    const stop = await hostShell(s, "container system stop");
    expect(stop.code).toBe(0);
    await teardown(
      new ContainerCli(),
      { node: NODE, workers, kubeconfig: "", serviceStartedByUs: false },
      { env: ENV },
    );
    expect(warnings()).toEqual([
      "::warning::Cleanup: kina-worker-2 was not created by this job (runner label 'mac-2', job 'o/r/7/1/e2e'); left untouched.",
    ]);
    expect(s.containers().map((c) => c.name)).toEqual(["kina-worker-2"]);
    expect(out).toContain("Node kina-worker-3 does not exist");
    // Started once to reach the nodes (the first removal starts it, the others find it up), then
    // stopped again: the container left behind is stopped, so nothing runs in it.
    expect(calls(s).filter((c) => c.startsWith("system start"))).toHaveLength(1);
    expect(s.serviceRunning).toBe(false);
  });

  // Behaviour change (issue 12): the bounds are the adapter's table, not a teardown option.
  test(
    "ends in bounded time when the service hangs, naming each call",
    { timeout: 90_000 },
    async ({ onMac }) => {
      const s = await onMac(SERVICE);
      await run(s, NODE, THIS_JOB);
      const kubeconfig = join(dir, "kina.kubeconfig");
      writeFileSync(kubeconfig, "x");
      s.faults.push({ when: /^container /, hang: true });
      const [inspect, status] = [boundSeconds("inspect"), boundSeconds("system status")];
      const t0 = performance.now();
      await teardown(
        new ContainerCli(),
        { node: NODE, kubeconfig, serviceStartedByUs: true },
        { env: envOf(s) },
      );
      expect(performance.now() - t0).toBeLessThan((inspect + status + 10) * 1000);
      expect(warnings()).toHaveLength(2);
      expect(warnings()[0]).toContain(
        `could not remove node ${NODE}: \`container inspect ${NODE}\` did not answer within ${inspect}s`,
      );
      expect(warnings()[1]).toContain(
        `could not stop the container service: \`container system status\` did not answer within ${status}s`,
      );
      expect(existsSync(kubeconfig)).toBe(false);
    },
  );
});
