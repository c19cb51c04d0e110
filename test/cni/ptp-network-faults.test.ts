// The test of the test: conflists derived from the builder's but wrong in one way each must make
// exactly the checks that guard that property fail, and leave the others passing.
import { describe, it, type ExpectStatic } from "vitest";
import { buildCniConflist } from "../../src/builders/cni-conflist.js";
import { parseCidr, type Cidr } from "../../src/cidr.js";
import { asNetworkList, type DriverOptions, type NetworkConfigList } from "./cni-driver.ts";
import { createLab, destroyLab, labSkipReason, warnSkipped } from "./netns-lab.ts";
import {
  CHECK,
  checkAddressing,
  checkHostPort,
  checkMasquerade,
  checkNodeSide,
  checkTornDown,
  type CheckName,
  type Finding,
} from "./ptp-checks.ts";
import { attachWithServers, detachAll, type Scenario } from "./scenario.ts";

const skip = labSkipReason();
if (skip) warnSkipped("PTP CNI test of the test (test/cni/ptp-network-faults.test.ts)", skip);

const POD_SUBNET = parseCidr("10.244.0.0/16")!;

function conflist(subnet: Cidr = POD_SUBNET): NetworkConfigList {
  return asNetworkList(buildCniConflist(subnet));
}

/** The distinct names of the checks that failed, sorted. */
function failed(findings: Finding[]): CheckName[] {
  return [...new Set(findings.filter((f) => !f.ok).map((f) => f.check))].sort();
}

async function withScenario(
  expect: ExpectStatic,
  podNames: string[],
  list: NetworkConfigList,
  faults: Pick<DriverOptions, "withholdPrevResultFrom">,
  body: (s: Scenario) => Promise<void>,
): Promise<void> {
  const lab = await createLab(podNames);
  let s: Scenario | undefined;
  try {
    s = await attachWithServers(lab, list, faults);
    await body(s);
  } finally {
    try {
      if (s) await detachAll(s);
    } finally {
      expect(await destroyLab(lab)).toEqual([]);
    }
  }
}

// Concurrent: each test has its own lab, and the ipMasq case mostly waits for a request to time out.
describe.skipIf(skip !== undefined).concurrent("the PTP checks fail on a wrong conflist", () => {
  it("a conflist for another subnet fails the subnet, gateway and masquerade checks; still attached fails DEL's", async ({
    expect,
  }) => {
    await withScenario(expect, ["pod-a"], conflist(parseCidr("10.200.0.0/16")!), {}, async (s) => {
      const f = [
        ...(await checkAddressing(POD_SUBNET, s.pods)),
        ...(await checkNodeSide(s.lab, POD_SUBNET, s.pods)),
        ...(await checkMasquerade(s.lab, POD_SUBNET, s.pods)),
      ];
      expect(failed(f)).toEqual(
        [CHECK.inSubnet, CHECK.gateway, CHECK.podDefaultRoute, CHECK.hostVeth, CHECK.masqChain].sort(),
      );
      // Before DEL, every teardown check must see what is still there.
      expect(failed(await checkTornDown(s.lab, s.list.name, s.pods))).toEqual(
        [CHECK.vethsGone, CHECK.routesGone, CHECK.natGone, CHECK.ipamReleased, CHECK.podIfGone].sort(),
      );
    });
  });

  it("portmap without prevResult fails ADD, and then the hostPort check fails", async ({ expect }) => {
    await withScenario(expect, ["pod-a"], conflist(), { withholdPrevResultFrom: "portmap" }, async (s) => {
      expect([...s.addErrors.keys()]).toEqual(["pod-a"]);
      expect(s.addErrors.get("pod-a")?.message).toMatch(/portmap ADD: must be called as chained plugin/);
      const f = await checkHostPort(s.lab, s.pods[0]!, [{ name: "outside", ns: s.lab.outsideNs }]);
      expect(f).toHaveLength(1);
      expect(failed(f)).toEqual([CHECK.hostPort]);
      // As after a kubelet's failed ADD, DEL must still clean up what ptp had set up.
      await detachAll(s);
      expect(failed(await checkTornDown(s.lab, s.list.name, s.pods))).toEqual([]);
    });
  });

  it("ptp without ipMasq fails the masquerade checks and nothing else", async ({ expect }) => {
    const list = conflist();
    list.plugins[0]!.ipMasq = false;
    await withScenario(expect, ["pod-a"], list, {}, async (s) => {
      const f = [
        ...(await checkAddressing(POD_SUBNET, s.pods)),
        ...(await checkNodeSide(s.lab, POD_SUBNET, s.pods)),
        ...(await checkMasquerade(s.lab, POD_SUBNET, s.pods)),
      ];
      expect(failed(f)).toEqual([CHECK.masqChain, CHECK.egress].sort());
    });
  });
});
