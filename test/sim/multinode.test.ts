// Multi-node clusters in the simulator (issue 13): `kubeadm join` against the control plane's API
// server, the controller-manager's podCIDR per node, and a kubelet per node. Driven through the fake
// CLI with the product's own builders, as phase 2's steps will drive it.
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects here are untyped JSON */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, test, type SharedMac } from "../fixtures/mac.ts";
import { generateBootstrapToken, type BootstrapToken } from "../../src/builders/bootstrap-token.js";
import { renderCniConflist } from "../../src/builders/cni-conflist.js";
import { renderKubeadmConfig } from "../../src/builders/kubeadm-config.js";
import {
  caCertHash,
  renderJoinConfiguration,
  type JoinConfigInput,
} from "../../src/builders/kubeadm-join.js";
import { NODE_CIDR_MASK_SIZE } from "../../src/builders/node-cidrs.js";
import {
  buildNodeRoutes,
  buildPodMasquerade,
  POD_MASQUERADE_CHAIN,
  renderNodeConflist,
  routeCommand,
} from "../../src/builders/node-network.js";
import { parseCidr } from "../../src/cidr.js";
import { createBootstrapToken } from "../../src/kube/bootstrap-token.js";
import { IGNORED_PREFLIGHT_ERRORS } from "../../src/steps/kubeadm-init.js";
import { createCa, describeCsr } from "./kube/certs.ts";
import { hostShell as sh, type Simulator } from "./simulator.ts";

const NODE_IMAGE =
  "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0";
const NODE_FLAGS = "--cap-add ALL --read-only-path NONE --masked-path NONE";
const CP = "kina-control-plane";
const W1 = "kina-worker-1";
const W2 = "kina-worker-2";
const POD_SUBNET = parseCidr("10.244.0.0/16")!;
const JOIN_PATH = "/etc/kubernetes/kubeadm-join.yaml";
const BRIDGE_NF = "--ignore-preflight-errors FileContent--proc-sys-net-bridge-bridge-nf-call-iptables";

