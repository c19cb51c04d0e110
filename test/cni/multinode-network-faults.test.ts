// The test of the test for the multi-node network: a cluster configured by the product's builders
// except for one deliberate fault must fail exactly the checks that guard against it.
import { describe, it, type ExpectStatic } from "vitest";
import { buildNodeConflist } from "../../src/builders/node-network.js";
import { nodeCidr } from "../../src/builders/node-cidrs.js";
import { parseCidr } from "../../src/cidr.js";
import { createClusterLab, destroyClusterLab } from "./cluster-lab.ts";
import {
  CLUSTER_CHECK,
  checkEgress,
  checkHostPort,
  checkPodCidrs,
  checkPodToPod,
  checkRoutes,
  type ClusterFinding,
} from "./cluster-checks.ts";
import {
  detachAll,
  productNetwork,
  setUpCluster,
  type ClusterScenario,
  type NetworkVariant,
} from "./cluster-scenario.ts";
import { labSkipReason, warnSkipped } from "./netns-lab.ts";

const skip = labSkipReason();
if (skip)
  warnSkipped("multi-node PTP CNI test of the test (test/cni/multinode-network-faults.test.ts)", skip);

const POD_SUBNET = parseCidr("10.244.0.0/16")!;

/** `check [subject]` of each failed finding, sorted. */
function failed(findings: ClusterFinding[]): string[] {
  return findings
    .filter((f) => !f.ok)
    .map((f) => `${f.check} [${f.subject}]`)
    .sort();
}

async function allChecks(s: ClusterScenario): Promise<ClusterFinding[]> {
  return [
    ...checkPodCidrs(s),
    ...(await checkRoutes(s.lab)),
    ...(await checkPodToPod(s)),
    ...(await checkEgress(s)),
    ...(await checkHostPort(s)),
  ];
}

/** Two nodes, one pod each: the control plane's a1, the worker's b1 (which publishes the hostPort). */
async function withFault(
  expect: ExpectStatic,
  variant: NetworkVariant,
  body: (s: ClusterScenario) => Promise<void>,
) {
  const lab = await createClusterLab([
    { name: "kina-control-plane", podCidr: nodeCidr(POD_SUBNET, 0), pods: ["a1"] },
    { name: "kina-worker-1", podCidr: nodeCidr(POD_SUBNET, 1), pods: ["b1"] },
  ]);
  let s: ClusterScenario | undefined;
  try {
    s = await setUpCluster(lab, POD_SUBNET, variant);
    expect([...s.addErrors.keys()]).toEqual([]);
    await body(s);
  } finally {
    try {
      if (s) await detachAll(s);
    } finally {
      expect(await destroyClusterLab(lab)).toEqual([]);
    }
  }
}

const cross = (check: string) => [`${check} [a1→b1]`, `${check} [b1→a1]`];

describe.skipIf(skip !== undefined).concurrent("the multi-node checks fail on a broken network", () => {
  it("without the control plane's route to the worker's podCIDR, pods across those nodes cannot talk", async ({
    expect,
  }) => {
    const routes: NetworkVariant["routes"] = (node, lab, podSubnet) =>
      productNetwork.routes(node, lab, podSubnet).filter(() => node.name !== "kina-control-plane");
    await withFault(expect, { routes }, async (s) => {
      expect(failed(await allChecks(s))).toEqual(
        [`${CLUSTER_CHECK.routes} [kina-control-plane]`, ...cross(CLUSTER_CHECK.crossNode)].sort(),
      );
    });
  });

  it("with ptp's own ipMasq (masquerading inside the pod subnet), servers see node addresses instead of pods'", async ({
    expect,
  }) => {
    const conflist: NetworkVariant["conflist"] = (node) => {
      const c = buildNodeConflist(node.podCidr) as { plugins: Record<string, unknown>[] };
      c.plugins[0]!.ipMasq = true;
      return c;
    };
    await withFault(expect, { conflist }, async (s) => {
      const f = await allChecks(s);
      expect(failed(f)).toEqual(cross(CLUSTER_CHECK.crossNode).sort());
      expect(f.find((x) => x.subject === "a1→b1")?.detail).toContain(`b1 saw ${s.lab.nodes[0]!.ip}`);
    });
  });

  it("without the masquerade chain, pod traffic to the Mac gets no answer, and nothing else breaks", async ({
    expect,
  }) => {
    await withFault(expect, { masquerade: () => undefined }, async (s) => {
      expect(failed(await allChecks(s))).toEqual([
        `${CLUSTER_CHECK.egress} [a1]`,
        `${CLUSTER_CHECK.egress} [b1]`,
      ]);
    });
  });
});
