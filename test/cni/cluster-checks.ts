// The multi-node network's promises, each as a named check over the live namespaces. Like
// ptp-checks.ts, checks return findings instead of throwing, so a test of the test can show which
// ones a broken network fails.
import { cidrContains } from "../../src/cidr.js";
import { buildPodMasquerade, POD_MASQUERADE_CHAIN } from "../../src/builders/node-network.js";
import type { ClusterLab, LabNode } from "./cluster-lab.ts";
import { VMNET_GATEWAY } from "./cluster-lab.ts";
import type { ClusterPod, ClusterScenario } from "./cluster-scenario.ts";
import { httpGet, ipJson } from "./netns-lab.ts";
import {
  HOST_PORT,
  HTTP_PORT,
  natRules,
  podIp,
  routeText,
  type Finding,
  type IpRoute,
} from "./ptp-checks.ts";

/** Between namespaces on one kernel a request takes milliseconds; a dropped reply costs this much. */
const REQUEST_TIMEOUT_MS = 1000;

export const CLUSTER_CHECK = {
  podInNodeCidr: "pod address lies in its node's podCIDR",
  routes: "node routes each other node's podCIDR via that node's VM address",
  crossNode: "pod-to-pod HTTP across nodes keeps the client pod's address",
  sameNode: "pod-to-pod HTTP on one node keeps the client pod's address",
  egress: "pod traffic leaving the pod subnet is masqueraded to its node's VM address",
  hostPort: "hostPort on a worker reaches its pod",
  nodeNetworkKept: "DEL leaves the node's routes and masquerade chain alone",
} as const;
export type ClusterCheckName = (typeof CLUSTER_CHECK)[keyof typeof CLUSTER_CHECK];

export interface ClusterFinding {
  check: ClusterCheckName;
  subject: string;
  ok: boolean;
  detail: string;
}

const finding = (check: ClusterCheckName, subject: string, ok: boolean, detail: string): ClusterFinding => ({
  check,
  subject,
  ok,
  detail,
});

export function clusterFailures<T extends { ok: boolean }>(findings: T[]): T[] {
  return findings.filter((f) => !f.ok);
}

export function formatClusterFindings(findings: (ClusterFinding | Finding)[]): string {
  return findings.map((f) => `  ${f.ok ? "ok  " : "FAIL"} ${f.check} [${f.subject}]: ${f.detail}`).join("\n");
}

export function checkPodCidrs(s: ClusterScenario): ClusterFinding[] {
  return s.pods.map((p) => {
    const ip = podIp(p);
    const ok = ip !== undefined && cidrContains(p.node.podCidr, ip);
    return finding(
      CLUSTER_CHECK.podInNodeCidr,
      p.name,
      ok,
      `${ip ?? "no address"} in ${p.node.podCidr.text}`,
    );
  });
}

/** Every node has exactly one route to each other node's podCIDR, via that node's VM address. */
export async function checkRoutes(lab: ClusterLab): Promise<ClusterFinding[]> {
  const out: ClusterFinding[] = [];
  for (const node of lab.nodes) {
    const routes = await ipJson<IpRoute>(node.nodeNs, ["route", "show"]);
    const wrong: string[] = [];
    for (const peer of lab.nodes.filter((n) => n !== node)) {
      const to = routes.filter((r) => r.dst === peer.podCidr.text);
      if (to.length !== 1 || to[0]?.gateway !== peer.ip)
        wrong.push(
          `${peer.podCidr.text}: ${to.map(routeText).join("; ") || "no route"} (want via ${peer.ip})`,
        );
    }
    out.push(
      finding(CLUSTER_CHECK.routes, node.name, wrong.length === 0, wrong.join(" | ") || "all peers routed"),
    );
  }
  return out;
}

async function get(lab: ClusterLab, from: { ns: string }, url: string) {
  return httpGet(lab, from.ns, url, REQUEST_TIMEOUT_MS);
}

