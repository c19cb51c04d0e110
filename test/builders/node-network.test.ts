import { describe, expect, it } from "vitest";
import { buildCniConflist } from "../../src/builders/cni-conflist.js";
import {
  buildNodeConflist,
  buildNodeRoutes,
  buildPodMasquerade,
  POD_MASQUERADE_CHAIN,
  renderNodeConflist,
  routeCommand,
  type ClusterNode,
} from "../../src/builders/node-network.js";
import { parseCidr, type Cidr } from "../../src/cidr.js";

function cidr(text: string): Cidr {
  const c = parseCidr(text);
  if (!c) throw new Error(`bad test CIDR ${text}`);
  return c;
}
const POD_SUBNET = cidr("10.244.0.0/16");
const nodes: ClusterNode[] = [
  { name: "kina-control-plane", ip: "192.168.64.2", podCidr: cidr("10.244.0.0/24") },
  { name: "kina-worker-1", ip: "192.168.64.3", podCidr: cidr("10.244.2.0/24") },
  { name: "kina-worker-2", ip: "192.168.64.4", podCidr: cidr("10.244.1.0/24") },
];

describe("buildNodeConflist", () => {
  it("is the single-node conflist on the node's own podCIDR, without ptp's ipMasq", () => {
    const single = buildCniConflist(cidr("10.244.1.0/24")) as { plugins: Record<string, unknown>[] };
    single.plugins[0]!.ipMasq = false;
    expect(buildNodeConflist(cidr("10.244.1.0/24"))).toStrictEqual(single);
  });

  it("renders as 2-space JSON with a final newline", () => {
    const text = renderNodeConflist(cidr("10.244.3.0/24"));
    expect(JSON.parse(text)).toStrictEqual(buildNodeConflist(cidr("10.244.3.0/24")));
    expect(text.endsWith("}\n")).toBe(true);
    expect(text).toContain('\n  "cniVersion": "0.4.0",\n');
  });
});

describe("buildNodeRoutes", () => {
  it("routes every other node's podCIDR via that node's VM address", () => {
    expect(buildNodeRoutes("kina-worker-1", nodes, POD_SUBNET)).toEqual([
      { dst: "10.244.0.0/24", gateway: "192.168.64.2" },
      { dst: "10.244.1.0/24", gateway: "192.168.64.4" },
    ]);
    expect(buildNodeRoutes("kina-control-plane", nodes.slice(0, 1), POD_SUBNET)).toEqual([]);
  });

  it("installs each with `ip route replace`, so a rerun changes nothing", () => {
    expect(routeCommand({ dst: "10.244.1.0/24", gateway: "192.168.64.4" })).toEqual([
      "ip",
      "route",
      "replace",
      "10.244.1.0/24",
      "via",
      "192.168.64.4",
    ]);
  });

  const bad = (i: number, change: Partial<ClusterNode>) =>
    nodes.map((n, j) => (j === i ? { ...n, ...change } : n));
  it.each([
    ["an unknown node", "kina-worker-9", nodes, /kina-worker-9 is not among/],
    [
      "a podCIDR outside the pod subnet",
      "kina-worker-1",
      bad(2, { podCidr: cidr("0.0.0.0/0") }),
      /kina-worker-2: podCIDR 0.0.0.0\/0 is outside/,
    ],
    [
      "the VM network as a podCIDR",
      "kina-worker-1",
      bad(2, { podCidr: cidr("192.168.64.0/24") }),
      /outside the pod subnet/,
    ],
    [
      "overlapping podCIDRs",
      "kina-worker-1",
      bad(2, { podCidr: cidr("10.244.0.0/23") }),
      /kina-control-plane and kina-worker-2 have overlapping/,
    ],
    ["a shared address", "kina-worker-1", bad(2, { ip: "192.168.64.3" }), /share the address 192.168.64.3/],
    ["a bad address", "kina-worker-1", bad(2, { ip: "192.168.64.300" }), /not IPv4/],
    ["a node listed twice", "kina-worker-1", [...nodes, nodes[1]!], /kina-worker-1 is listed twice/],
  ])("refuses %s", (_what, self, list, message) => {
    expect(() => buildNodeRoutes(self, list, POD_SUBNET)).toThrow(message);
  });
});

describe("buildPodMasquerade", () => {
  it("exempts the pod subnet and masquerades the rest of the pods' traffic, in one nat chain", () => {
    expect(buildPodMasquerade(cidr("10.200.0.0/16"))).toBe(
      [
        "*nat",
        `:${POD_MASQUERADE_CHAIN} - [0:0]`,
        `-A POSTROUTING -s 10.200.0.0/16 -m comment --comment "kina: pod traffic" -j ${POD_MASQUERADE_CHAIN}`,
        `-A ${POD_MASQUERADE_CHAIN} -d 10.200.0.0/16 -m comment --comment "kina: pod to pod keeps pod addresses" -j RETURN`,
        `-A ${POD_MASQUERADE_CHAIN} -d 224.0.0.0/4 -j RETURN`,
        `-A ${POD_MASQUERADE_CHAIN} -m comment --comment "kina: leaving the pod subnet" -j MASQUERADE`,
        "COMMIT",
        "",
      ].join("\n"),
    );
  });
});
