// Issue 13 end to end: the bundled action with `workers: 2` in the simulated Mac. Every node joins,
// turns Ready and gets its serving certificate; hostile CSRs stay pending; faults at a worker's creation
// or join leave nothing behind; macOS 15 is refused before any VM.
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects here are untyped JSON */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Simulator } from "../sim/simulator.ts";
import type { ApiServer } from "../sim/kube/apiserver.ts";
import { describe, expect, test, WARM } from "../fixtures/mac.ts";
import { kubeletCsrObject } from "../fixtures/csr.ts";
import { errors, runJob, runStep, type StepResult } from "../sim/runner.ts";
import { POD_MASQUERADE_CHAIN } from "../../src/builders/node-network.js";
import { KUBEADM_JOIN_CONFIG_PATH } from "../../src/builders/kubeadm-join.js";

const CP = "kina-control-plane";
const W1 = "kina-worker-1";
const W2 = "kina-worker-2";
const NODES = [CP, W1, W2];

type Csr = {
  metadata: { name: string };
  spec: { username: string; signerName: string };
  status?: { conditions?: Array<{ type: string }>; certificate?: string };
};

/** Resolves with the control plane's API server as soon as the simulated kubeadm has started it. */
async function apiOf(sim: Simulator, timeoutMs = 120_000): Promise<ApiServer> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const api = sim.containers().some((c) => c.name === CP) ? sim.node(CP).api : undefined;
    if (api) return api;
    if (performance.now() > deadline) throw new Error("the control plane's API server never started");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The bootstrap token main created: the one `bootstrap-token-*` Secret. */
function joinToken(api: ApiServer): string {
  const secrets = (api.store.list("secrets") as any[]).filter((s) =>
    String(s.metadata?.name).startsWith("bootstrap-token-"),
  );
  expect(secrets).toHaveLength(1);
  const d = secrets[0].data ?? {};
  const dec = (k: string) => Buffer.from(d[k] ?? "", "base64").toString();
  return `${dec("token-id")}.${dec("token-secret")}`;
}

const withoutMasks = (text: string) =>
  text
    .split("\n")
    .filter((l) => !l.startsWith("::add-mask::"))
    .join("\n");

