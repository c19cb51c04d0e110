// A throwaway "node" in network namespaces: one namespace plays the node VM (where ptp puts host-side
// veths, /32 routes and iptables rules), one the machine outside it (the Mac that reaches the node IP),
// and one per pod. Nothing runs in, or routes through, the real host network namespace.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

export const NETNS_DIR = "/var/run/netns";
export const CNI_BIN_DIR = "/usr/lib/cni";
/** TEST-NET-1 between the node and outside namespaces: the node's "VM address" and the client's. */
export const NODE_IP = "192.0.2.1";
export const OUTSIDE_IP = "192.0.2.2";
export const UPLINK = "up0";
const HOST_IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";
const TAG = /^kcni(\d+)x\d+-/;
/** Where host-local would keep this network's reservations without the dataDir the driver sets. */
const DEFAULT_IPAM_STORE = "/var/lib/cni/networks/ptp-net";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export function run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 10_000);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdin.on("error", () => {}); // a child that exits without reading stdin is not our error
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
    child.stdin.end(opts.input ?? "");
  });
}

export async function runOk(file: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(file, args, opts);
  if (r.code !== 0) {
    const why = r.timedOut ? "timed out" : `exit ${r.code}`;
    throw new Error(`${file} ${args.join(" ")}: ${why}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/** `ip -j` output of a command run against one namespace. */
export async function ipJson<T>(ns: string, args: string[]): Promise<T[]> {
  const out = await runOk("ip", ["-n", ns, "-j", ...args]);
  return out.trim() === "" ? [] : (JSON.parse(out) as T[]);
}

export function inNs(ns: string, file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run("ip", ["netns", "exec", ns, file, ...args], opts);
}

/** Why the lab cannot run here, or undefined. In CI it always runs: a failure beats a silent skip. */
export function labSkipReason(): string | undefined {
  if (process.getuid?.() === 0 || process.env.CI) return undefined;
  return "needs root (network namespaces, veths, iptables)";
}

export function warnSkipped(what: string, reason: string): void {
  const bar = "!".repeat(100);
  console.warn(
    `\n${bar}\n!!! SKIPPED: ${what}\n!!! ${reason}. Run as root (CI does) to exercise the real CNI plugins.\n${bar}\n`,
  );
}

export interface Lab extends LabResources {
  tag: string;
  nodeNs: string;
  outsideNs: string;
  pods: { name: string; ns: string; netnsPath: string; containerId: string }[];
  tmpDir: string;
  ipamDataDir: string;
  hostIpForward: string;
  defaultIpamStoreExisted: boolean;
  children: Set<ChildProcess>;
  agents: Map<string, NsAgent>;
}

let labCounter = 0;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Deletes namespaces and temp dirs of earlier labs whose test process died before its cleanup ran. */
export async function reapOrphanLabs(): Promise<void> {
  const orphan = (name: string): boolean => {
    const m = TAG.exec(name);
    return m !== null && !pidAlive(Number(m[1]));
  };
  const names = existsSync(NETNS_DIR) ? await readdir(NETNS_DIR) : [];
  for (const name of names.filter(orphan)) await run("ip", ["netns", "del", name]);
  for (const name of (await readdir(os.tmpdir())).filter(orphan)) {
    await rm(path.join(os.tmpdir(), name), { recursive: true, force: true });
  }
}

const PLUGINS = ["loopback", "ptp", "host-local", "portmap"];

/** Fails with the fix when the plugins or iptables are missing: as root the lab must run. */
export async function labPreflight(): Promise<void> {
  const missing = PLUGINS.map((p) => path.join(CNI_BIN_DIR, p)).filter((f) => !existsSync(f));
  for (const tool of ["iptables", "iptables-save"]) {
    const r = await run(tool, ["--version"]).catch(() => undefined);
    if (r?.code !== 0) missing.push(tool);
  }
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.join(", ")}: apt-get install containernetworking-plugins iptables (as .ci/run does)`,
    );
  }
}

