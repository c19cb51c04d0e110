// The design note's claims about the PTP network, each as a named check over the live namespaces.
// Checks never throw on a broken network: they return findings, so a test of the test can show that
// a wrong conflist makes exactly the expected checks fail.
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { cidrContains, nthAddress, parseIPv4, type Cidr } from "../../src/cidr.js";
import type { CniResult } from "./cni-driver.ts";
import { httpGet, inNs, ipJson, NODE_IP, OUTSIDE_IP, startAgent, UPLINK, type Lab } from "./netns-lab.ts";

export const HTTP_PORT = 8080;
export const HOST_PORT = 30080;
/** Between namespaces on one kernel a request takes milliseconds; a dropped reply costs this much. */
const REQUEST_TIMEOUT_MS = 1000;

export const CHECK = {
  inSubnet: "pod address lies in the pod subnet",
  gateway: "gateway is the subnet's first address",
  podAddress: "pod eth0 carries its address",
  podDefaultRoute: "pod default route goes via the gateway",
  podLoopback: "pod loopback is up",
  hostVeth: "host-side veth carries the gateway as /32",
  hostRoute: "node has one /32 scope-host route to the pod via its veth",
  hostRouteCount: "node has exactly one /32 host route per pod",
  masqChain: "masquerade chain exists for the pod",
  egress: "pod traffic leaving the node is masqueraded to the node IP",
  podToPod: "pod-to-pod HTTP",
  hostPort: "hostPort reaches the pod",
  vethsGone: "DEL removed the host-side veths",
  routesGone: "DEL removed the /32 routes and gateway addresses",
  natGone: "DEL removed the NAT rules",
  ipamReleased: "DEL released the IPAM reservations",
  podIfGone: "DEL removed the pods' interfaces",
} as const;
export type CheckName = (typeof CHECK)[keyof typeof CHECK];

export interface Finding {
  check: CheckName;
  subject: string;
  ok: boolean;
  detail: string;
}

export interface PodUnderTest {
  name: string;
  ns: string;
  containerId: string;
  /** The chain's ADD result; absent when ADD failed. */
  result?: CniResult;
}

export function podIp(pod: PodUnderTest): string | undefined {
  return pod.result?.ips?.[0]?.address.split("/")[0];
}

export function hostVethOf(pod: PodUnderTest): string | undefined {
  return pod.result?.interfaces?.find((i) => i.sandbox === undefined)?.name;
}

function finding(check: CheckName, subject: string, ok: boolean, detail: string): Finding {
  return { check, subject, ok, detail };
}

export function failures(findings: Finding[]): Finding[] {
  return findings.filter((f) => !f.ok);
}

export function formatFindings(findings: Finding[]): string {
  return findings.map((f) => `  ${f.ok ? "ok  " : "FAIL"} ${f.check} [${f.subject}]: ${f.detail}`).join("\n");
}

export interface IpAddr {
  ifname: string;
  flags?: string[];
  addr_info?: { family: string; local: string; prefixlen: number }[];
}
export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  scope?: string;
}

/** The pod side of the design's layout; only the pods' namespaces are read. */
export async function checkAddressing(subnet: Cidr, pods: PodUnderTest[]): Promise<Finding[]> {
  const gateway = nthAddress(subnet, 1);
  const out: Finding[] = [];
  for (const pod of pods) {
    const ipc = pod.result?.ips?.[0];
    const ip = podIp(pod);
    if (!ipc || !ip) {
      out.push(finding(CHECK.inSubnet, pod.name, false, "no IP in the ADD result"));
      continue;
    }
    out.push(finding(CHECK.inSubnet, pod.name, cidrContains(subnet, ip), `${ipc.address} in ${subnet.text}`));
    out.push(
      finding(CHECK.gateway, pod.name, ipc.gateway === gateway, `gateway ${ipc.gateway}, want ${gateway}`),
    );
    const links = await ipJson<IpAddr>(pod.ns, ["addr", "show"]);
    const eth0 = links.find((l) => l.ifname === "eth0");
    const has = eth0?.addr_info?.some((a) => a.family === "inet" && a.local === ip) ?? false;
    out.push(
      finding(CHECK.podAddress, pod.name, has, `eth0 inet ${eth0?.addr_info?.map((a) => a.local).join(",")}`),
    );
    const lo = links.find((l) => l.ifname === "lo");
    out.push(
      finding(CHECK.podLoopback, pod.name, lo?.flags?.includes("UP") ?? false, `lo ${lo?.flags?.join(",")}`),
    );
    const def = (await ipJson<IpRoute>(pod.ns, ["route", "show", "default"]))[0];
    out.push(
      finding(
        CHECK.podDefaultRoute,
        pod.name,
        def?.gateway === gateway && def.dev === "eth0",
        JSON.stringify(def),
      ),
    );
  }
  return out;
}

