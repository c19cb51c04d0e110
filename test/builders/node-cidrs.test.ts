import { describe, expect, it } from "vitest";
import {
  controllerManagerNodeCidrArgs,
  NODE_CIDR_MASK_SIZE,
  nodeCidr,
  nodeCidrCapacity,
  podSubnetCapacityProblem,
} from "../../src/builders/node-cidrs.js";
import { cidrContainsCidr, cidrOverlaps, parseCidr, type Cidr } from "../../src/cidr.js";

const cidr = (t: string): Cidr =>
  parseCidr(t) ??
  (() => {
    throw new Error(t);
  })();

describe("per-node pod CIDRs", () => {
  it("uses the controller-manager's IPv4 default, /24", () => {
    expect(NODE_CIDR_MASK_SIZE).toBe(24);
  });

  it.each([
    ["10.244.0.0/16", 24, 256],
    ["10.244.0.0/23", 24, 2],
    ["10.244.0.0/24", 24, 1],
    ["10.0.0.0/8", 24, 65536],
    ["10.244.0.0/16", 26, 1024],
    ["10.244.0.0/24", 23, 0],
  ])("%s holds 2^(mask - prefix) node CIDRs of /%i: %i", (subnet, mask, n) => {
    expect(nodeCidrCapacity(cidr(subnet), mask)).toBe(n);
  });

  it("hands out the lowest subnets first, disjoint and inside the pod subnet", () => {
    const pod = cidr("10.244.0.0/16");
    const all = [0, 1, 2, 255].map((i) => nodeCidr(pod, i));
    expect(all.map((c) => c.text)).toEqual([
      "10.244.0.0/24",
      "10.244.1.0/24",
      "10.244.2.0/24",
      "10.244.255.0/24",
    ]);
    for (const [i, c] of all.entries()) {
      expect(cidrContainsCidr(pod, c)).toBe(true);
      for (const d of all.slice(0, i)) expect(cidrOverlaps(c, d)).toBe(false);
    }
    expect(nodeCidr(cidr("10.200.0.0/22"), 3, 26).text).toBe("10.200.0.192/26");
    // Each is what parseCidr makes of its own text.
    expect(nodeCidr(pod, 7)).toStrictEqual(parseCidr("10.244.7.0/24"));
  });

  it("throws past the subnet's capacity", () => {
    expect(() => nodeCidr(cidr("10.244.0.0/23"), 2)).toThrow(RangeError);
    expect(() => nodeCidr(cidr("10.244.0.0/23"), -1)).toThrow(/no node CIDR -1/);
  });

  it("says when the pod subnet cannot give every node its own CIDR, and the prefix that can", () => {
    expect(podSubnetCapacityProblem(cidr("10.244.0.0/16"), 3)).toBeUndefined();
    expect(podSubnetCapacityProblem(cidr("10.244.0.0/24"), 1)).toBeUndefined();
    expect(podSubnetCapacityProblem(cidr("10.244.0.0/23"), 2)).toBeUndefined();
    expect(podSubnetCapacityProblem(cidr("10.244.0.0/24"), 2)).toBe(
      "pod-subnet 10.244.0.0/24 holds 1 node CIDR of /24 (one per node), but 2 nodes need one each; " +
        "use a pod-subnet of /23 or larger (e.g. the default 10.244.0.0/16), or fewer workers",
    );
    expect(podSubnetCapacityProblem(cidr("10.244.0.0/23"), 3)).toContain("use a pod-subnet of /22 or larger");
    expect(podSubnetCapacityProblem(cidr("10.244.0.0/22"), 5)).toContain("holds 4 node CIDRs");
  });

  it("spells the controller-manager flags in kubeadm v1beta4's list form", () => {
    expect(controllerManagerNodeCidrArgs(cidr("10.200.0.0/16"))).toEqual([
      { name: "allocate-node-cidrs", value: "true" },
      { name: "cluster-cidr", value: "10.200.0.0/16" },
      { name: "node-cidr-mask-size", value: "24" },
    ]);
  });
});
