// Issue 7: the conflist the action writes, run by Debian's containernetworking-plugins (the same
// plugins the node image runs) in namespaces this test creates. See netns-lab.ts for the layout.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCniConflist } from "../../src/builders/cni-conflist.js";
import { parseCidr } from "../../src/cidr.js";
import { asNetworkList } from "./cni-driver.ts";
import {
  createLab,
  destroyLab,
  inNs,
  labSkipReason,
  OUTSIDE_IP,
  warnSkipped,
  type Lab,
} from "./netns-lab.ts";
import {
  checkAddressing,
  checkHostPort,
  checkMasquerade,
  checkNodeSide,
  checkPodToPod,
  checkTornDown,
  failures,
  formatFindings,
  hostVethOf,
  nodeRoutes,
  type Finding,
} from "./ptp-checks.ts";
import { attachWithServers, detachAll, type Scenario } from "./scenario.ts";

const skip = labSkipReason();
if (skip) warnSkipped("PTP CNI integration test (test/cni/ptp-network.test.ts)", skip);

function expectAllOk(findings: Finding[]): void {
  expect(findings.length).toBeGreaterThan(0);
  expect(formatFindings(failures(findings))).toBe("");
}

// Three pods on the default subnet, as in the design's layout; two suffice to show a custom subnet
// flows through (each pod costs ~1 s of CPU in plugin and iptables runs).
describe.skipIf(skip !== undefined).each([
  { label: "default", text: "10.244.0.0/16", pods: ["pod-a", "pod-b", "pod-c"] },
  { label: "custom", text: "10.200.0.0/16", pods: ["pod-a", "pod-b"] },
])("PTP network from the built conflist, $label pod subnet $text", ({ text, pods: podNames }) => {
  const subnet = parseCidr(text)!;
  let lab: Lab | undefined;
  let s: Scenario | undefined;
  let detached = false;
  const findings: Finding[] = [];
  let routes: string[] = [];
  const scenario = (): Scenario => {
    if (!s) throw new Error("setup failed");
    return s;
  };
  const record = (f: Finding[]): Finding[] => {
    findings.push(...f);
    return f;
  };

  beforeAll(async () => {
    lab = await createLab(podNames);
    s = await attachWithServers(lab, asNetworkList(buildCniConflist(subnet)));
    const errors = [...s.addErrors].map(([pod, e]) => `${pod}: ${e.message}`);
    if (errors.length > 0) throw new Error(`CNI ADD failed:\n${errors.join("\n")}`);
    routes = await nodeRoutes(lab);
  });

  afterAll(async () => {
    let delError: unknown;
    try {
      if (s && !detached) await detachAll(s);
    } catch (e) {
      delError = e;
    }
    const problems = await destroyLab(lab);
    const pods = (s?.pods ?? []).map((p) => {
      const ip = p.result?.ips?.[0];
      return `    ${p.name}: ${ip?.address ?? "no address"} gw ${ip?.gateway ?? "-"} host veth ${hostVethOf(p) ?? "-"}`;
    });
    console.log(
      [
        `PTP CNI, pod subnet ${text} (conflist from buildCniConflist, plugins from /usr/lib/cni)`,
        "  pods:",
        ...pods,
        "  node routes after ADD:",
        ...routes.map((r) => `    ${r}`),
        "  checks:",
        formatFindings(findings).replace(/^/gm, "  "),
        `  cleanup: ${problems.length === 0 ? "namespaces removed, host ip_forward unchanged" : problems.join("; ")}`,
      ].join("\n"),
    );
    expect(problems).toEqual([]);
    if (delError) throw delError;
  });

  it("runs the plugins in the node namespace, not the host's", async () => {
    const l = lab!;
    const nodeForward = await inNs(l.nodeNs, "cat", ["/proc/sys/net/ipv4/ip_forward"]);
    expect(nodeForward.stdout.trim()).toBe("1"); // ptp turned forwarding on where it ran
    expect((await readFile("/proc/sys/net/ipv4/ip_forward", "utf8")).trim()).toBe(l.hostIpForward);
  });

  it("gives each pod an address in the subnet, the subnet's first address as gateway, loopback up", async () => {
    expectAllOk(record(await checkAddressing(subnet, scenario().pods)));
  });

  it("puts the gateway /32 on each host-side veth and one /32 scope-host route per pod on the node", async () => {
    expectAllOk(record(await checkNodeSide(lab!, subnet, scenario().pods)));
  });

  it("masquerades each pod's traffic that leaves the node", async () => {
    expectAllOk(record(await checkMasquerade(lab!, subnet, scenario().pods)));
  });

  it("serves HTTP from pod to pod", async () => {
    expectAllOk(record(await checkPodToPod(lab!, scenario().pods)));
  });

  it(`reaches pod-a's hostPort from outside the node (${OUTSIDE_IP}) and from another pod`, async () => {
    const [target, other] = scenario().pods;
    expectAllOk(
      record(await checkHostPort(lab!, target!, [{ name: "outside", ns: lab!.outsideNs }, other!])),
    );
  });

  it("DEL removes the veths, /32 routes, NAT rules and IPAM reservations", async () => {
    const sc = scenario();
    await detachAll(sc);
    detached = true;
    expectAllOk(record(await checkTornDown(lab!, sc.list.name, sc.pods)));
  });
});