/** The node side of the design's layout: `vethX → <gateway>/32 → Pod`, `<pod IP> dev vethX scope host`. */
export async function checkNodeSide(
  lab: Pick<Lab, "nodeNs">,
  subnet: Cidr,
  pods: PodUnderTest[],
): Promise<Finding[]> {
  const gateway = nthAddress(subnet, 1);
  const addrs = await ipJson<IpAddr>(lab.nodeNs, ["addr", "show"]);
  const routes = await ipJson<IpRoute>(lab.nodeNs, ["route", "show"]);
  const out: Finding[] = [];
  for (const pod of pods) {
    const veth = hostVethOf(pod);
    const ip = podIp(pod);
    const link = addrs.find((a) => a.ifname === veth);
    const v4 = link?.addr_info?.filter((a) => a.family === "inet") ?? [];
    const vethOk = v4.length === 1 && v4[0]?.local === gateway && v4[0].prefixlen === 32;
    out.push(
      finding(
        CHECK.hostVeth,
        pod.name,
        vethOk,
        `${veth ?? "no host veth"}: ${v4.map((a) => `${a.local}/${a.prefixlen}`)}`,
      ),
    );
    const toPod = routes.filter((r) => r.dst === ip || r.dst === `${ip}/32`);
    const only = toPod.length === 1 ? toPod[0] : undefined;
    const routeOk = veth !== undefined && only?.dev === veth && only.scope === "host";
    out.push(
      finding(CHECK.hostRoute, pod.name, routeOk, toPod.map(routeText).join("; ") || `no route to ${ip}`),
    );
  }
  const hostRoutes = routes.filter((r) => r.scope === "host" && !r.dst.includes("/"));
  out.push(
    finding(
      CHECK.hostRouteCount,
      "node",
      hostRoutes.length === pods.length,
      `${hostRoutes.length} routes for ${pods.length} pods`,
    ),
  );
  return out;
}

export function routeText(r: IpRoute): string {
  return [r.dst, r.gateway && `via ${r.gateway}`, r.dev && `dev ${r.dev}`, r.scope && `scope ${r.scope}`]
    .filter(Boolean)
    .join(" ");
}

export async function nodeRoutes(lab: Lab): Promise<string[]> {
  return (await ipJson<IpRoute>(lab.nodeNs, ["route", "show"])).map(routeText);
}

export async function natRules(lab: Pick<Lab, "nodeNs">): Promise<string[]> {
  const r = await inNs(lab.nodeNs, "iptables-save", ["-t", "nat"]);
  if (r.code !== 0) throw new Error(`iptables-save in ${lab.nodeNs}: ${r.stderr.trim()}`);
  return r.stdout.split("\n").filter((l) => l.startsWith("-A "));
}

/**
 * ptp's ipMasq: POSTROUTING sends the pod's source address to a per-pod chain that accepts traffic to
 * the pod subnet and masquerades the rest. Checked both as rules and as traffic: an outside server
 * must see the node IP, not the pod IP (which it has no route back to).
 */
export async function checkMasquerade(lab: Lab, subnet: Cidr, pods: PodUnderTest[]): Promise<Finding[]> {
  const rules = await natRules(lab);
  const out: Finding[] = [];
  for (const pod of pods) {
    const ip = podIp(pod);
    const jump = rules
      .filter(
        (l) => l.startsWith(`-A POSTROUTING -s ${ip}/32 `) && l.includes(`id: \\"${pod.containerId}\\"`),
      )
      .map((l) => /-j (CNI-[0-9a-f]+)$/.exec(l)?.[1])
      .find(Boolean);
    const chain = jump ? rules.filter((l) => l.startsWith(`-A ${jump} `)) : [];
    const accepts = chain.some((l) => l.includes(`-d ${subnet.text} `) && l.endsWith("-j ACCEPT"));
    const masq = chain.some((l) => l.endsWith("-j MASQUERADE"));
    out.push(
      finding(
        CHECK.masqChain,
        pod.name,
        accepts && masq,
        jump
          ? `${jump}: accept ${subnet.text} ${accepts}, masquerade ${masq}`
          : `no POSTROUTING jump for ${ip}`,
      ),
    );
  }
  const results = await Promise.all(
    pods.map((p) => httpGet(lab, p.ns, `http://${OUTSIDE_IP}:${HTTP_PORT}/`, REQUEST_TIMEOUT_MS)),
  );
  pods.forEach((pod, i) => {
    const r = results[i]!;
    const ok = r.ok && r.server === "outside" && r.remote === NODE_IP;
    out.push(finding(CHECK.egress, pod.name, ok, r.ok ? `outside saw ${r.remote}` : r.error));
  });
  return out;
}

