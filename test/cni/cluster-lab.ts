// A throwaway multi-node cluster in network namespaces, wired the way Apple's VMs share a network: a
// "vmnet" namespace holds a bridge with the Mac's gateway address, and each node namespace (a node
// VM) has one uplink on it. Pods are namespaces of their own. Each node keeps its own host-local
// store, as separate VMs would. Nothing runs in, or routes through, the host's namespace.
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Cidr } from "../../src/cidr.js";
import {
  labPreflight,
  NETNS_DIR,
  reapOrphanLabs,
  runOk,
  teardownLab,
  UPLINK,
  type NsAgent,
} from "./netns-lab.ts";

/** TEST-NET-2: the Mac (the VM network's gateway) and the nodes' VM addresses. */
export const VMNET_GATEWAY = "198.51.100.1";
const VMNET_PREFIX = 24;
/** Apple's default VM network MTU. */
export const VMNET_MTU = 1280;
const BRIDGE = "vmnet0";
const HOST_IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";
const DEFAULT_IPAM_STORE = "/var/lib/cni/networks/ptp-net";

export interface LabPod {
  name: string;
  ns: string;
  netnsPath: string;
  containerId: string;
}

export interface LabNode {
  name: string;
  /** The node VM's namespace. */
  nodeNs: string;
  /** Its VM address. */
  ip: string;
  podCidr: Cidr;
  /** This node's host-local store. */
  ipamDataDir: string;
  pods: LabPod[];
}

export interface ClusterLab {
  tag: string;
  vmnetNs: string;
  nodes: LabNode[];
  tmpDir: string;
  hostIpForward: string;
  defaultIpamStoreExisted: boolean;
  children: Set<ChildProcess>;
  agents: Map<string, NsAgent>;
}

export interface NodeSpec {
  name: string;
  podCidr: Cidr;
  pods: string[];
}

let counter = 0;

/** Namespaces and links only: the CNI configuration, routes and NAT rules are the test's to apply. */
export async function createClusterLab(specs: NodeSpec[]): Promise<ClusterLab> {
  if (process.getuid?.() !== 0) throw new Error("the CNI lab needs root, and CI must run it");
  await labPreflight();
  await reapOrphanLabs();
  // The tag format of netns-lab.ts, so its orphan reaper covers these labs too.
  const tag = `kcni${process.pid}x${900 + ++counter}`;
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), `${tag}-`));
  const lab: ClusterLab = {
    tag,
    vmnetNs: `${tag}-vmnet`,
    nodes: specs.map((s, i) => ({
      name: s.name,
      nodeNs: `${tag}-n${i}`,
      ip: `198.51.100.${i + 2}`,
      podCidr: s.podCidr,
      ipamDataDir: path.join(tmpDir, `ipam-n${i}`),
      pods: s.pods.map((p) => ({
        name: p,
        ns: `${tag}-${p}`,
        netnsPath: path.join(NETNS_DIR, `${tag}-${p}`),
        containerId: `${tag}-${p}`,
      })),
    })),
    tmpDir,
    hostIpForward: (await readFile(HOST_IP_FORWARD, "utf8")).trim(),
    defaultIpamStoreExisted: existsSync(DEFAULT_IPAM_STORE),
    children: new Set(),
    agents: new Map(),
  };
  try {
    for (const ns of namespaces(lab)) await runOk("ip", ["netns", "add", ns]);
    const v = lab.vmnetNs;
    await runOk("ip", ["-n", v, "link", "set", "lo", "up"]);
    await runOk("ip", ["-n", v, "link", "add", BRIDGE, "mtu", String(VMNET_MTU), "type", "bridge"]);
    await runOk("ip", ["-n", v, "addr", "add", `${VMNET_GATEWAY}/${VMNET_PREFIX}`, "dev", BRIDGE]);
    await runOk("ip", ["-n", v, "link", "set", BRIDGE, "up"]);
    for (const [i, n] of lab.nodes.entries()) {
      const port = `port${i}`;
      await runOk("ip", ["-n", n.nodeNs, "link", "set", "lo", "up"]);
      await runOk("ip", [
        "-n",
        n.nodeNs,
        "link",
        "add",
        UPLINK,
        "mtu",
        String(VMNET_MTU),
        "type",
        "veth",
        "peer",
        "name",
        port,
      ]);
      await runOk("ip", ["-n", n.nodeNs, "link", "set", port, "netns", v]);
      await runOk("ip", ["-n", v, "link", "set", port, "master", BRIDGE, "up"]);
      await runOk("ip", ["-n", n.nodeNs, "addr", "add", `${n.ip}/${VMNET_PREFIX}`, "dev", UPLINK]);
      await runOk("ip", ["-n", n.nodeNs, "link", "set", UPLINK, "up"]);
      // A VM's default route is the VM network's gateway (the Mac).
      await runOk("ip", ["-n", n.nodeNs, "route", "add", "default", "via", VMNET_GATEWAY]);
    }
    return lab;
  } catch (e) {
    await destroyClusterLab(lab);
    throw e;
  }
}

function namespaces(lab: ClusterLab): string[] {
  return [lab.vmnetNs, ...lab.nodes.flatMap((n) => [n.nodeNs, ...n.pods.map((p) => p.ns)])];
}

/** Kills the lab's processes, deletes its namespaces and files; returns what it had to repair or found. */
export async function destroyClusterLab(lab: ClusterLab | undefined): Promise<string[]> {
  if (!lab) return [];
  return teardownLab(lab, namespaces(lab));
}