describe("workers: 2", () => {
  let main: StepResult;
  let post: StepResult;
  let sim: Simulator;
  let api: ApiServer;
  let hostile: string[];

  // One cluster for the checks below; each test reads a different part of it.
  const cluster = async (sharedMac: (k: string, o: object) => Promise<Simulator>) => {
    if (main) return;
    sim = await sharedMac("workers", { ...WARM, images: [...WARM.images!, "docker.io/library/nginx:1.27"] });
    const running = runStep("main", {
      sim,
      inputs: { workers: "2", "load-images": "nginx:1.27" },
      timeoutMs: 180_000,
    });
    api = await apiOf(sim);
    // Injected while the cluster comes up, beside the kubelets' own requests.
    const cpIp = sim.node(CP).ip;
    const objects = await Promise.all([
      // A worker asking for the control plane's address (its own name, a peer's IP).
      kubeletCsrObject({ name: W1, ip: cpIp }, "evil-worker-asks-cp-ip", { ips: [cpIp] }),
      // A node name the action did not create.
      kubeletCsrObject(
        { name: "kina-worker-9", ip: cpIp },
        "evil-unknown-node",
        { cn: "system:node:kina-worker-9", dns: ["kina-worker-9"] },
        { username: "system:node:kina-worker-9" },
      ),
    ]);
    hostile = objects.map((o: any) => o.metadata.name);
    for (const o of objects) api.createCsr(o);
    main = await running;
  };

  test("every node joins and turns Ready; node-ips lists them", async ({ sharedMac }) => {
    await cluster(sharedMac);
    expect(errors(main.stdout), main.stdout.slice(-3000)).toEqual([]);
    expect(main.code).toBe(0);
    const nodes = api.store.list("nodes") as any[];
    expect(nodes.map((n) => n.metadata.name).sort()).toEqual([...NODES].sort());
    for (const n of nodes) {
      const ready = n.status.conditions.find((c: any) => c.type === "Ready");
      expect(ready?.status, n.metadata.name).toBe("True");
    }
    for (const w of [W1, W2]) {
      expect(sim.node(w).joined?.controlPlane.name).toBe(CP);
      expect(sim.node(w).joined?.nodeName).toBe(w);
    }
    expect(main.outputs["node-ip"]).toBe(sim.node(CP).ip);
    expect(main.outputs["node-ips"]!.split("\n")).toEqual(NODES.map((n) => sim.node(n).ip));
    // Workers are labelled like the control plane, role worker, and publish no port.
    for (const c of sim.containers()) {
      expect(c.labels["io.kina.role"], c.name).toBe(c.name === CP ? "control-plane" : "worker");
      expect(c.labels["io.kina.cluster"]).toBe("kina");
    }
    const runs = sim.calls.filter((c) => c.tool === "container" && c.argv[0] === "run");
    for (const r of runs) expect(r.argv.includes("-p"), r.argv.join(" ")).toBe(r.argv.includes(CP));
    // With workers the control plane keeps its taint, as kind's does.
    const cp = nodes.find((n) => n.metadata.name === CP);
    expect(cp.spec.taints?.map((t: any) => t.key)).toContain("node-role.kubernetes.io/control-plane");
    // load-images reaches every node.
    for (const n of NODES)
      expect(sim.node(n).images, n).toContainEqual(expect.stringContaining("nginx:1.27"));
    // One summary row per node.
    for (const n of NODES) expect(main.summary).toContain(n);
  });

  test("each node has its podCIDR, the routes to the others and the masquerade chain", async ({
    sharedMac,
  }) => {
    await cluster(sharedMac);
    const nodes = api.store.list("nodes") as any[];
    const cidrOf = new Map(nodes.map((n) => [n.metadata.name, n.spec.podCIDR as string]));
    expect(cidrOf.get(CP)).toBe("10.244.0.0/24");
    expect(new Set(cidrOf.values()).size).toBe(3);
    for (const n of NODES) {
      expect(sim.cniProblem(n), n).toBeUndefined();
      const routes = JSON.parse((await sim.execInNode(n, ["ip", "-j", "route"])).stdout) as any[];
      for (const peer of NODES.filter((p) => p !== n)) {
        const r = routes.find((x) => x.dst === cidrOf.get(peer));
        expect(r?.gateway, `${n} → ${peer}`).toBe(sim.node(peer).ip);
      }
      const nat = (await sim.execInNode(n, ["iptables-save", "-t", "nat"])).stdout;
      expect(nat).toContain(`-A POSTROUTING -s 10.244.0.0/16`);
      expect(nat).toMatch(new RegExp(`-A ${POD_MASQUERADE_CHAIN} -d 10.244.0.0/16 .*-j RETURN`));
      expect(nat.match(new RegExp(`-j ${POD_MASQUERADE_CHAIN}`, "g"))).toHaveLength(1);
    }
  });

  test("each node's serving CSR is approved, the hostile ones stay pending", async ({ sharedMac }) => {
    await cluster(sharedMac);
    const csrs = (api.store.list("csr") as Csr[]).filter(
      (c) => c.spec.signerName === "kubernetes.io/kubelet-serving",
    );
    for (const n of NODES) {
      const own = csrs.filter(
        (c) => c.spec.username === `system:node:${n}` && !hostile.includes(c.metadata.name),
      );
      expect(
        own.some((c) => c.status?.conditions?.some((x) => x.type === "Approved") && c.status.certificate),
        n,
      ).toBe(true);
    }
    expect(api.nodeTimes[W1]?.csrApproved).toBeDefined();
    expect(api.nodeTimes[W2]?.csrApproved).toBeDefined();
    for (const name of hostile) {
      const c = csrs.find((x) => x.metadata.name === name)!;
      expect(c.status?.conditions ?? [], name).toEqual([]);
      expect(main.stdout).toMatch(new RegExp(`left CSR ${name} pending: `));
    }
  });

  test("the join token is in no command line, log, output, state or file left in a worker", async ({
    sharedMac,
  }) => {
    await cluster(sharedMac);
    const token = joinToken(api);
    const secret = token.split(".")[1]!;
    for (const c of sim.calls) expect(c.argv.join(" ")).not.toContain(secret);
    expect(withoutMasks(main.stdout)).not.toContain(secret);
    expect(main.stderr).not.toContain(secret);
    expect(JSON.stringify([main.outputs, main.state, main.exportedEnv, main.summary])).not.toContain(secret);
    expect(main.stdout).toContain(`::add-mask::${token}`);
    for (const w of [W1, W2])
      expect(existsSync(join(sim.node(w).rootfs, KUBEADM_JOIN_CONFIG_PATH))).toBe(false);
    // Both recorded before their `container run`, in the order they started.
    expect(JSON.parse(main.state.workers!).sort()).toEqual([W1, W2]);
  });

  test("post removes every node", async ({ sharedMac }) => {
    await cluster(sharedMac);
    post = await runStep("post", { sim, state: main.state });
    expect(post.code).toBe(0);
    expect(errors(post.stdout)).toEqual([]);
    expect(post.stdout).not.toContain("::warning::");
    for (const n of NODES) expect(post.stdout).toContain(`Removed node ${n}.`);
    expect(sim.containers()).toEqual([]);
  });
});

