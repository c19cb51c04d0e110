// Issue 6: a failure injected at each point of creation ends main with one ::error:: naming the step,
// prints and writes the diagnostics, and post leaves no node behind; so does a cancelled job.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import { errors, runJob, type StepResult } from "../sim/runner.ts";
import type { Fault, Simulator, SimulatorOptions } from "../sim/simulator.ts";
import { DEFAULT_IMAGE, describe, expect, test, WARM } from "../fixtures/mac.ts";
import { limiter } from "../fixtures/limiter.ts";

const NODE = "kina-control-plane";

const clusterContainers = (sim: Simulator) =>
  sim.containers().filter((c) => c.name === NODE || c.labels["io.kina.cluster"] === "kina");

/** The text of the collapsed diagnostics group, which must open and close. */
function diagnosticsGroup(main: StepResult): string {
  const lines = main.stdout.split("\n");
  const start = lines.findIndex((l) => l.startsWith("::group::Diagnostics"));
  expect(start, "a Diagnostics group").toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && l === "::endgroup::");
  expect(end).toBeGreaterThan(start);
  return lines.slice(start, end + 1).join("\n");
}

const API_FILES = ["nodes.txt", "pods.txt", "events.txt", "csrs.txt"];
const NODE_FILES = [
  "containers.txt",
  "container-inspect.json",
  "container-boot.log",
  "kubelet.log",
  "containerd.log",
];

interface Case {
  name: string;
  opts?: SimulatorOptions;
  inputs?: Record<string, string>;
  faults?: (sim: Simulator) => Fault[];
  /** The phase the ::error:: names. */
  phase: string;
  /** Text the error (and failure.txt) must contain. */
  says: RegExp;
  /** Diagnostics files that must be written, with a pattern each must match. */
  files: Record<string, RegExp>;
  /** The failed command, exit code and stderr in failure.txt. */
  command?: RegExp;
}

