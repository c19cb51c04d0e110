import * as core from "@actions/core";
import type { CoreV1Event, KubeConfig, V1Node } from "@kubernetes/client-node";
import { CNI_CONFLIST_PATH } from "../builders/cni-conflist.js";
import { nodeCidr } from "../builders/node-cidrs.js";
import {
  buildNodeRoutes,
  buildPodMasquerade,
  renderNodeConflist,
  routeCommand,
  type ClusterNode,
} from "../builders/node-network.js";
import { parseCidr, type Cidr } from "../cidr.js";
import type { ContainerCli } from "../container/cli.js";
import { watchUntil } from "../kube/watch-until.js";
import type { VmNode } from "./node-vm.js";

export interface PodNetworkOptions {
  podSubnet: Cidr;
  /** Absolute deadline (Date.now() scale) for every Node to get its podCIDR. */
  deadline: number;
}

/**
 * Waits until each of `nodes` has a `spec.podCIDR` (the controller-manager's range allocator sets it
 * once the Node registers; immutable after). Returns name → podCIDR. Throws at the deadline naming the
 * nodes without one, or at once with the message of a `CIDRNotAvailable` event (the pod subnet is full).
 */
export async function waitPodCidrs(
  kc: KubeConfig,
  names: string[],
  deadline: number,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error("deadline")), Math.max(deadline - Date.now(), 0));
  try {
    const full = watchUntil<CoreV1Event>(kc, {
      path: "/api/v1/events",
      query: { fieldSelector: "reason=CIDRNotAvailable" },
      signal: ac.signal,
      done: (e) => names.includes(e.involvedObject?.name ?? ""),
    }).then((e) => {
      throw new Error(
        `node ${e.involvedObject.name} got no podCIDR: ${e.message ?? "CIDRNotAvailable"}. Use a larger pod-subnet or fewer workers.`,
      );
    });
    // Settled either way once the wait ends (finally aborts it): never an unhandled rejection.
    full.catch(() => undefined);
    const all = watchUntil<V1Node>(kc, {
      path: "/api/v1/nodes",
      signal: ac.signal,
      observe: (n) => {
        const name = n.metadata?.name ?? "";
        if (names.includes(name) && n.spec?.podCIDR) found.set(name, n.spec.podCIDR);
      },
      done: () => names.every((n) => found.has(n)),
    });
    await Promise.race([all, full]);
    return found;
  } catch (err) {
    if (!ac.signal.aborted || (ac.signal.reason as Error)?.message !== "deadline") throw err;
    const missing = names.filter((n) => !found.has(n));
    throw new Error(
      `no podCIDR for ${missing.join(", ")} before the wait budget ran out: the controller-manager did not allocate one ` +
        "(see nodes.txt and events.txt in the diagnostics).",
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

/** The Node's InternalIP as it registered it, for the cross-check against `container inspect`. */
async function internalIps(
  kc: KubeConfig,
  names: string[],
  signal: AbortSignal,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await watchUntil<V1Node>(kc, {
    path: "/api/v1/nodes",
    signal,
    observe: (n) => {
      const ip = n.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
      if (ip && names.includes(n.metadata?.name ?? "")) out.set(n.metadata!.name!, ip);
    },
    done: () => names.every((n) => out.has(n)),
  });
  return out;
}

/**
 * The pod network of a cluster with workers, kindnet's recipe with the node image's plugins
 * (builders/node-network.ts): on every node a route to each other node's podCIDR via that node's VM
 * address and the KINA-MASQUERADE chain; on each worker the ptp conflist on its own podCIDR, then a
 * kubelet restart so it picks it up (the control plane's was written before kubeadm init, on the pod
 * subnet's first node CIDR, which this checks it got). Routes and NAT go in before the conflist, so no
 * pod starts without them. Addresses come from `container inspect` (ours), podCIDRs from the Nodes; a
 * Node whose InternalIP is not its VM's address is refused. Returns the nodes as the network sees them.
 */
export async function setUpPodNetwork(
  cli: ContainerCli,
  kc: KubeConfig,
  controlPlane: VmNode,
  workers: VmNode[],
  o: PodNetworkOptions,
): Promise<ClusterNode[]> {
  const vms = [controlPlane, ...workers];
  const names = vms.map((v) => v.name);
  const cidrs = await waitPodCidrs(kc, names, o.deadline);
  const signal = AbortSignal.timeout(Math.max(o.deadline - Date.now(), 1000));
  const registered = await internalIps(kc, names, signal);
  const nodes: ClusterNode[] = vms.map((v) => {
    const text = cidrs.get(v.name)!;
    const podCidr = parseCidr(text);
    if (!podCidr)
      throw new Error(`node ${v.name} has podCIDR '${text.slice(0, 40)}', which is not an IPv4 CIDR`);
    const ip = registered.get(v.name);
    if (ip !== v.ip)
      throw new Error(
        `node ${v.name} registered the address ${ip?.slice(0, 40)}, but its VM has ${v.ip} (container inspect): ` +
          "something rewrote the Node, so its routes are not set up.",
      );
    return { name: v.name, ip: v.ip, podCidr };
  });
  const expected = nodeCidr(o.podSubnet, 0);
  if (nodes[0]!.podCidr.text !== expected.text)
    throw new Error(
      `the control plane got podCIDR ${nodes[0]!.podCidr.text}, not ${expected.text}, which its conflist was written for ` +
        "before kubeadm init; its pods would take addresses of another node.",
    );
  for (const n of nodes) core.info(`${n.name}: ${n.ip}, podCIDR ${n.podCidr.text}`);
  const masquerade = buildPodMasquerade(o.podSubnet);
  const settled = await Promise.allSettled(
    nodes.map(async (n, i) => {
      const routes = buildNodeRoutes(n.name, nodes, o.podSubnet).map((r) => routeCommand(r).join(" "));
      const steps = [...routes, `iptables-restore --noflush <<'KINA_EOF'\n${masquerade}KINA_EOF`];
      await cli.script(n.name, steps, { op: "exec", what: "pod network", echo: true });
      if (i === 0) return;
      await cli.writeFile(n.name, CNI_CONFLIST_PATH, renderNodeConflist(n.podCidr), {
        echo: true,
        then: "systemctl restart kubelet",
      });
    }),
  );
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw failed.reason;
  return nodes;
}
