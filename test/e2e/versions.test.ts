// Issue 11: the bundled action on each container CLI release it supports (1.2.1 … 1.5.0) and each
// Kubernetes minor it pins (1.34 … 1.37), from a Mac that has no kernel yet; 1.2.0 refused at once;
// a shared Mac never disturbed. Prints the version matrix (CLI × Kubernetes → result, seconds).
import { mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NODE_IMAGES, recommendedKernel } from "../../src/versions.js";
import { startDownloadServer, type DownloadServer } from "../sim/download-server.ts";
import { errors, runJob, runStep, type StepResult } from "../sim/runner.ts";
import { hostShell, startSimulator, type Simulator, type SimulatorOptions } from "../sim/simulator.ts";
import { limiter } from "../fixtures/limiter.ts";

/** Each CLI release paired with one Kubernetes minor, so every value of both axes is covered. */
const MATRIX = [
  { cli: "1.2.1", kubernetes: "1.34.11" },
  { cli: "1.2.2", kubernetes: "1.35.8" },
  { cli: "1.3.1", kubernetes: "1.36.4" },
  { cli: "1.4.1", kubernetes: "1.37.0" },
  { cli: "1.5.0", kubernetes: "1.37.0" },
];

interface Row {
  cli: string;
  kubernetes: string;
  result: string;
  mainSeconds: number;
  postSeconds?: number;
}
const rows: Row[] = [];

let dl: DownloadServer;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kina-e2e-versions-"));
  // 1.3.0 published no checksum, so its (stand-in) installer passes on its signature alone.
  dl = await startDownloadServer({ dir, installers: { "1.3.0": {}, "1.5.0": {} } });
});
afterAll(async () => {
  await dl.close();
  rmSync(dir, { recursive: true, force: true });
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const table = [
    line(["container CLI", "Kubernetes", "result", "main (s)", "post (s)"]),
    line(["---", "---", "---", "---:", "---:"]),
    ...rows
      .sort((a, b) => a.cli.localeCompare(b.cli, undefined, { numeric: true }))
      .map((r) =>
        line([
          r.cli,
          r.kubernetes,
          r.result,
          r.mainSeconds.toFixed(1),
          r.postSeconds === undefined ? "–" : r.postSeconds.toFixed(1),
        ]),
      ),
  ].join("\n");
  console.log(`\nVersion matrix (simulated runner, zero simulated latency):\n${table}\n`);
});

const slot = limiter(2);

async function onMac<T>(opts: SimulatorOptions, fn: (sim: Simulator) => Promise<T>): Promise<T> {
  const sim = await startSimulator(opts);
  try {
    return await fn(sim);
  } finally {
    await sim.stop();
  }
}

const line = (c: { tool: string; argv: string[]; via?: string }) =>
  `${c.via ? "(sudo) " : ""}${c.tool} ${c.argv.join(" ")}`;
const calls = (sim: Simulator, re: RegExp) => sim.calls.filter((c) => re.test(line(c)));
const INSTALLS = /^(\(sudo\) )?(installer|pkgutil|sudo) /;
const seconds = (r: StepResult) => r.durationMs / 1000;
const defaultKernel = (sim: Simulator) =>
  basename(readlinkSync(join(sim.appRoot, "kernels", "default.kernel-arm64")));

/** A kubeconfig's client reaches its cluster and sees its node. */
async function nodesOf(kubeconfig: string): Promise<string[]> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const nodes = await kc.makeApiClient(CoreV1Api).listNode();
  return nodes.items.map((n) => n.metadata!.name!);
}