const cases: Case[] = [
  {
    // Recorded as started by this job before the start: post finds it down and leaves it so.
    name: "service start",
    opts: {},
    faults: () => [
      {
        when: /^container system start /,
        code: 1,
        stderr: "Error: timed out waiting for the container API server to start",
      },
    ],
    phase: "Container service",
    says: /timed out waiting for the container API server/,
    command: /command: container system start --disable-kernel-install/,
    files: { "failure.txt": /exit code: 1/ },
  },
  {
    name: "image pull",
    faults: () => [
      {
        when: /^container image pull /,
        code: 1,
        stderr:
          'Error: internalError: "failed to pull image" (cause: "registry-1.docker.io: connection reset by peer")',
      },
    ],
    phase: "Kernel and node image",
    says: /connection reset by peer/,
    command: /command: container image pull kindest\/node/,
    files: { "failure.txt": /failed step: Kernel and node image/ },
  },
  {
    name: "container run",
    faults: () => [
      {
        when: /^container run /,
        code: 1,
        stderr:
          'Error: internalError: "failed to bootstrap container" (cause: "VZErrorDomain Code=2: the virtual machine stopped unexpectedly")',
      },
    ],
    phase: "Node VM",
    says: /virtual machine stopped unexpectedly/,
    command: /command: container run -d --name kina-control-plane/,
    // Recorded before `run`: the boot log section is there, saying the node does not exist.
    files: { "failure.txt": /exit code: 1/, "container-boot.log": /not found/, "containers.txt": /./ },
  },
  {
    name: "inspect",
    // Leftovers are looked for with one `container list` (tester findings: every node of the cluster,
    // whatever its name), so the first inspect is the one that waits for the new node to run.
    faults: () => [
      {
        when: /^container inspect kina-control-plane$/,
        times: 1,
        code: 1,
        stderr: "Error: XPC connection error: Connection interrupted",
      },
    ],
    phase: "Node VM",
    says: /XPC connection error/,
    command: /command: container inspect kina-control-plane/,
    files: {
      "container-boot.log": /./,
      "container-inspect.json": /io\.kina\.cluster/,
      "containerd.log": /./,
      "kubelet.log": /./,
    },
  },
  {
    name: "kubeadm init",
    faults: () => [
      {
        when: /^kubeadm init /,
        code: 1,
        stdout: "[init] Using Kubernetes version: v1.37.0\n[preflight] Running pre-flight checks\n",
        stderr:
          "[ERROR CRI]: container runtime is not running: validate service connection\nerror execution phase preflight: [preflight] Some fatal errors occurred",
      },
    ],
    phase: "kubeadm init",
    says: /Some fatal errors occurred/,
    command: /command: container exec kina-control-plane kubeadm init --config/,
    files: { "kubeadm-init.txt": /\[ERROR CRI\]/, "kubelet.log": /kubelet/ },
  },
  {
    // Written before kubeadm init: the node is there, the API not yet.
    name: "CNI write",
    faults: () => [
      {
        when: /^container exec -i kina-control-plane sh -c .*\/etc\/cni\/net\.d/,
        code: 1,
        stderr: "sh: 1: cannot create /etc/cni/net.d/10-kina-ptp.conflist.tmp: Read-only file system",
      },
    ],
    phase: "CNI (ptp)",
    says: /Read-only file system/,
    command: /command: container exec -i kina-control-plane sh -c .*net\.d/,
    files: {
      "container-inspect.json": /io\.kina\.cluster/,
      "kubelet.log": /kubelet/,
      "containerd.log": /./,
    },
  },
  {
    // The last step, long after the kubeconfig: every API section is collected.
    name: "image load",
    opts: { ...WARM, images: [DEFAULT_IMAGE, "docker.io/library/nginx:1.27"] },
    inputs: { "load-images": "nginx:1.27" },
    faults: () => [
      {
        when: /^ctr -n k8s\.io images import/, // in the node
        code: 1,
        stderr: "ctr: content digest sha256:0000: not found",
      },
    ],
    phase: "Load images",
    says: /content digest .* not found/,
    command: /command: container exec -i kina-control-plane ctr -n k8s\.io images import -\nexit code: 1/,
    files: {
      "nodes.txt": /kina-control-plane/,
      "pods.txt": /kube-system\//,
      "csrs.txt": /./,
      "events.txt": /./,
      "kubelet.log": /kubelet/,
    },
  },
  {
    name: "API unreachable",
    // The API server goes away right after main read the kubeconfig (the read itself succeeds).
    faults: (sim) => [
      {
        when: /^container exec kina-control-plane cat \/etc\/kubernetes\/admin\.conf/,
        times: 1,
        passThrough: true,
        run: () => sim.node(NODE).api?.stop(),
      },
    ],
    // The first step after the kubeconfig that talks to the API server is the published-port check.
    phase: "API server port",
    says: /./,
    files: Object.fromEntries(API_FILES.map((f) => [f, /could not collect/])),
  },
  {
    name: "readiness timeout",
    opts: { ...WARM, kubeletNeverReady: true },
    inputs: { wait: "4s" },
    phase: "Readiness",
    says: /not ready within the wait budget \(4s\).*node Ready/,
    files: { "nodes.txt": /kina-control-plane/, "events.txt": /./, "kubelet.log": /kubelet/ },
  },
];

describe("a failure at each point of creation", () => {
  const slot = limiter(2);
  test.concurrent.for(cases)("$name: names the step, explains it, and post removes the node", (c, { mac }) =>
    slot(() =>
      // The pull needs a Mac without the image; the rest start from a warm one.
      mac(c.opts ?? (c.name === "image pull" ? {} : WARM)).then(async (sim) => {
        sim.faults.push(...(c.faults?.(sim) ?? []));
        const { main, post } = await runJob({ sim, inputs: c.inputs ?? {}, timeoutMs: 60_000 });

        expect(main.code, main.stdout.slice(-3000)).not.toBe(0);
        const errs = errors(main.stdout);
        expect(errs).toHaveLength(1);
        expect(errs[0]!.startsWith(`${c.phase}: `), errs[0]).toBe(true);
        expect(errs[0]).toMatch(c.says);

        // Printed in a collapsed group, written to RUNNER_TEMP, exposed as an output.
        const dir = join(sim.runnerTemp, "kina-diagnostics", "kina");
        expect(main.outputs.diagnostics).toBe(dir);
        const group = diagnosticsGroup(main);
        const failure = readFileSync(join(dir, "failure.txt"), "utf8");
        expect(failure).toContain(`failed step: ${c.phase}\n`);
        if (c.command) expect(failure).toMatch(c.command);
        for (const [file, pattern] of Object.entries(c.files)) {
          expect(existsSync(join(dir, file)), file).toBe(true);
          const text = readFileSync(join(dir, file), "utf8");
          expect(text, file).toMatch(pattern);
          expect(group).toContain(`===== ${file} =====\n${text.trimEnd()}`);
        }
        // Once the node was recorded, every node section is there; once the kubeconfig was, every API section.
        const written = readdirSync(dir);
        if (c.files["nodes.txt"])
          expect(written).toEqual(expect.arrayContaining([...NODE_FILES, ...API_FILES]));
        const seconds = Number(/Diagnostics collected in ([\d.]+)s/.exec(group)?.[1]);
        expect(seconds).toBeLessThan(11);
        console.log(
          `${c.name}: main ${(main.durationMs / 1000).toFixed(1)}s, diagnostics ${seconds}s, post ${(post.durationMs / 1000).toFixed(1)}s`,
        );

        expect(post.code).toBe(0);
        expect(errors(post.stdout)).toEqual([]);
        expect(post.stdout).not.toContain("::warning::");
        expect(clusterContainers(sim)).toEqual([]);
      }),
    ),
  );
});