/** Each pod fetches from the next one's address; no NAT between pods, so the server sees the client's IP. */
export async function checkPodToPod(lab: Lab, pods: PodUnderTest[]): Promise<Finding[]> {
  const pairs = pods.map((from, i) => [from, pods[(i + 1) % pods.length]!] as const);
  const results = await Promise.all(
    pairs.map(([from, to]) => httpGet(lab, from.ns, `http://${podIp(to)}:${HTTP_PORT}/`, REQUEST_TIMEOUT_MS)),
  );
  return pairs.map(([from, to], i) => {
    const r = results[i]!;
    const ok = r.ok && r.server === to.name && r.remote === podIp(from);
    const detail = r.ok
      ? `${from.name} → ${podIp(to)}: ${r.server} saw ${r.remote}`
      : `${podIp(to)}: ${r.error}`;
    return finding(CHECK.podToPod, `${from.name}→${to.name}`, ok, detail);
  });
}

/**
 * portmap DNATs <node address>:hostPort to the pod. Clients are the outside namespace (the Mac calling
 * the VM's address) and another pod (via its gateway, hairpinning through the node). Not from the
 * node's own 127.0.0.1: that path needs route_localnet on the egress veth and tests portmap's localhost
 * SNAT, not the network design.
 */
export async function checkHostPort(
  lab: Lab,
  target: PodUnderTest,
  clients: { name: string; ns: string }[],
): Promise<Finding[]> {
  const url = `http://${NODE_IP}:${HOST_PORT}/`;
  const results = await Promise.all(clients.map((c) => httpGet(lab, c.ns, url, REQUEST_TIMEOUT_MS)));
  return clients.map((c, i) => {
    const r = results[i]!;
    const ok = r.ok && r.server === target.name;
    const detail = r.ok ? `${c.name} → ${NODE_IP}:${HOST_PORT}: ${r.server} saw ${r.remote}` : r.error;
    return finding(CHECK.hostPort, `${c.name}→${target.name}`, ok, detail);
  });
}

/**
 * HTTP agents (server and client) in the given pods and outside the node, all serving HTTP_PORT. A
 * socket bound to 0.0.0.0 does not need the pod's eth0 yet, so this can overlap the CNI ADDs.
 */
export async function startServers(lab: Lab, pods: { name: string; ns: string }[]): Promise<void> {
  await Promise.all([
    startAgent(lab, lab.outsideNs, "outside", HTTP_PORT),
    ...pods.map((p) => startAgent(lab, p.ns, p.name, HTTP_PORT)),
  ]);
}

/** After DEL: nothing of the pods may remain in the node, the pods or host-local's store. */
export async function checkTornDown(
  lab: Pick<Lab, "nodeNs" | "ipamDataDir">,
  networkName: string,
  pods: PodUnderTest[],
): Promise<Finding[]> {
  const out: Finding[] = [];
  const veths = (await ipJson<IpAddr>(lab.nodeNs, ["link", "show", "type", "veth"]))
    .map((l) => l.ifname)
    .filter((n) => n !== UPLINK);
  out.push(finding(CHECK.vethsGone, "node", veths.length === 0, `veths: ${veths.join(", ") || "none"}`));

  const ips = pods.map(podIp).filter((ip): ip is string => ip !== undefined);
  const routes = await ipJson<IpRoute>(lab.nodeNs, ["route", "show"]);
  const addrs = await ipJson<IpAddr>(lab.nodeNs, ["addr", "show"]);
  const stale = [
    ...routes.filter((r) => r.scope === "host" || ips.includes(r.dst)).map(routeText),
    ...addrs.flatMap((a) =>
      (a.addr_info ?? []).filter((i) => i.prefixlen === 32).map((i) => `${a.ifname} ${i.local}/32`),
    ),
  ];
  out.push(finding(CHECK.routesGone, "node", stale.length === 0, stale.join("; ") || "none"));

  const rules = (await natRules(lab)).filter(
    (l) =>
      pods.some((p) => l.includes(`id: \\"${p.containerId}\\"`)) ||
      ips.some((ip) => l.includes(` ${ip}/32 `) || l.includes(`${ip}:`)),
  );
  out.push(finding(CHECK.natGone, "node", rules.length === 0, rules.join(" | ") || "none"));

  const store = path.join(lab.ipamDataDir, networkName);
  const reserved = existsSync(store) ? (await readdir(store)).filter((f) => parseIPv4(f) !== undefined) : [];
  out.push(
    finding(
      CHECK.ipamReleased,
      "host-local",
      reserved.length === 0,
      `reserved: ${reserved.join(", ") || "none"}`,
    ),
  );

  for (const pod of pods) {
    const links = (await ipJson<IpAddr>(pod.ns, ["link", "show"]))
      .map((l) => l.ifname)
      .filter((n) => n !== "lo");
    out.push(
      finding(CHECK.podIfGone, pod.name, links.length === 0, `links: ${links.join(", ") || "lo only"}`),
    );
  }
  return out;
}