async function ok(sim: Simulator, cmd: string, input?: string): Promise<string> {
  const r = await sh(sim, cmd, { input });
  if (r.code !== 0) throw new Error(`${cmd}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function eventually<T>(what: string, get: () => T | undefined | false, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A running control plane: the VM, kubeadm init with node CIDR allocation, an admin client. */
async function controlPlane(sim: Simulator, workers: string[]): Promise<KubeConfig> {
  for (const name of [CP, ...workers])
    await ok(sim, `container run -d --name ${name} ${NODE_FLAGS} ${NODE_IMAGE}`);
  await Promise.all(
    [CP, ...workers].map((n) =>
      eventually(`${n} containerd`, () => sim.node(n).timeline.some((e) => e.event === "containerd-ready")),
    ),
  );
  for (const name of [CP, ...workers])
    await ok(sim, `container exec ${name} sysctl -w net.ipv4.ip_forward=1`);
  const cp = sim.node(CP);
  const config = renderKubeadmConfig({
    clusterName: "kina",
    nodeName: CP,
    nodeIP: cp.ip,
    kubernetesVersion: "1.35.8",
    podSubnet: POD_SUBNET,
    serviceSubnet: parseCidr("10.96.0.0/12")!,
    nodeCidrMaskSize: NODE_CIDR_MASK_SIZE,
  });
  await ok(sim, `container exec -i ${CP} sh -c 'cat > /etc/kubernetes/kubeadm.yaml'`, config);
  await ok(sim, `container exec ${CP} kubeadm init --config /etc/kubernetes/kubeadm.yaml ${BRIDGE_NF}`);
  const kc = new KubeConfig();
  kc.loadFromString(cp.api!.adminKubeconfig(cp.api!.urls[0]!));
  return kc;
}

function joinInput(
  sim: Simulator,
  worker: string,
  token: BootstrapToken,
  change: Partial<JoinConfigInput> = {},
) {
  const cp = sim.node(CP);
  return {
    nodeName: worker,
    nodeIP: sim.node(worker).ip,
    apiServerEndpoint: `${cp.ip}:6443`,
    token: token.value,
    caCertHashes: [caCertHash(readFileSync(join(cp.rootfs, "etc/kubernetes/pki/ca.crt"), "utf8"))],
    ignorePreflightErrors: IGNORED_PREFLIGHT_ERRORS,
    ...change,
  };
}

/** Writes the JoinConfiguration through stdin into a 0600 file, as phase 2 will, and runs the join. */
async function join_(sim: Simulator, worker: string, input: JoinConfigInput) {
  await ok(
    sim,
    `container exec -i ${worker} sh -c 'umask 077; cat > ${JOIN_PATH}'`,
    renderJoinConfiguration(input),
  );
  return sh(sim, `container exec ${worker} kubeadm join --config ${JOIN_PATH}`);
}

function nodes(sim: Simulator): any[] {
  return sim.node(CP).api!.store.list("nodes");
}
const nodeNamed = (sim: Simulator, name: string) => nodes(sim).find((n) => n.metadata.name === name);
const isReady = (n: any) =>
  n?.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");

describe("a control plane and two workers", () => {
  let sim: Simulator;
  let kc: KubeConfig;
  let token: BootstrapToken;
  // One cluster for the file, built on by the tests in order (the fixture stops it when the file ends).
  const setUp = async (sharedMac: SharedMac) => {
    sim = await sharedMac("cluster", { serviceRunning: true, kernelInstalled: true }, async (s) => {
      kc = await controlPlane(s, [W1, W2]);
      token = generateBootstrapToken();
      await createBootstrapToken(kc, token);
    });
  };

  test("allocates the control plane the pod subnet's first node CIDR", async ({ sharedMac }) => {
    await setUp(sharedMac);
    expect(nodeNamed(sim, CP).spec.podCIDR).toBe("10.244.0.0/24");
  });

  test("refuses joins with a wrong CA pin, token, endpoint or node address, and registers nothing", async ({
    sharedMac,
  }) => {
    await setUp(sharedMac);
    const other = caCertHash((await createCa()).certPem);
    const expired = generateBootstrapToken();
    await createBootstrapToken(kc, expired, { now: new Date(Date.now() - 3_600_000) });
    const cases: [Partial<JoinConfigInput>, string][] = [
      [
        { caCertHashes: [other] },
        `none of the public keys "${joinInput(sim, W1, token).caCertHashes[0]}" are pinned`,
      ],
      [
        { token: generateBootstrapToken().value },
        "could not find a JWS signature in the cluster-info ConfigMap",
      ],
      [{ token: `${token.id}.${"0".repeat(16)}` }, "failed to verify JWS signature"],
      [{ token: expired.value }, `for token ID "${expired.id}"`],
      [{ apiServerEndpoint: `${sim.node(CP).ip}:6444` }, "connect: connection refused"],
      [{ apiServerEndpoint: "127.0.0.1:6443" }, "connect: connection refused"],
      [
        { nodeIP: sim.node(W2).ip },
        `node IP: "${sim.node(W2).ip}" not found in the host's network interfaces`,
      ],
    ];
    for (const [change, message] of cases) {
      const r = await join_(sim, W1, joinInput(sim, W1, token, change));
      expect(r.code, JSON.stringify(change)).toBe(1);
      expect(r.stderr).toContain(message);
      expect(r.stdout + r.stderr).not.toContain(token.secret);
    }
    const noPin = renderJoinConfiguration(joinInput(sim, W1, token)).replace(/caCertHashes:\n.*\n/, "");
    await ok(sim, `container exec -i ${W1} sh -c 'cat > ${JOIN_PATH}'`, noPin);
    const unpinned = await sh(sim, `container exec ${W1} kubeadm join --config ${JOIN_PATH}`);
    expect(unpinned.stderr).toContain("using token-based discovery without caCertHashes can be unsafe");
    expect(nodes(sim).map((n) => n.metadata.name)).toEqual([CP]);
    expect(sim.node(W1).joined).toBeUndefined();
  });

  test("joins both workers in parallel, each with its own podCIDR, a fault aimed at one join hitting only that one", async ({
    sharedMac,
  }) => {
    await setUp(sharedMac);
    sim.faults.push({
      when: /^kubeadm join/,
      node: W2,
      times: 1,
      code: 1,
      stderr: "error execution phase preflight: simulated",
    });
    const [r1, r2] = await Promise.all([
      join_(sim, W1, joinInput(sim, W1, token)),
      join_(sim, W2, joinInput(sim, W2, token)),
    ]);
    expect(r1.code).toBe(0);
    expect(r1.stdout).toContain("This node has joined the cluster");
    expect(r2).toMatchObject({ code: 1, stderr: "error execution phase preflight: simulated\n" });
    expect(sim.calls.filter((c) => c.fault).map((c) => c.node)).toEqual([W2]);
    expect((await join_(sim, W2, joinInput(sim, W2, token))).code).toBe(0);

    const cidrs = await eventually("podCIDRs", () => {
      const all = nodes(sim).map((n) => n.spec.podCIDR);
      return all.every(Boolean) && all;
    });
    expect(new Set(cidrs)).toEqual(new Set(["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]));
    for (const w of [W1, W2]) {
      const n = nodeNamed(sim, w);
      expect(n.status.addresses).toContainEqual({ type: "InternalIP", address: sim.node(w).ip });
      expect(n.metadata.labels).not.toHaveProperty("node-role.kubernetes.io/control-plane");
      expect(n.spec.taints).toEqual([{ key: "node.kubernetes.io/not-ready", effect: "NoSchedule" }]);
      expect(isReady(n)).toBe(false);
      expect(sim.node(w).joined).toMatchObject({ controlPlane: { name: CP }, nodeName: w });
    }
    const api = sim.node(CP).api!;
    const proxies = api.store
      .list("pods", "kube-system")
      .filter((p: any) => p.metadata.labels?.["k8s-app"] === "kube-proxy");
    expect(proxies.map((p: any) => p.spec.nodeName).sort()).toEqual([CP, W1, W2]);
    // TLS bootstrap: one client CSR per worker from the token's identity, approved and issued.
    const client = api.store
      .list("certificatesigningrequests")
      .filter((c: any) => c.spec.signerName === "kubernetes.io/kube-apiserver-client-kubelet");
    expect(client).toHaveLength(2);
    for (const c of client) {
      expect(c.spec.username).toBe(`system:bootstrap:${token.id}`);
      expect(c.status.certificate).toBeTruthy();
    }
    // The second join of a node fails its preflight.
    const again = await join_(sim, W1, joinInput(sim, W1, token));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("[ERROR FileAvailable--etc-kubernetes-kubelet.conf]");
  });

  test("keeps a worker NotReady on the single-node conflist and turns it Ready on its own podCIDR", async ({
    sharedMac,
  }) => {
    await setUp(sharedMac);
    const podCidr = parseCidr(nodeNamed(sim, W1).spec.podCIDR)!;
    await ok(
      sim,
      `container exec -i ${W1} sh -c 'cat > /etc/cni/net.d/10-ptp.conflist'`,
      renderCniConflist(POD_SUBNET),
    );
    await ok(sim, `container exec ${W1} systemctl restart kubelet`);
    expect(sim.cniProblem(W1)).toContain(`is not the node's podCIDR ${podCidr.text}`);
    expect(sim.node(W1).timeline.at(-1)?.event).toMatch(/^cni-not-ready/);
    await ok(
      sim,
      `container exec -i ${W1} sh -c 'cat > /etc/cni/net.d/10-ptp.conflist'`,
      renderNodeConflist(podCidr),
    );
    expect(sim.cniProblem(W1)).toBeUndefined();
    await ok(sim, `container exec ${W1} systemctl restart kubelet`);
    await eventually(`${W1} Ready`, () => isReady(nodeNamed(sim, W1)));
    expect(isReady(nodeNamed(sim, W2))).toBe(false);
  });

  test("files each worker's serving CSR with its own name and VM address", async ({ sharedMac }) => {
    await setUp(sharedMac);
    const api = sim.node(CP).api!;
    const csr = await eventually(`${W1}'s serving CSR`, () =>
      api.store
        .list("certificatesigningrequests")
        .find(
          (c: any) =>
            c.spec.signerName === "kubernetes.io/kubelet-serving" && c.spec.username === `system:node:${W1}`,
        ),
    );
    expect(csr.spec.groups).toContain("system:nodes");
    const info = await describeCsr(Buffer.from(csr.spec.request, "base64").toString());
    expect(info).toMatchObject({
      cn: `system:node:${W1}`,
      o: ["system:nodes"],
      dns: [W1],
      ips: [sim.node(W1).ip],
    });
    expect(api.nodeTimes[W1]?.csrCreated).toBeGreaterThan(api.nodeTimes[W1]?.nodeReady ?? Infinity);
  });

  test("takes each node's routes and masquerade chain in its own network namespace", async ({
    sharedMac,
  }) => {
    await setUp(sharedMac);
    const cluster = [CP, W1, W2].map((name) => ({
      name,
      ip: sim.node(name).ip,
      podCidr: parseCidr(nodeNamed(sim, name).spec.podCIDR)!,
    }));
    for (const { name } of cluster) {
      for (const r of buildNodeRoutes(name, cluster, POD_SUBNET))
        await ok(sim, `container exec ${name} ${routeCommand(r).join(" ")}`);
      await ok(sim, `container exec -i ${name} iptables-restore --noflush`, buildPodMasquerade(POD_SUBNET));
    }
    for (const { name } of cluster) {
      const routes = JSON.parse((await sim.execInNode(name, ["ip", "-j", "route", "show"])).stdout) as any[];
      const peers = cluster.filter((n) => n.name !== name);
      expect(
        routes
          .filter((r) => r.dst.startsWith("10.244."))
          .map((r) => `${r.dst} via ${r.gateway}`)
          .sort(),
      ).toEqual(peers.map((p) => `${p.podCidr.text} via ${p.ip}`).sort());
      const nat = (await sim.execInNode(name, ["iptables-save", "-t", "nat"])).stdout;
      expect(nat).toContain(`-A POSTROUTING -s 10.244.0.0/16`);
      expect(nat).toMatch(new RegExp(`-A ${POD_MASQUERADE_CHAIN} .*-j MASQUERADE`));
    }
  });

  test("reports a control plane conflist that spans the workers' podCIDRs", async ({ sharedMac }) => {
    await setUp(sharedMac);
    await ok(
      sim,
      `container exec -i ${CP} sh -c 'cat > /etc/cni/net.d/10-ptp.conflist'`,
      renderCniConflist(POD_SUBNET),
    );
    expect(sim.cniProblem(CP)).toMatch(
      /spans the podCIDRs of kina-worker-\d \(10\.244\.\d\.0\/24\), kina-worker-\d/,
    );
    await ok(
      sim,
      `container exec -i ${CP} sh -c 'cat > /etc/cni/net.d/10-ptp.conflist'`,
      renderNodeConflist(parseCidr("10.244.0.0/24")!),
    );
    expect(sim.cniProblem(CP)).toBeUndefined();
  });
});

describe("kubeadm join on a Mac whose VM network carries no traffic between containers", () => {
  test("fails discovery with no route to the control plane on macOS 15", async ({ mac }) => {
    const sim = await mac({ serviceRunning: true, kernelInstalled: true, macos: "15.6" });
    const kc = await controlPlane(sim, [W1]);
    const token = generateBootstrapToken();
    await createBootstrapToken(kc, token);
    const r = await join_(sim, W1, joinInput(sim, W1, token));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`dial tcp ${sim.node(CP).ip}:6443: connect: no route to host`);
  });
});