describe("the version matrix, from a Mac without a kernel", () => {
  it.concurrent.each(MATRIX)(
    "container $cli with Kubernetes $kubernetes boots a cluster",
    ({ cli, kubernetes }) =>
      slot(() =>
        // Installed CLI, service down, no kernel (nor its folder), no image: the first job on this Mac.
        onMac({ installedVersion: cli, serviceRunning: false, kernelInstalled: false }, async (sim) => {
          const minor = kubernetes.split(".").slice(0, 2).join(".");
          let image: string | undefined;
          let nodes: string[] = [];
          const { main, post } = await runJob({
            sim,
            inputs: kubernetes === "1.37.0" && cli === "1.5.0" ? {} : { "kubernetes-version": minor },
            timeoutMs: 180_000,
            // Before post removes it: the node's image, and the cluster as the job's kubeconfig sees it.
            afterMain: async (m) => {
              image = sim.containers()[0]?.image;
              if (m.code === 0) nodes = await nodesOf(m.outputs.kubeconfig!);
            },
          });
          rows.push({
            cli,
            kubernetes,
            result: main.code === 0 ? "cluster ready" : `failed: ${errors(main.stdout)[0] ?? main.code}`,
            mainSeconds: seconds(main),
            postSeconds: seconds(post),
          });
          expect(errors(main.stdout), main.stdout.slice(-3000)).toEqual([]);
          expect(main.code).toBe(0);
          expect(main.outputs).toMatchObject({
            "container-version": cli,
            "kubernetes-version": `v${kubernetes}`,
          });
          expect(image).toBe(`docker.io/${NODE_IMAGES[kubernetes]}`);
          expect(nodes).toEqual(["kina-control-plane"]);
          // The CLI as installed (the default keeps a supported one), its own recommended kernel.
          expect(calls(sim, INSTALLS)).toEqual([]);
          expect(defaultKernel(sim)).toBe(recommendedKernel(cli).file);
          expect(post.code).toBe(0);
          expect(sim.containers()).toEqual([]);
          expect(sim.serviceRunning).toBe(false); // this job started it
        }),
      ),
  );

  it.concurrent(
    "container 1.2.0 fails in the CLI phase, naming the fix, with no pull and no container run",
    () =>
      slot(() =>
        onMac({ installedVersion: "1.2.0", serviceRunning: true, kernelInstalled: false }, async (sim) => {
          const { main, post } = await runJob({
            sim,
            inputs: { "container-version": "installed" },
            timeoutMs: 60_000,
          });
          rows.push({
            cli: "1.2.0",
            kubernetes: "–",
            result: "refused in the CLI phase",
            mainSeconds: seconds(main),
            postSeconds: seconds(post),
          });
          expect(main.code).toBe(1);
          expect(errors(main.stdout)).toEqual([
            "Container CLI: the installed container CLI cannot run this action: 1.2.0 mounts /proc/sys read-only in every " +
              "container with no option to lift it, so the node cannot enable IP forwarding; install container 1.5.0 " +
              "(or any release from 1.2.1 on) on this Mac, or set container-version to 'supported' (installs 1.5.0 " +
              "when the installed one cannot work) or to a release such as 1.5.0",
          ]);
          expect(calls(sim, /^container (run|image|system (stop|start|kernel))/)).toEqual([]);
          expect(sim.counters).toMatchObject({ pulls: 0, kernelDownloads: 0 });
          expect(post.code).toBe(0);
        }),
      ),
  );

  it.concurrent("container 1.2.0 with the default: upgraded to 1.5.0 only through its pinned checksum", () =>
    slot(() =>
      onMac({ installedVersion: "1.2.0", serviceRunning: true }, async (sim) => {
        // The loopback 1.5.0 is Apple-signed in name only: its bytes are not Apple's package.
        const r = await runStep("main", {
          sim,
          inputs: { "installer-url": dl.installerUrl },
          timeoutMs: 60_000,
        });
        expect(errors(r.stdout)).toEqual([
          expect.stringMatching(
            /^Container CLI: the container 1\.5\.0 installer failed its checksum: expected sha256 a24808cb202318fa1c3bbee0c6c6887fe1225fe899d7b687a0ddd939bd6573f8, got [0-9a-f]{64}$/,
          ),
        ]);
        expect(r.stdout).toContain(
          "Installing container 1.5.0: the installed one cannot work: 1.2.0 mounts /proc/sys",
        );
        expect(calls(sim, /^container system stop/)).toEqual([]);
        expect(calls(sim, /installer -pkg/)).toEqual([]);
        expect(sim).toMatchObject({ installedVersion: "1.2.0", serviceRunning: true });
      }),
    ),
  );

  it.concurrent(
    "container 1.2.0 upgraded to a pinned 1.3.0 on an idle Mac boots a cluster with 1.3.0's kernel",
    () =>
      slot(() =>
        onMac({ installedVersion: "1.2.0", serviceRunning: true, kernelInstalled: true }, async (sim) => {
          const { main, post } = await runJob({
            sim,
            inputs: { "container-version": "1.3.0", "installer-url": dl.installerUrl },
            timeoutMs: 180_000,
          });
          rows.push({
            cli: "1.2.0 → 1.3.0",
            kubernetes: "1.37.0",
            result: main.code === 0 ? "upgraded, cluster ready" : `failed: ${errors(main.stdout)[0]}`,
            mainSeconds: seconds(main),
            postSeconds: seconds(post),
          });
          expect(errors(main.stdout), main.stdout.slice(-3000)).toEqual([]);
          expect(main.outputs["container-version"]).toBe("1.3.0");
          const order = sim.calls.map(line);
          const at = (re: RegExp) => order.findIndex((l) => re.test(l));
          expect(at(/^container system stop/)).toBeLessThan(at(/^\(sudo\) installer -pkg/));
          expect(at(/^\(sudo\) installer -pkg/)).toBeLessThan(at(/^container system start/));
          expect(defaultKernel(sim)).toBe("vmlinux-6.18.35-197-debug"); // the old 6.18.15 default is replaced
          expect(post.code).toBe(0);
          expect(sim.serviceRunning).toBe(true); // it ran before the job
        }),
      ),
  );
});

