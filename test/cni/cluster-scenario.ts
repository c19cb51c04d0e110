// A cluster lab configured the way the action configures its nodes: per node the routes
// (buildNodeRoutes), the masquerade chain (buildPodMasquerade) and the conflist (buildNodeConflist),
// then pods attached through the real plugins. A variant replaces one of those for a test of the test.
import {
  buildNodeConflist,
  buildNodeRoutes,
  buildPodMasquerade,
  routeCommand,
  type NodeRoute,
} from "../../src/builders/node-network.js";
import type { Cidr } from "../../src/cidr.js";
import {
  addNetworkList,
  asNetworkList,
  delNetworkList,
  type Attachment,
  type DriverOptions,
  type NetworkConfigList,
} from "./cni-driver.ts";
import type { ClusterLab, LabNode, LabPod } from "./cluster-lab.ts";
import { CNI_BIN_DIR, inNs, runOk, startAgent } from "./netns-lab.ts";
import { HOST_PORT, HTTP_PORT, type PodUnderTest } from "./ptp-checks.ts";

export interface NetworkVariant {
  conflist?: (node: LabNode) => object;
  routes?: (node: LabNode, lab: ClusterLab, podSubnet: Cidr) => NodeRoute[];
  /** iptables-restore input, or undefined for none. */
  masquerade?: (podSubnet: Cidr) => string | undefined;
}

export interface ClusterPod extends PodUnderTest {
  node: LabNode;
  netnsPath: string;
}

export interface ClusterScenario {
  lab: ClusterLab;
  podSubnet: Cidr;
  lists: Map<string, NetworkConfigList>;
  pods: ClusterPod[];
  /** The pod that publishes HOST_PORT: the first pod of the first worker. */
  hostPortPod: ClusterPod | undefined;
  addErrors: Map<string, Error>;
}

export const productNetwork: Required<NetworkVariant> = {
  conflist: (node) => buildNodeConflist(node.podCidr),
  routes: (node, lab, podSubnet) =>
    buildNodeRoutes(
      node.name,
      lab.nodes.map((n) => ({ name: n.name, ip: n.ip, podCidr: n.podCidr })),
      podSubnet,
    ),
  masquerade: (podSubnet) => buildPodMasquerade(podSubnet),
};

function driverFor(node: LabNode): DriverOptions {
  return { nodeNs: node.nodeNs, binDir: CNI_BIN_DIR, ipamDataDir: node.ipamDataDir };
}

function attachment(pod: Pick<LabPod, "containerId" | "netnsPath">, hostPort: boolean): Attachment {
  return {
    containerId: pod.containerId,
    netnsPath: pod.netnsPath,
    ifName: "eth0",
    runtimeConfig: hostPort
      ? { portMappings: [{ hostPort: HOST_PORT, containerPort: HTTP_PORT, protocol: "tcp" as const }] }
      : {},
  };
}

/**
 * The node network first (routes, masquerade), as a node gets it before its pods; then HTTP agents
 * in every pod and on the Mac, alongside the CNI ADDs (concurrent per node, as kubelets run).
 */
export async function setUpCluster(
  lab: ClusterLab,
  podSubnet: Cidr,
  variant: NetworkVariant = {},
): Promise<ClusterScenario> {
  const v = { ...productNetwork, ...variant };
  for (const node of lab.nodes) {
    for (const r of v.routes(node, lab, podSubnet)) {
      const [cmd, ...args] = routeCommand(r);
      await runOk("ip", ["netns", "exec", node.nodeNs, cmd!, ...args]);
    }
    const nat = v.masquerade(podSubnet);
    if (nat !== undefined) {
      const r = await inNs(node.nodeNs, "iptables-restore", ["--noflush"], { input: nat });
      if (r.code !== 0) throw new Error(`iptables-restore in ${node.name}: ${r.stderr.trim()}`);
    }
  }
  const lists = new Map(lab.nodes.map((n) => [n.name, asNetworkList(v.conflist(n))]));
  const hostPortPod = lab.nodes[1]?.pods[0];
  const addErrors = new Map<string, Error>();
  const agents = Promise.all([
    startAgent(lab, lab.vmnetNs, "outside", HTTP_PORT),
    ...lab.nodes.flatMap((n) => n.pods.map((p) => startAgent(lab, p.ns, p.name, HTTP_PORT))),
  ]);
  const added = Promise.all(
    lab.nodes.flatMap((node) =>
      node.pods.map(async (p): Promise<ClusterPod> => {
        const base = { name: p.name, ns: p.ns, containerId: p.containerId, netnsPath: p.netnsPath, node };
        try {
          const att = attachment(p, p === hostPortPod);
          return { ...base, result: await addNetworkList(lists.get(node.name)!, att, driverFor(node)) };
        } catch (e) {
          addErrors.set(p.name, e as Error);
          return base;
        }
      }),
    ),
  );
  const [pods, started] = await Promise.allSettled([added, agents]);
  if (pods.status === "rejected") throw pods.reason;
  const s: ClusterScenario = {
    lab,
    podSubnet,
    lists,
    pods: pods.value,
    hostPortPod: pods.value.find((p) => p.containerId === hostPortPod?.containerId),
    addErrors,
  };
  if (started.status === "rejected") {
    await detachAll(s).catch(() => {});
    throw started.reason;
  }
  return s;
}

export async function detachAll(s: ClusterScenario): Promise<void> {
  await Promise.all(
    s.pods.map((p) =>
      delNetworkList(
        s.lists.get(p.node.name)!,
        attachment(p, p.containerId === s.hostPortPod?.containerId),
        p.result,
        driverFor(p.node),
      ),
    ),
  );
}