/** Every pod asks every other pod; the server must be the target and see the client pod's address. */
export async function checkPodToPod(s: ClusterScenario): Promise<ClusterFinding[]> {
  const pairs = s.pods.flatMap((from) => s.pods.filter((to) => to !== from).map((to) => [from, to] as const));
  const results = await Promise.all(
    pairs.map(([from, to]) => get(s.lab, from, `http://${podIp(to)}:${HTTP_PORT}/`)),
  );
  return pairs.map(([from, to], i) => {
    const r = results[i]!;
    const check = from.node === to.node ? CLUSTER_CHECK.sameNode : CLUSTER_CHECK.crossNode;
    const ok = r.ok && r.server === to.name && r.remote === podIp(from);
    const detail = r.ok
      ? `${podIp(from)} → ${podIp(to)}: ${r.server} saw ${r.remote}`
      : `${podIp(to)}: ${r.error}`;
    return finding(check, `${from.name}→${to.name}`, ok, detail);
  });
}

/** Each pod asks the Mac (the VM network's gateway), which must see the pod's node address. */
export async function checkEgress(s: ClusterScenario): Promise<ClusterFinding[]> {
  const results = await Promise.all(
    s.pods.map((p) => get(s.lab, p, `http://${VMNET_GATEWAY}:${HTTP_PORT}/`)),
  );
  return s.pods.map((p, i) => {
    const r = results[i]!;
    const ok = r.ok && r.server === "outside" && r.remote === p.node.ip;
    return finding(
      CLUSTER_CHECK.egress,
      p.name,
      ok,
      r.ok ? `Mac saw ${r.remote} (node ${p.node.ip})` : r.error,
    );
  });
}

/** The worker's hostPort, from the Mac and from a pod on another node. */
export async function checkHostPort(s: ClusterScenario): Promise<ClusterFinding[]> {
  const target = s.hostPortPod;
  if (!target) return [finding(CLUSTER_CHECK.hostPort, "-", false, "no worker pod publishes a hostPort")];
  const url = `http://${target.node.ip}:${HOST_PORT}/`;
  const clients: { name: string; ns: string }[] = [
    { name: "Mac", ns: s.lab.vmnetNs },
    ...s.pods.filter((p) => p.node !== target.node).slice(0, 1),
  ];
  const results = await Promise.all(clients.map((c) => get(s.lab, c, url)));
  return clients.map((c, i) => {
    const r = results[i]!;
    const ok = r.ok && r.server === target.name;
    const detail = r.ok ? `${c.name} → ${target.node.ip}:${HOST_PORT}: ${r.server} saw ${r.remote}` : r.error;
    return finding(CLUSTER_CHECK.hostPort, `${c.name}→${target.name}`, ok, detail);
  });
}

/** After DEL, what the node was given for all pods is still in place: peer routes and the chain. */
export async function checkNodeNetworkKept(s: ClusterScenario): Promise<ClusterFinding[]> {
  const out: ClusterFinding[] = [];
  const routes = await checkRoutes(s.lab);
  const want = buildPodMasquerade(s.podSubnet)
    .split("\n")
    .filter((l) => l.startsWith("-A ")).length;
  for (const node of s.lab.nodes) {
    const rules = await natRules(node);
    const chain = rules.filter(
      (l) => l.startsWith(`-A ${POD_MASQUERADE_CHAIN} `) || l.endsWith(`-j ${POD_MASQUERADE_CHAIN}`),
    );
    const routesOk = routes.find((f) => f.subject === node.name)?.ok ?? false;
    out.push(
      finding(
        CLUSTER_CHECK.nodeNetworkKept,
        node.name,
        routesOk && chain.length === want,
        `peer routes ${routesOk ? "kept" : "changed"}, ${chain.length} of ${want} masquerade rules`,
      ),
    );
  }
  return out;
}

export function podsOn(s: ClusterScenario, node: LabNode): ClusterPod[] {
  return s.pods.filter((p) => p.node === node);
}