describe("inputs refused before anything runs", () => {
  it("kindest/node:v1.30.0 is refused at input time, with no pull", () =>
    onMac({ serviceRunning: true, kernelInstalled: true }, async (sim) => {
      const r = await runStep("main", {
        sim,
        inputs: { "node-image": "kindest/node:v1.30.0" },
        timeoutMs: 30_000,
      });
      expect(errors(r.stdout)).toEqual([
        expect.stringMatching(
          /^inputs: Input 'node-image' has an invalid value 'kindest\/node:v1\.30\.0': its tag says Kubernetes 1\.30\.0, and node images older than 1\.31 cannot read the kubeadm v1beta4 config/,
        ),
      ]);
      expect(calls(sim, /^container /)).toEqual([]);
      expect(sim.counters.pulls).toBe(0);
    }));
});

describe("a Mac shared with another runner", () => {
  /** Another runner's job on this Mac: its cluster, left running (its job is still on it). */
  async function otherRunnersCluster(sim: Simulator): Promise<StepResult> {
    const other = await runStep("main", {
      sim,
      inputs: { "cluster-name": "other" },
      env: { RUNNER_NAME: "mac-2" },
      timeoutMs: 180_000,
    });
    expect(other.code, other.stdout.slice(-2000)).toBe(0);
    return other;
  }

  it("default inputs with 1.5.0 installed: a working cluster, no install, no system stop, the other cluster untouched", () =>
    onMac({ installedVersion: "1.5.0", serviceRunning: true, kernelInstalled: false }, async (sim) => {
      const other = await otherRunnersCluster(sim);
      const from = sim.calls.length;
      const { main, post } = await runJob({ sim, timeoutMs: 180_000 });
      rows.push({
        cli: "1.5.0 (shared Mac)",
        kubernetes: "1.37.0",
        result: main.code === 0 ? "cluster ready, other untouched" : `failed: ${errors(main.stdout)[0]}`,
        mainSeconds: seconds(main),
        postSeconds: seconds(post),
      });
      expect(errors(main.stdout), main.stdout.slice(-3000)).toEqual([]);
      expect(main.outputs["container-version"]).toBe("1.5.0");
      const ours = sim.calls.slice(from);
      expect(ours.filter((c) => INSTALLS.test(line(c)))).toEqual([]);
      expect(calls(sim, /^container system stop/)).toEqual([]);
      expect(post.code).toBe(0);
      // Ours is gone; the other runner's node still runs and its API still answers.
      expect(sim.containers().map((c) => [c.name, c.state])).toEqual([["other-control-plane", "running"]]);
      expect(await nodesOf(other.outputs.kubeconfig!)).toEqual(["other-control-plane"]);
      expect(sim.serviceRunning).toBe(true);
    }));

  it("a service left at another version is not restarted under the other runner's cluster", () =>
    onMac({ installedVersion: "1.5.0", serviceRunning: true, kernelInstalled: true }, async (sim) => {
      const other = await otherRunnersCluster(sim);
      // Someone installed 1.5.0's package while a 1.4.1 service ran: the old apiserver still runs.
      sim.serverVersion = "1.4.1";
      const { main, post } = await runJob({ sim, timeoutMs: 60_000 });
      expect(errors(main.stdout)).toEqual([
        expect.stringMatching(
          /^Container service: the container service runs 1\.4\.1 while the CLI is 1\.5\.0 .* including other-control-plane \(runner mac-2, job kina\/setup-cluster\/\d+\/1\/e2e\); nothing was stopped\./,
        ),
      ]);
      expect(calls(sim, /^container system stop/)).toEqual([]);
      expect(post.code).toBe(0);
      expect(await nodesOf(other.outputs.kubeconfig!)).toEqual(["other-control-plane"]);
    }));

  it("an install a CLI earlier on PATH would shadow is refused, naming both, before anything is stopped", () =>
    // The new user's example: 1.2.0 from another package manager first on PATH, the signed 1.2.2 in
    // /usr/local/bin, container-version: 1.2.2, and an unrelated container running.
    onMac(
      { installedVersion: "1.2.2", shadowingCli: "1.2.0", serviceRunning: true, kernelInstalled: true },
      async (sim) => {
        const unrelated = await hostShell(
          sim,
          "container run -d --name unrelated docker.io/library/nginx:1.27",
        );
        expect(unrelated.code, unrelated.stderr).toBe(0);
        const r = await runStep("main", {
          sim,
          inputs: { "container-version": "1.2.2", "installer-url": dl.installerUrl },
          timeoutMs: 60_000,
        });
        const shadow = join(sim.shadowDir!, "container");
        expect(errors(r.stdout)).toEqual([
          `Container CLI: installing container 1.2.2 would not take effect: 'container' on PATH is ${shadow} (1.2.0), ` +
            "which comes before /usr/local/bin/container that Apple's installer writes, so nothing was stopped or installed. " +
            `Remove ${shadow} (for example 'brew uninstall container') or put /usr/local/bin first on the runner's PATH; ` +
            "or install the CLI you want there yourself and set container-version: installed",
        ]);
        expect(calls(sim, /^container system stop/)).toEqual([]);
        expect(calls(sim, INSTALLS)).toEqual([]);
        expect(sim.serviceRunning).toBe(true);
        expect(sim.containers().map((c) => [c.name, c.state])).toEqual([["unrelated", "running"]]);
      },
    ));
});