describe("an API server that stops answering", () => {
  test("bounds the diagnostics and lets main end", ({ mac }) =>
    mac({ ...WARM, kubeletNeverReady: true }).then(async (sim) => {
      const hangs: net.Server[] = [];
      // Once main has untainted the node (readiness is next): the API server is replaced by one that
      // accepts connections and never answers, as a wedged VM would.
      const poll = setInterval(() => {
        const vm = sim.containers().find((c) => c.name === NODE);
        const api = vm && sim.node(NODE).api;
        if (!vm || !api || hangs.length || !api.requests.some((r) => r.method === "PATCH")) return;
        const blackhole = net.createServer((sock) => sock.resume());
        hangs.push(blackhole);
        void api.stop().then(() => blackhole.listen(6443, vm.ip));
      }, 20);
      try {
        const { main, post } = await runJob({ sim, inputs: { wait: "4s" }, timeoutMs: 90_000 });
        expect(hangs).toHaveLength(1);
        expect(main.code).not.toBe(0);
        expect(errors(main.stdout)[0]).toMatch(/^Readiness: not ready within the wait budget \(4s\)/);
        const dir = main.outputs.diagnostics!;
        for (const f of API_FILES)
          expect(readFileSync(join(dir, f), "utf8")).toMatch(/not reachable: no TLS handshake within 5s/);
        const seconds = Number(/Diagnostics collected in ([\d.]+)s/.exec(diagnosticsGroup(main))?.[1]);
        expect(seconds).toBeGreaterThanOrEqual(5);
        expect(seconds).toBeLessThan(7);
        console.log(`API hangs: main ${(main.durationMs / 1000).toFixed(1)}s, diagnostics ${seconds}s`);
        expect(post.code).toBe(0);
        expect(clusterContainers(sim)).toEqual([]);
      } finally {
        clearInterval(poll);
        for (const h of hangs) h.close();
      }
    }));
});

describe("cancellation", () => {
  test.for(["SIGINT", "SIGTERM"] as const)(
    "%s mid-creation: main says where it stopped and exits at once; post removes the node",
    (signal, { mac }) =>
      mac({}).then(async (sim) => {
        const { main, post } = await runJob({
          sim,
          timeoutMs: 60_000,
          // As soon as the node runs: main is preparing it, with a `container exec` in flight.
          signalAfter: {
            when: () => sim.containers().some((c) => c.name === NODE && c.state === "running"),
            signal,
          },
        });
        expect(main.signalledAtMs).toBeDefined();
        expect(main.code).not.toBe(0);
        expect(main.durationMs - main.signalledAtMs!).toBeLessThan(2000);
        console.log(
          `${signal}: main ended ${(main.durationMs - main.signalledAtMs!).toFixed(0)} ms after the signal`,
        );
        const errs = errors(main.stdout);
        expect(errs).toHaveLength(1);
        expect(errs[0]).toMatch(
          new RegExp(
            `^Cancelled \\(${signal}\\) after the phase "(kubectl|Node VM)"; the post step removes what was created\\.$`,
          ),
        );
        expect(main.state.node).toBe(NODE);

        expect(post.code).toBe(0);
        expect(clusterContainers(sim)).toEqual([]);
        expect(sim.serviceRunning).toBe(false);
      }),
  );
});