export async function createLab(podNames: string[]): Promise<Lab> {
  if (process.getuid?.() !== 0) throw new Error("the CNI lab needs root, and CI must run it");
  await labPreflight();
  await reapOrphanLabs();
  const tag = `kcni${process.pid}x${++labCounter}`;
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), `${tag}-`));
  const lab: Lab = {
    tag,
    nodeNs: `${tag}-node`,
    outsideNs: `${tag}-out`,
    pods: podNames.map((name) => ({
      name,
      ns: `${tag}-${name}`,
      netnsPath: path.join(NETNS_DIR, `${tag}-${name}`),
      containerId: `${tag}-${name}`,
    })),
    tmpDir,
    ipamDataDir: path.join(tmpDir, "ipam"),
    hostIpForward: (await readFile(HOST_IP_FORWARD, "utf8")).trim(),
    defaultIpamStoreExisted: existsSync(DEFAULT_IPAM_STORE),
    children: new Set(),
    agents: new Map(),
  };
  try {
    for (const ns of [lab.nodeNs, lab.outsideNs, ...lab.pods.map((p) => p.ns)]) {
      await runOk("ip", ["netns", "add", ns]);
    }
    // Pod loopbacks stay down: bringing them up is the loopback plugin's job.
    for (const ns of [lab.nodeNs, lab.outsideNs]) await runOk("ip", ["-n", ns, "link", "set", "lo", "up"]);
    // The node's "VM network": up0 in the node, eth0 in the outside namespace.
    await runOk("ip", ["-n", lab.nodeNs, "link", "add", UPLINK, "type", "veth", "peer", "name", "eth0"]);
    await runOk("ip", ["-n", lab.nodeNs, "link", "set", "eth0", "netns", lab.outsideNs]);
    await runOk("ip", ["-n", lab.nodeNs, "addr", "add", `${NODE_IP}/24`, "dev", UPLINK]);
    await runOk("ip", ["-n", lab.outsideNs, "addr", "add", `${OUTSIDE_IP}/24`, "dev", "eth0"]);
    await runOk("ip", ["-n", lab.nodeNs, "link", "set", UPLINK, "up"]);
    await runOk("ip", ["-n", lab.outsideNs, "link", "set", "eth0", "up"]);
    return lab;
  } catch (e) {
    await destroyLab(lab);
    throw e;
  }
}

/** What every lab holds that its teardown undoes. */
export interface LabResources {
  tag: string;
  tmpDir: string;
  hostIpForward: string;
  defaultIpamStoreExisted: boolean;
  children: Set<ChildProcess>;
  agents: Map<string, NsAgent>;
}

/**
 * Kills a lab's processes, deletes `namespaces` and its files, restores the host's ip_forward; returns
 * what it had to repair or found left behind.
 */
export async function teardownLab(lab: LabResources, namespaces: string[]): Promise<string[]> {
  const problems: string[] = [];
  await Promise.all(
    [...lab.children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once("exit", () => resolve());
          c.kill("SIGKILL");
        }),
    ),
  );
  lab.children.clear();
  lab.agents.clear();
  for (const ns of namespaces) {
    if (existsSync(path.join(NETNS_DIR, ns))) {
      const r = await run("ip", ["netns", "del", ns]);
      if (r.code !== 0) problems.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
    }
  }
  await rm(lab.tmpDir, { recursive: true, force: true });
  const forward = (await readFile(HOST_IP_FORWARD, "utf8")).trim();
  if (forward !== lab.hostIpForward) {
    problems.push(`host net.ipv4.ip_forward changed from ${lab.hostIpForward} to ${forward}; restored`);
    await writeFile(HOST_IP_FORWARD, lab.hostIpForward + "\n");
  }
  const left = existsSync(NETNS_DIR)
    ? (await readdir(NETNS_DIR)).filter((n) => n.startsWith(`${lab.tag}-`))
    : [];
  if (left.length > 0) problems.push(`namespaces left behind: ${left.join(", ")}`);
  if (!lab.defaultIpamStoreExisted && existsSync(DEFAULT_IPAM_STORE))
    problems.push(`${DEFAULT_IPAM_STORE} was created`);
  return problems;
}

/** Kills the lab's processes, deletes its namespaces and files; returns what it had to repair or found. */
export async function destroyLab(lab: Lab | undefined): Promise<string[]> {
  if (!lab) return [];
  return teardownLab(lab, [lab.nodeNs, lab.outsideNs, ...lab.pods.map((p) => p.ns)]);
}