describe("workers: faults", () => {
  test("a failed join names the worker, and post removes every node", async ({ mac }) => {
    const sim = await mac({
      ...WARM,
      faults: [
        {
          when: /^kubeadm join/,
          node: W2,
          code: 1,
          stderr:
            "error execution phase preflight: couldn't validate the identity of the API Server: no route to host\n",
        },
      ],
    });
    let joinFileLeft: boolean | undefined;
    const { main, post } = await runJob({
      sim,
      inputs: { workers: "2" },
      timeoutMs: 180_000,
      // The join config is removed by the same exec as the failed join, before post runs.
      afterMain: () => {
        joinFileLeft = existsSync(join(sim.node(W2).rootfs, KUBEADM_JOIN_CONFIG_PATH));
      },
    });
    expect(main.code).not.toBe(0);
    const errs = errors(main.stdout);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toContain("Join workers: kubeadm join of kina-worker-2 failed (exit 1)");
    expect(errs[0]).toContain("no route to host");
    // The diagnostics cover every node.
    const dir = main.outputs.diagnostics!;
    for (const w of [W1, W2]) expect(readdirSync(join(dir, w))).toContain("kubelet.log");
    expect(readFileSync(join(dir, "nodes.txt"), "utf8")).toContain(W1);
    expect(joinFileLeft).toBe(false);
    expect(post.code).toBe(0);
    for (const n of NODES) expect(post.stdout).toContain(`Removed node ${n}.`);
    expect(sim.containers()).toEqual([]);
  });

  test("a failure creating worker 2 of 3 leaves nothing behind", async ({ mac }) => {
    const sim = await mac({
      ...WARM,
      ncpu: 12,
      memsize: 24 * 1024 ** 3,
      faults: [
        {
          when: `container run -d --name ${W2} `,
          code: 1,
          stderr: 'Error: internalError: "failed to boot VM"\n',
        },
      ],
    });
    const { main, post } = await runJob({
      sim,
      inputs: { workers: "3", cpus: "2", memory: "4G" },
      timeoutMs: 180_000,
    });
    expect(main.code).not.toBe(0);
    const errs = errors(main.stdout);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toContain("Node VMs:");
    expect(errs[0]).toContain("failed to boot VM");
    // Every other creation ran to its end before main gave up: both were recorded and started.
    expect(JSON.parse(main.state.workers!).sort()).toEqual([W1, W2, "kina-worker-3"]);
    expect(post.code).toBe(0);
    expect(sim.containers()).toEqual([]);
    expect(post.stdout).toContain(`Removed node ${CP}.`);
    expect(post.stdout).toContain(`Removed node ${W1}.`);
    expect(post.stdout).toContain(`Node ${W2} does not exist`);
  });

  test("macOS 15 refuses workers in preflight, before any container call", async ({ mac }) => {
    const sim = await mac({ ...WARM, macos: "15.6" });
    const { main, post } = await runJob({ sim, inputs: { workers: "1" }, timeoutMs: 60_000 });
    expect(main.code).not.toBe(0);
    const errs = errors(main.stdout);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toContain("Preflight: workers need macOS 26");
    expect(errs[0]).toContain("Use workers: 0 on this runner");
    expect(sim.calls.filter((c) => c.tool === "container")).toEqual([]);
    expect(post.code).toBe(0);
  });

  test("cancelled during the join: post removes every node", { timeout: 180_000 }, async ({ mac }) => {
    const sim = await mac({ ...WARM, latency: { kubeadmJoinMs: 600_000 } });
    // The token's Secret exists from just before the joins start; they then take minutes.
    const joining = () =>
      sim.containers().some((c) => c.name === CP) &&
      (sim.node(CP).api?.store.list("secrets") ?? []).some((s: any) =>
        String(s.metadata?.name).startsWith("bootstrap-token-"),
      );
    const { main, post } = await runJob({
      sim,
      inputs: { workers: "2" },
      timeoutMs: 180_000,
      signalAfter: { when: joining },
    });
    expect(main.code).not.toBe(0);
    expect(main.stdout).toContain("Cancelled (SIGINT)");
    expect(post.code).toBe(0);
    expect(sim.containers()).toEqual([]);
  });
});
