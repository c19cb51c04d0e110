// Issue 3: from a ready container service to a cluster a CI job can use, driving dist/ in the simulator.
import { statSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import type { Simulator } from "../sim/simulator.ts";
import { errors, runStep, type StepResult } from "../sim/runner.ts";
import { describe, expect, test } from "../fixtures/mac.ts";

/** The conflist of the PTP design (README, "Why PTP networking"), with the pod subnet put in. */
function designConflist(subnet: string): object {
  return {
    cniVersion: "0.4.0",
    name: "ptp-net",
    plugins: [
      {
        type: "ptp",
        ipMasq: true,
        ipam: { type: "host-local", subnet, routes: [{ dst: "0.0.0.0/0" }] },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

type Json = ReturnType<typeof JSON.parse>;

function kubeadmDoc(cfg: unknown, kind: string): Json {
  const docs: Json[] = Array.isArray(cfg) ? cfg : Object.values(cfg as object);
  const doc = docs.find((d) => d?.kind === kind);
  if (!doc) throw new Error(`no ${kind} in ${JSON.stringify(cfg).slice(0, 300)}`);
  return doc;
}

async function main(inputs: Record<string, string>, s: Simulator): Promise<{ r: StepResult; end: number }> {
  const r = await runStep("main", { sim: s, inputs, timeoutMs: 120_000 });
  return { r, end: performance.now() };
}

describe("provisioning", () => {
  test("creates a usable cluster with the default inputs", async ({ mac }) => {
    // CoreDNS turns Ready a second after the node: main must wait for it, not just for the node.
    const sim = await mac({ latency: { corednsMs: 1000 }, images: ["docker.io/library/nginx:1.27"] });
    const { r, end } = await main({ "load-images": "nginx:1.27" }, sim);
    expect(errors(r.stdout), r.stdout.slice(-3000)).toEqual([]);
    expect(r.code).toBe(0);

    const [vm] = sim.containers();
    expect(vm?.name).toBe("kina-control-plane");
    const node = sim.node("kina-control-plane");

    // Outputs.
    const kubeconfig = r.outputs.kubeconfig!;
    expect(r.outputs).toEqual({
      kubeconfig: join(sim.runnerTemp, "kina.kubeconfig"),
      "node-ip": node.ip,
      // One line without workers, so workflows can use it whatever `workers` is (issue 13).
      "node-ips": node.ip,
      "cluster-name": "kina",
      "kubernetes-version": "v1.37.0",
      "container-version": "1.2.2",
      "api-server": expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/),
      "cache-hit": "false",
    });
    // The default is kind v0.33.0's 1.37.0 image, by digest.
    expect(sim.containers()[0]!.image).toBe(
      "docker.io/kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
    );
    expect(r.exportedEnv.KUBECONFIG).toBe(kubeconfig);
    expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);

    // The kubeconfig alone reaches the API over mTLS through the published port.
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    expect(kc.getCurrentCluster()?.server).toBe(r.outputs["api-server"]);
    const nodes = await kc.makeApiClient(CoreV1Api).listNode();
    expect(nodes.items.map((n) => n.metadata?.name)).toEqual(["kina-control-plane"]);
    // ... and workloads can schedule: the control-plane taint is gone.
    expect(nodes.items[0]!.spec?.taints ?? []).not.toContainEqual(
      expect.objectContaining({ key: "node-role.kubernetes.io/control-plane" }),
    );

    // The conflist is exactly the design's.
    const conflist = JSON.parse(readFileSync(join(node.rootfs, "etc/cni/net.d/10-ptp.conflist"), "utf8"));
    expect(conflist).toEqual(designConflist("10.244.0.0/16"));

    // The kubeadm config carries both subnets and the serving-certificate bootstrap.
    const cluster = kubeadmDoc(node.kubeadmConfig, "ClusterConfiguration");
    expect(cluster.networking).toMatchObject({ podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/12" });
    expect(cluster.apiServer.certSANs).toEqual(expect.arrayContaining(["127.0.0.1", "localhost", node.ip]));
    expect(kubeadmDoc(node.kubeadmConfig, "KubeletConfiguration").serverTLSBootstrap).toBe(true);

    // The conflist is in place before kubeadm init, so the kubelet starts with its network and is
    // never restarted (issue 11: the restart after init is gone).
    const at = (event: string) => node.timeline.find((e) => e.event.startsWith(event))?.at;
    const written = at("conflist-written");
    expect(written, JSON.stringify(node.timeline)).toBeDefined();
    expect(written!).toBeLessThan(at("kubeadm-init-start")!);
    expect(node.timeline.filter((e) => e.event.startsWith("kubelet-restart"))).toEqual([]);
    expect(node.timeline.filter((e) => e.event.startsWith("cni-not-ready"))).toEqual([]);
    // kube-proxy's mode is explicit (1.37 warns when it is unset).
    expect(kubeadmDoc(node.kubeadmConfig, "KubeProxyConfiguration").mode).toBe("iptables");

    // main returned only after node Ready, CoreDNS Ready and the serving certificate.
    const times = node.api!.times;
    expect(times.nodeReady).toBeDefined();
    expect(times.corednsReady).toBeGreaterThan(times.nodeReady!);
    expect(times.corednsReady).toBeLessThan(end);
    expect(times.certIssued).toBeLessThan(end);
    for (const stage of [
      "node Ready",
      "CoreDNS available",
      "default ServiceAccount",
      "kubelet serving certificate issued",
    ]) {
      expect(r.stdout).toContain(`${stage} after`);
    }

    // load-images reached the node's containerd.
    expect(node.images).toContainEqual(expect.stringContaining("nginx:1.27"));

    // A summary for the job page, a log group per phase.
    expect(r.summary).toContain("Kubernetes cluster kina");
    expect(r.summary).toContain(node.ip);
    for (const g of ["Preflight", "Node VM", "kubeadm init", "CNI (ptp)", "Readiness"]) {
      expect(r.stdout).toContain(`::group::${g}`);
    }

    const post = await runStep("post", { sim, state: r.state });
    expect(post.code).toBe(0);
    expect(sim.containers()).toEqual([]);
  });

  test("reflects custom subnets, version and name everywhere", async ({ mac }) => {
    const sim = await mac({ macos: "15.6" });
    const { r } = await main(
      {
        "pod-subnet": "10.200.0.0/16",
        "service-subnet": "10.100.0.0/16",
        "kubernetes-version": "1.34",
        "cluster-name": "ci-a",
      },
      sim,
    );
    expect(errors(r.stdout), r.stdout.slice(-3000)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/::warning::macOS 15\.6: Apple container works with limits/);
    expect(sim.containers().map((c) => c.name)).toEqual(["ci-a-control-plane"]);
    const node = sim.node("ci-a-control-plane");
    expect(sim.containers()[0]!.image).toContain("kindest/node:v1.34.11@sha256:");
    const conflist = JSON.parse(readFileSync(join(node.rootfs, "etc/cni/net.d/10-ptp.conflist"), "utf8"));
    expect(conflist).toEqual(designConflist("10.200.0.0/16"));
    const cluster = kubeadmDoc(node.kubeadmConfig, "ClusterConfiguration");
    expect(cluster).toMatchObject({
      kubernetesVersion: "v1.34.11",
      clusterName: "ci-a",
      networking: { podSubnet: "10.200.0.0/16", serviceSubnet: "10.100.0.0/16" },
    });
    expect(kubeadmDoc(node.kubeadmConfig, "InitConfiguration").nodeRegistration.name).toBe(
      "ci-a-control-plane",
    );
    expect(r.outputs).toMatchObject({
      "cluster-name": "ci-a",
      "kubernetes-version": "v1.34.11",
      "node-ip": node.ip,
      kubeconfig: join(sim.runnerTemp, "ci-a.kubeconfig"),
    });
    const kc = new KubeConfig();
    kc.loadFromFile(r.outputs.kubeconfig!);
    expect(kc.getCurrentContext()).toBe("ci-a");
    await runStep("post", { sim, state: r.state });
  });

  test("names the stage and what it saw when readiness times out", async ({ mac }) => {
    const sim = await mac({ kubeletNeverReady: true });
    const { r } = await main({ wait: "4s" }, sim);
    expect(r.code).not.toBe(0);
    const [err] = errors(r.stdout);
    expect(err).toMatch(
      /^Readiness: not ready within the wait budget \(4s\): node Ready \(last observed: Ready=False/,
    );
    // The budget bounds it: it counts from the start of readiness work (the untaint, then readiness),
    // which together took about 4 s, not more.
    const untaint = Number(/Untaint control plane: done in ([\d.]+)s/.exec(r.stdout)?.[1]);
    const took = untaint + Number(/Readiness: failed after ([\d.]+)s/.exec(r.stdout)?.[1]);
    expect(took).toBeGreaterThanOrEqual(3.9);
    expect(took).toBeLessThan(4 + 3);
    const readinessGroup = r.stdout.slice(r.stdout.indexOf("::group::Readiness"));
    expect(readinessGroup).not.toContain("CoreDNS available after");
    const post = await runStep("post", { sim, state: r.state });
    expect(post.code).toBe(0);
    expect(sim.containers()).toEqual([]);
  });

  test.for(["0.8", "0.7"] as const)("reads the node IP from the %s inspect shape", async (shape, { mac }) => {
    const sim = await mac({ inspectShape: shape });
    const { r } = await main({}, sim);
    expect(errors(r.stdout), r.stdout.slice(-2000)).toEqual([]);
    expect(r.outputs["node-ip"]).toBe(sim.node("kina-control-plane").ip);
    await runStep("post", { sim, state: r.state });
  });
});
