// A small stand-in for libcni (what containerd uses): loopback first, then the conflist's plugins in
// order, each given the previous result as prevResult and the runtimeConfig entries it declares as
// capabilities; DEL runs the chain in reverse with the cached ADD result. Plugins run inside the lab's
// node namespace so their host-side effects (veths, routes, iptables, sysctls) land there.
import path from "node:path";
import { run } from "./netns-lab.ts";

export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  ipam?: { type: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface NetworkConfigList {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
}

/** A CNI 0.4.0 result. */
export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { version?: string; interface?: number; address: string; gateway?: string }[];
  routes?: { dst: string; gw?: string }[];
}

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

export interface Attachment {
  containerId: string;
  netnsPath: string;
  ifName: string;
  runtimeConfig: { portMappings?: PortMapping[] };
}

export interface DriverOptions {
  nodeNs: string;
  binDir: string;
  /** host-local's dataDir, so reservations live in the test's temp dir and not /var/lib/cni. */
  ipamDataDir: string;
  /** Fault injection for the test of the test: hand this plugin type no prevResult. */
  withholdPrevResultFrom?: string;
  timeoutMs?: number;
}

export class CniPluginError extends Error {
  readonly plugin: string;
  readonly command: string;
  constructor(plugin: string, command: string, message: string) {
    super(`${plugin} ${command}: ${message}`);
    this.plugin = plugin;
    this.command = command;
  }
}

/** Checks the builder's `object` has the conflist shape the driver relies on. */
export function asNetworkList(value: object): NetworkConfigList {
  const v = value as Partial<NetworkConfigList>;
  if (typeof v.cniVersion !== "string" || typeof v.name !== "string" || !Array.isArray(v.plugins)) {
    throw new Error(`not a CNI conflist: ${JSON.stringify(value)}`);
  }
  for (const p of v.plugins) {
    if (typeof (p as PluginConf).type !== "string")
      throw new Error(`plugin without type: ${JSON.stringify(p)}`);
  }
  return v as NetworkConfigList;
}

function pluginConfig(
  list: NetworkConfigList,
  plugin: PluginConf,
  att: Attachment,
  prevResult: CniResult | undefined,
  opts: DriverOptions,
): Record<string, unknown> {
  const conf: Record<string, unknown> = {
    ...structuredClone(plugin),
    name: list.name,
    cniVersion: list.cniVersion,
  };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(att.runtimeConfig)) {
    if (plugin.capabilities?.[key] === true) runtimeConfig[key] = value;
  }
  if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
  if (plugin.ipam?.type === "host-local") conf.ipam = { ...plugin.ipam, dataDir: opts.ipamDataDir };
  if (prevResult && opts.withholdPrevResultFrom !== plugin.type) conf.prevResult = prevResult;
  return conf;
}

async function invoke(
  command: "ADD" | "DEL",
  conf: Record<string, unknown>,
  att: Attachment,
  opts: DriverOptions,
): Promise<CniResult | undefined> {
  const type = String(conf.type);
  const env = {
    PATH: process.env.PATH,
    CNI_COMMAND: command,
    CNI_CONTAINERID: att.containerId,
    CNI_NETNS: att.netnsPath,
    CNI_IFNAME: att.ifName,
    CNI_PATH: opts.binDir,
  };
  const r = await run("ip", ["netns", "exec", opts.nodeNs, path.join(opts.binDir, type)], {
    input: JSON.stringify(conf),
    env,
    timeoutMs: opts.timeoutMs ?? 10_000,
  });
  if (r.code !== 0) {
    let msg = r.timedOut ? "timed out" : `exit ${r.code}`;
    try {
      const err = JSON.parse(r.stdout) as { msg?: string; details?: string };
      msg = [err.msg, err.details].filter(Boolean).join(": ") || msg;
    } catch {
      msg = `${msg}: ${(r.stderr || r.stdout).trim()}`;
    }
    throw new CniPluginError(type, command, msg);
  }
  return command === "ADD" ? (JSON.parse(r.stdout) as CniResult) : undefined;
}

function loopbackConf(list: NetworkConfigList): Record<string, unknown> {
  return { cniVersion: list.cniVersion, name: "cni-loopback", type: "loopback" };
}

export async function addNetworkList(
  list: NetworkConfigList,
  att: Attachment,
  opts: DriverOptions,
): Promise<CniResult> {
  await invoke("ADD", loopbackConf(list), { ...att, ifName: "lo" }, opts);
  let result: CniResult | undefined;
  for (const plugin of list.plugins) {
    result = await invoke("ADD", pluginConfig(list, plugin, att, result, opts), att, opts);
  }
  if (!result) throw new Error(`conflist ${list.name} has no plugins`);
  return result;
}

/** DEL is idempotent in every plugin, so this is safe after a partial ADD too. */
export async function delNetworkList(
  list: NetworkConfigList,
  att: Attachment,
  cachedResult: CniResult | undefined,
  opts: DriverOptions,
): Promise<void> {
  for (const plugin of [...list.plugins].reverse()) {
    await invoke("DEL", pluginConfig(list, plugin, att, cachedResult, opts), att, opts);
  }
  await invoke("DEL", loopbackConf(list), { ...att, ifName: "lo" }, opts);
}