describe("the controller-manager's node CIDR flags", () => {
  test("fails kubeadm init when the node CIDR mask is wider than the pod subnet", async ({ mac }) => {
    const sim = await mac({ serviceRunning: true, kernelInstalled: true });
    await ok(sim, `container run -d --name ${CP} ${NODE_FLAGS} ${NODE_IMAGE}`);
    await eventually("containerd", () => sim.node(CP).timeline.some((e) => e.event === "containerd-ready"));
    await ok(sim, `container exec ${CP} sysctl -w net.ipv4.ip_forward=1`);
    const config = renderKubeadmConfig({
      clusterName: "kina",
      nodeName: CP,
      nodeIP: sim.node(CP).ip,
      kubernetesVersion: "1.35.8",
      podSubnet: parseCidr("10.244.0.0/24")!,
      serviceSubnet: parseCidr("10.96.0.0/12")!,
      nodeCidrMaskSize: 23,
    });
    await ok(sim, `container exec -i ${CP} sh -c 'cat > /etc/kubernetes/kubeadm.yaml'`, config);
    const r = await sh(
      sim,
      `container exec ${CP} kubeadm init --config /etc/kubernetes/kubeadm.yaml ${BRIDGE_NF}`,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("kube-controller-manager is not healthy");
    expect(sim.node(CP).api).toBeUndefined();
  });
});
