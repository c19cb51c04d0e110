// Issue 13: the multi-node pod network, run by Debian's containernetworking-plugins (the plugins the
// node image ships) in namespaces this test creates: three "node VMs" on one bridged "VM network",
// pods on each, configured only by the product's builders (conflist, routes, masquerade chain) and
// the node CIDRs the controller-manager would hand out. See cluster-lab.ts for the layout.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeCidr } from "../../src/builders/node-cidrs.js";
import { parseCidr } from "../../src/cidr.js";
import { createClusterLab, destroyClusterLab, type ClusterLab } from "./cluster-lab.ts";
import {
  checkEgress,
  checkHostPort,
  checkNodeNetworkKept,
  checkPodCidrs,
  checkPodToPod,
  checkRoutes,
  clusterFailures,
  formatClusterFindings,
  podsOn,
  type ClusterFinding,
} from "./cluster-checks.ts";
import { detachAll, setUpCluster, type ClusterScenario } from "./cluster-scenario.ts";
import { labSkipReason, warnSkipped } from "./netns-lab.ts";
import { checkAddressing, checkNodeSide, checkTornDown, hostVethOf, type Finding } from "./ptp-checks.ts";

const skip = labSkipReason();
if (skip) warnSkipped("multi-node PTP CNI test (test/cni/multinode-network.test.ts)", skip);

const POD_SUBNET = parseCidr("10.244.0.0/16")!;

/** ptp-checks name the node side "node"; here there are several. */
function named(node: string, f: Finding[]): Finding[] {
  return f.map((x) => (x.subject === "node" ? { ...x, subject: node } : x));
}

function expectAllOk(findings: (ClusterFinding | Finding)[]): void {
  expect(findings.length).toBeGreaterThan(0);
  expect(formatClusterFindings(clusterFailures(findings))).toBe("");
}

describe.skipIf(skip !== undefined)("the multi-node PTP network from the product's builders", () => {
  let lab: ClusterLab | undefined;
  let s: ClusterScenario | undefined;
  let detached = false;
  const findings: (ClusterFinding | Finding)[] = [];
  const record = <T extends ClusterFinding | Finding>(f: T[]): T[] => {
    findings.push(...f);
    return f;
  };
  const scenario = (): ClusterScenario => {
    if (!s) throw new Error("setup failed");
    return s;
  };

  beforeAll(async () => {
    // The controller-manager's order: the control plane first; workers as they register.
    lab = await createClusterLab([
      { name: "kina-control-plane", podCidr: nodeCidr(POD_SUBNET, 0), pods: ["a1", "a2"] },
      { name: "kina-worker-1", podCidr: nodeCidr(POD_SUBNET, 2), pods: ["b1"] },
      { name: "kina-worker-2", podCidr: nodeCidr(POD_SUBNET, 1), pods: ["c1"] },
    ]);
    s = await setUpCluster(lab, POD_SUBNET);
    const errors = [...s.addErrors].map(([pod, e]) => `${pod}: ${e.message}`);
    if (errors.length > 0) throw new Error(`CNI ADD failed:\n${errors.join("\n")}`);
  });

  afterAll(async () => {
    let delError: unknown;
    try {
      if (s && !detached) await detachAll(s);
    } catch (e) {
      delError = e;
    }
    const problems = await destroyClusterLab(lab);
    console.log(
      [
        "Multi-node PTP CNI (conflists, routes and NAT from src/builders/node-network.ts, plugins from /usr/lib/cni)",
        ...(lab?.nodes ?? []).map(
          (n) =>
            `  ${n.name} ${n.ip} podCIDR ${n.podCidr.text}: ` +
            (s ? podsOn(s, n) : [])
              .map((p) => `${p.name} ${p.result?.ips?.[0]?.address ?? "-"} (${hostVethOf(p) ?? "-"})`)
              .join(", "),
        ),
        "  checks:",
        formatClusterFindings(findings).replace(/^/gm, "  "),
        `  cleanup: ${problems.length === 0 ? "namespaces removed, host ip_forward unchanged" : problems.join("; ")}`,
      ].join("\n"),
    );
    expect(problems).toEqual([]);
    if (delError) throw delError;
  });

  it("gives each pod an address in its own node's podCIDR, gateway and host routes as in the single-node design", async () => {
    const sc = scenario();
    const f: (ClusterFinding | Finding)[] = [...checkPodCidrs(sc)];
    for (const node of lab!.nodes) {
      f.push(...named(node.name, await checkAddressing(node.podCidr, podsOn(sc, node))));
      f.push(...named(node.name, await checkNodeSide(node, node.podCidr, podsOn(sc, node))));
    }
    expectAllOk(record(f));
  });

  it("routes every other node's podCIDR via that node's VM address, on every node", async () => {
    expectAllOk(record(await checkRoutes(lab!)));
  });

  it("serves HTTP from pod to pod across nodes and on one node, the server seeing the client pod's address", async () => {
    const f = record(await checkPodToPod(scenario()));
    expect(f.filter((x) => x.check.includes("across nodes"))).toHaveLength(10);
    expectAllOk(f);
  });

  it("masquerades pod traffic to the Mac to the pod's node address", async () => {
    expectAllOk(record(await checkEgress(scenario())));
  });

  it("reaches a worker pod's hostPort from the Mac and from a pod on another node", async () => {
    expectAllOk(record(await checkHostPort(scenario())));
  });

  it("DEL removes every pod's veth, /32 route, NAT rules and address, and leaves the node network", async () => {
    const sc = scenario();
    await detachAll(sc);
    detached = true;
    const f: (ClusterFinding | Finding)[] = [];
    for (const node of lab!.nodes)
      f.push(...named(node.name, await checkTornDown(node, "ptp-net", podsOn(sc, node))));
    f.push(...(await checkNodeNetworkKept(sc)));
    expectAllOk(record(f));
  });
});