// One small Node process per namespace (this Node binary, so no curl or busybox needed) is both an
// HTTP server, answering with its name and the address the request came from, and an HTTP client
// that takes requests as JSON lines on stdin. Spawning a process per request cost ~0.3 s each.
const AGENT_JS = `
const http = require("node:http");
const readline = require("node:readline");
const say = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
http
  .createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ server: process.env.KCNI_NAME, remote: req.socket.remoteAddress }));
  })
  .listen(Number(process.env.KCNI_PORT), "0.0.0.0", () => say({ listening: true }));
const rl = readline.createInterface({ input: process.stdin });
rl.on("close", () => process.exit(0)); // the test process went away
rl.on("line", (line) => {
  const { id, url, timeoutMs } = JSON.parse(line);
  // agent: false: a fresh connection per request, so NAT rules see every request.
  const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (d) => (body += d));
    res.on("end", () => say({ id, ok: true, status: res.statusCode, body }));
  });
  req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "TIMEOUT" })));
  req.on("error", (e) => say({ id, ok: false, error: e.code || e.message }));
});
`;

export type HttpOutcome = { ok: true; server: string; remote: string } | { ok: false; error: string };

interface AgentReply {
  id?: number;
  listening?: boolean;
  ok?: boolean;
  status?: number;
  body?: string;
  error?: string;
}

export interface NsAgent {
  get(url: string, timeoutMs?: number): Promise<HttpOutcome>;
}

/** Where agents live: a Lab, or any lab that keeps its children and agents the same way. */
export type AgentHost = Pick<Lab, "children" | "agents">;

export async function startAgent(lab: AgentHost, ns: string, name: string, port: number): Promise<void> {
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", AGENT_JS], {
    env: { ...process.env, KCNI_NAME: name, KCNI_PORT: String(port) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  lab.children.add(child);
  child.stdin.on("error", () => {});
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const pending = new Map<number, (r: AgentReply) => void>();
  let nextId = 0;
  let onListening: () => void = () => {};
  let buffered = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let msg: AgentReply;
      try {
        msg = JSON.parse(line) as AgentReply;
      } catch {
        continue; // not one of ours (a runtime warning)
      }
      if (msg.listening) onListening();
      else if (msg.id !== undefined) pending.get(msg.id)?.(msg);
    }
  });
  const exited = new Promise<AgentReply>((resolve) =>
    child.once("exit", (code) =>
      resolve({ ok: false, error: `agent in ${ns} exited (${code}): ${stderr.trim()}` }),
    ),
  );
  await Promise.race([
    new Promise<void>((resolve) => (onListening = resolve)),
    exited.then((r) => Promise.reject(new Error(r.error))),
    delay(10_000).then(() => Promise.reject(new Error(`agent ${name} in ${ns} not listening after 10s`))),
  ]);
  lab.agents.set(ns, {
    async get(url, timeoutMs = 2000) {
      const id = nextId++;
      const reply = new Promise<AgentReply>((resolve) => pending.set(id, resolve));
      child.stdin.write(JSON.stringify({ id, url, timeoutMs }) + "\n");
      const r = await Promise.race([
        reply,
        exited,
        delay(timeoutMs + 3000).then((): AgentReply => ({ ok: false, error: "agent did not answer" })),
      ]);
      pending.delete(id);
      if (!r.ok) return { ok: false, error: r.error ?? "unknown error" };
      if (r.status !== 200) return { ok: false, error: `HTTP ${r.status}` };
      const body = JSON.parse(r.body ?? "") as { server: string; remote: string };
      return { ok: true, server: body.server, remote: body.remote };
    },
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** GET from inside a namespace; never throws, so a failed request is a finding rather than a crash. */
export async function httpGet(
  lab: Pick<Lab, "agents">,
  ns: string,
  url: string,
  timeoutMs = 2000,
): Promise<HttpOutcome> {
  const agent = lab.agents.get(ns);
  return agent ? agent.get(url, timeoutMs) : { ok: false, error: `no agent in ${ns}` };
}
