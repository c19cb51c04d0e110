import { type Cidr, cidrContainsCidr, cidrOverlaps, parseIPv4 } from "../cidr.js";

// The pod network of a cluster with workers: what kindnet does on kind's nodes
// (kubernetes-sigs/kind, images/kindnetd/cmd/kindnetd/{cni.go,routes.go,masq.go}), with the plugins the
// node image ships. On each node:
// - ptp + host-local on that node's own podCIDR, without ptp's ipMasq (see buildNodeConflist);
// - a route to every other node's podCIDR via that node's VM address (the VMs share one network);
// - one NAT chain: pod traffic to the pod subnet keeps its addresses, the rest is masqueraded.
// The single-node cluster keeps builders/cni-conflist.ts unchanged.

/** A node as the network sees it. */
export interface ClusterNode {
  name: string;
  /** The node VM's IPv4 address on the VM network. */
  ip: string;
  /** The node's `spec.podCIDR`, allocated by the controller-manager. */
  podCidr: Cidr;
}

/**
 * The node's PTP conflist: host-local allocates from the node's own podCIDR (gateway: its first
 * address), portmap serves hostPort.
 *
 * `ipMasq: false`: ptp's ipMasq accepts traffic to the *IPAM subnet* (here the node's podCIDR) and
 * masquerades the rest, so a pod on another node would see this node's VM address instead of the
 * client pod's. buildPodMasquerade does the masquerading instead, exempting the whole pod subnet.
 * Same cniVersion, name and file as the single-node conflist (builders/cni-conflist.ts).
 */
export function buildNodeConflist(podCidr: Cidr): object {
  return {
    cniVersion: "0.4.0",
    name: "ptp-net",
    plugins: [
      {
        type: "ptp",
        ipMasq: false,
        ipam: {
          type: "host-local",
          subnet: podCidr.text,
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

export function renderNodeConflist(podCidr: Cidr): string {
  return JSON.stringify(buildNodeConflist(podCidr), null, 2) + "\n";
}

/** An `ip route` entry: `<dst> via <gateway>`. */
export interface NodeRoute {
  dst: string;
  gateway: string;
}

/**
 * The routes node `self` needs: each other node's podCIDR via that node's VM address. The nodes come
 * from Node objects and `container inspect`, so they are checked first: every podCIDR inside the pod
 * subnet and disjoint from the others, addresses valid and distinct. A bad set would otherwise route
 * node traffic into a VM. Throws, naming the node, when a check fails or `self` is not among them.
 */
export function buildNodeRoutes(self: string, nodes: ClusterNode[], podSubnet: Cidr): NodeRoute[] {
  if (!nodes.some((n) => n.name === self)) throw new Error(`node ${self} is not among the cluster's nodes`);
  nodes.forEach((n, i) => {
    if (parseIPv4(n.ip) === undefined) throw new Error(`node ${n.name}: address ${n.ip} is not IPv4`);
    if (!cidrContainsCidr(podSubnet, n.podCidr))
      throw new Error(
        `node ${n.name}: podCIDR ${n.podCidr.text} is outside the pod subnet ${podSubnet.text}`,
      );
    for (const o of nodes.slice(0, i)) {
      if (o.name === n.name) throw new Error(`node ${n.name} is listed twice`);
      if (o.ip === n.ip) throw new Error(`nodes ${o.name} and ${n.name} share the address ${n.ip}`);
      if (cidrOverlaps(o.podCidr, n.podCidr))
        throw new Error(
          `nodes ${o.name} and ${n.name} have overlapping podCIDRs ${o.podCidr.text}, ${n.podCidr.text}`,
        );
    }
  });
  return nodes.filter((n) => n.name !== self).map((n) => ({ dst: n.podCidr.text, gateway: n.ip }));
}

/** The argv that installs one route; `replace` makes it idempotent. */
export function routeCommand(r: NodeRoute): string[] {
  return ["ip", "route", "replace", r.dst, "via", r.gateway];
}

/** The nat chain of buildPodMasquerade. */
export const POD_MASQUERADE_CHAIN = "KINA-MASQUERADE";

/**
 * Input for `iptables-restore --noflush` on a node: pod traffic (source in the pod subnet) to the pod
 * subnet keeps its addresses; to anywhere else (other VMs, the Mac, the internet) it is masqueraded
 * to the node's address, since nothing outside the nodes routes pod addresses back. Multicast is left
 * alone, as ptp's ipMasq does. Declaring the chain flushes it, so a rerun leaves one copy of the chain
 * (the POSTROUTING jump is appended: apply once per node).
 */
export function buildPodMasquerade(podSubnet: Cidr): string {
  const c = POD_MASQUERADE_CHAIN;
  return [
    "*nat",
    `:${c} - [0:0]`,
    `-A POSTROUTING -s ${podSubnet.text} -m comment --comment "kina: pod traffic" -j ${c}`,
    `-A ${c} -d ${podSubnet.text} -m comment --comment "kina: pod to pod keeps pod addresses" -j RETURN`,
    `-A ${c} -d 224.0.0.0/4 -j RETURN`,
    `-A ${c} -m comment --comment "kina: leaving the pod subnet" -j MASQUERADE`,
    "COMMIT",
    "",
  ].join("\n");
}
