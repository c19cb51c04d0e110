import * as core from "@actions/core";
import * as net from "node:net";
import { Backoff, sleep } from "../backoff.js";
import { OTHER_BOUNDS } from "../bounds.js";
import { cidrContains, networkOf, parseCidr, type Cidr } from "../cidr.js";
import { ContainerError, type ContainerCli, type ContainerState, type RunSpec } from "../container/cli.js";
import { hostResources, resolveNodeResources, vmNetworkConflict, type Inputs } from "../inputs.js";

import { CREATED_BY, LABEL, ownedByThisRunner, ownerLabels, runnerName } from "../ownership.js";

export { CREATED_BY, jobLabel, LABEL, ownedByThisJob, ownedByThisRunner } from "../ownership.js";

/**
 * The VM network when the runtime cannot list it: macOS 15's fixed default network ("macOS 15
 * limitations", apple/container docs/technical-overview.md). The node's own address corrects it.
 */
const ASSUMED_VM_NETWORK = "192.168.64.0/24";

/** A node VM of the cluster, running, with its address on the VM network. */
export interface VmNode {
  name: string;
  ip: string;
  /** The VM network's MTU (1280 on Apple's default network). */
  mtu: number;
}

/** The control plane's VM. */
export interface NodeVm extends VmNode {
  /** Host port on 127.0.0.1 published to the API server's 6443. */
  apiPort: number;
}

export type NodeRole = "control-plane" | "worker";

/**
 * Worker `i` (1-based) of a cluster: `<cluster-name>-worker-<i>`, as kind and Apple's k8s plugin name
 * them. `-worker-999` is shorter than `-control-plane`, so the cluster-name length check covers it.
 */
export function workerName(clusterName: string, i: number): string {
  return `${clusterName}-worker-${i}`;
}

/**
 * A quarter of the host, at least 2 CPUs and 2 GiB, as Apple's k8s plugin sizes its nodes: the rule
 * the `workers` bound assumes (inputs.ts, resolveNodeResources).
 */
export function nodeResources(inputs: Pick<Inputs, "cpus" | "memoryMiB">): {
  cpus: number;
  memoryMiB: number;
} {
  return resolveNodeResources(inputs, hostResources());
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A variable in any case (HTTPS_PROXY, https_proxy, Https_Proxy): upper case first. */
function anyCase(env: NodeJS.ProcessEnv, name: string): string | undefined {
  if (env[name]) return env[name];
  if (env[name.toLowerCase()]) return env[name.toLowerCase()];
  const k = Object.keys(env).find((e) => e.toUpperCase() === name && env[e]);
  return k ? env[k] : undefined;
}

/**
 * The host's proxy settings for the node, with the cluster's own traffic kept off the proxy: NO_PROXY
 * gets the VM network(s), the pod and service subnets and the node's names. Without that, the kubelet
 * sends its API traffic to the proxy and times out (Apple's k8s plugin does the same).
 */
export function proxyEnv(
  env: NodeJS.ProcessEnv,
  inputs: Pick<Inputs, "podSubnet" | "serviceSubnet" | "nodeName">,
  vmNetworks: string[],
  peers: string[] = [],
): Record<string, string> {
  const http = anyCase(env, "HTTP_PROXY");
  const https = anyCase(env, "HTTPS_PROXY");
  if (!http && !https) return {};
  const noProxy = [
    ...new Set(
      [
        ...(anyCase(env, "NO_PROXY") ?? "").split(","),
        "localhost",
        "127.0.0.1",
        ...vmNetworks,
        inputs.podSubnet.text,
        inputs.serviceSubnet.text,
        inputs.nodeName,
        ...peers,
        ".svc",
        ".cluster.local",
      ]
        .map((e) => e.trim())
        .filter(Boolean),
    ),
  ].join(",");
  const out: Record<string, string> = {};
  for (const [k, v] of [
    ["HTTP_PROXY", http],
    ["HTTPS_PROXY", https],
    ["NO_PROXY", noProxy],
  ] as const) {
    if (!v) continue;
    out[k] = v;
    out[k.toLowerCase()] = v;
  }
  return out;
}

/** Whether a NO_PROXY list keeps `ip` off the proxy: the address itself, or a CIDR that holds it. */
export function bypassesProxy(noProxy: string, ip: string): boolean {
  return noProxy.split(",").some((e) => {
    const c = parseCidr(e.trim());
    return e.trim() === ip || (c !== undefined && cidrContains(c, ip));
  });
}

export interface NodeSpecInput {
  inputs: Inputs;
  apiPort: number;
  env: NodeJS.ProcessEnv;
  /** The VM network(s), for the node's NO_PROXY. */
  vmNetworks: string[];
  /** Creation time (ms since the epoch). */
  now?: number;
  /** A worker: named `name`, labelled role worker, nothing published (default: the control plane). */
  worker?: { name: string };
  /** Every node's name, for NO_PROXY (default: this node's). */
  nodeNames?: string[];
}

/**
 * A node VM: sized, labelled with its cluster, role, runner, job and creation time. Only the control
 * plane publishes a port (its API on 127.0.0.1); workers reach it over the VM network.
 */
export function nodeSpec({
  inputs,
  apiPort,
  env,
  vmNetworks,
  now = Date.now(),
  worker,
  nodeNames = [],
}: NodeSpecInput): RunSpec {
  const { cpus, memoryMiB } = nodeResources(inputs);
  return {
    name: worker?.name ?? inputs.nodeName,
    image: inputs.nodeImage,
    cpus,
    memoryMiB,
    labels: {
      [LABEL.createdBy]: CREATED_BY,
      [LABEL.cluster]: inputs.clusterName,
      [LABEL.role]: worker ? "worker" : "control-plane",
      ...ownerLabels(env),
      [LABEL.createdAt]: new Date(now).toISOString(),
    },
    env: proxyEnv(env, inputs, vmNetworks, nodeNames),
    // 127.0.0.1: reachable from a LaunchAgent runner without Local Network Privacy, unique per cluster.
    publish: worker ? [] : [{ hostIp: "127.0.0.1", hostPort: apiPort, containerPort: 6443 }],
    // The node runs systemd, containerd, iptables and the kubelet, and kube-proxy and ptp set sysctls.
    privileged: true,
  };
}

/** Milliseconds since the node was created (its label), or started (inspect); undefined if unknown. */
export function nodeAgeMs(existing: ContainerState, now = Date.now()): number | undefined {
  const t = Date.parse(existing.labels[LABEL.createdAt] || existing.startedDate || "");
  return Number.isFinite(t) ? now - t : undefined;
}

/**
 * What to do about a container that already has the node's name:
 * - foreign: not made by this action for this cluster; never touched.
 * - stale: left by an earlier job. A runner runs one job at a time, so anything carrying this runner
 *   install's runner-id label is a leftover; so is a stopped node of any runner (the action never
 *   restarts a stopped node). A running node with only a RUNNER_NAME label (made before runner-id
 *   labels) is never provably this runner's, even under our name: another install may share it.
 * - abandoned: running, made by another runner, and older than reclaim-after: that runner died mid-job
 *   (ephemeral runners get a new name per job), and no job of it can still be using it unless it runs
 *   longer than reclaim-after.
 * - busy: running, made by another runner on this Mac, younger. Its job may be using it right now, and a
 *   failed job is cheaper than a destroyed one: refuse, and say how to remove it if it is a leftover.
 */
export function classifyExisting(
  existing: ContainerState,
  inputs: Pick<Inputs, "clusterName"> & Partial<Pick<Inputs, "reclaimAfterSeconds">>,
  env: NodeJS.ProcessEnv,
  now = Date.now(),
): "stale" | "busy" | "abandoned" | "foreign" {
  const l = existing.labels;
  if (l[LABEL.createdBy] !== CREATED_BY || l[LABEL.cluster] !== inputs.clusterName) return "foreign";
  if (ownedByThisRunner(existing, env) || existing.state !== "running") return "stale";
  const age = nodeAgeMs(existing, now);
  if (
    inputs.reclaimAfterSeconds !== undefined &&
    age !== undefined &&
    age > inputs.reclaimAfterSeconds * 1000
  )
    return "abandoned";
  return "busy";
}

/** Deletes the node at once; a node that is already gone is fine. */
export async function removeNode(cli: ContainerCli, name: string): Promise<void> {
  await cli.remove(name);
}

const duration = (seconds: number) =>
  seconds % 3600 === 0 ? `${seconds / 3600}h` : seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
const hours = (ms: number) => `${(ms / 3_600_000).toFixed(1)}h`;

/** The role label first (control plane before workers), then by name: the order notices and errors use. */
function byRole(a: ContainerState, b: ContainerState): number {
  const rank = (c: ContainerState) => (c.labels[LABEL.role] === "control-plane" ? 0 : 1);
  return rank(a) - rank(b) || a.id.localeCompare(b.id, "en", { numeric: true });
}

/**
 * Clears what is left of this cluster on this Mac before any of its nodes is created, from one
 * `container list --all`:
 * - a container with one of `names` (the nodes this job will create) that this action did not make for
 *   this cluster is foreign: refused, never touched;
 * - every container labelled with this action's created-by and this cluster (whatever its name: a
 *   leftover `-worker-2` when this job wants one worker) is classified on its own (classifyExisting).
 *   When any of them is busy the whole cluster is refused, one command naming all its nodes, so no part of
 *   another job's running cluster is ever deleted; otherwise all of them (stale or abandoned) are removed.
 * Throws an Error with the message the user reads; `container` failures as the adapter throws them.
 */
export async function clearCluster(
  cli: ContainerCli,
  inputs: Inputs,
  names: string[],
  env: NodeJS.ProcessEnv = process.env,
  now = Date.now(),
): Promise<void> {
  const all = await cli.list();
  const isMember = (c: ContainerState) =>
    c.labels[LABEL.createdBy] === CREATED_BY && c.labels[LABEL.cluster] === inputs.clusterName;
  const foreign = names.filter((n) => all.some((c) => c.id === n && !isMember(c)));
  if (foreign.length) {
    const one = foreign.length === 1;
    throw new Error(
      `${one ? "a container" : "containers"} named ${foreign.join(", ")} ${one ? "exists" : "exist"} and ` +
        `${one ? "was" : "were"} not created by this action for cluster ${inputs.clusterName}; ` +
        `${one ? "it is" : "they are"} left untouched. Remove ${one ? "it" : "them"} yourself ` +
        `('container delete --force ${foreign.join(" ")}') or choose another cluster-name.`,
    );
  }
  const members = all.filter(isMember).sort(byRole);
  if (!members.length) return;
  const kinds = members.map((c) => classifyExisting(c, inputs, env, now));
  const busy = members.filter((_, i) => kinds[i] === "busy");
  if (busy.length) throw new Error(busyMessage(inputs, env, busy[0]!, members, now));
  await Promise.all(
    members.map(async (c, i) => {
      const l = c.labels;
      const job = l[LABEL.job] ?? "unknown";
      const owner = l[LABEL.runner] ?? "unknown";
      if (kinds[i] === "abandoned") {
        const age = nodeAgeMs(c, now);
        const created = age !== undefined ? `, created ${hours(age)} ago` : "";
        core.notice(
          `Removing ${c.id} (running, job ${job} on runner ${owner}${created}): it is older than ` +
            `reclaim-after (${duration(inputs.reclaimAfterSeconds!)}), so the job that created it has ended.`,
        );
      } else {
        core.notice(`Removing ${c.id} (${c.state}) left by an earlier job (${job} on runner ${owner}).`);
      }
      await removeNode(cli, c.id);
    }),
  );
}

/** Why a cluster with a busy node is refused, and the one command that removes every node of it. */
function busyMessage(
  inputs: Inputs,
  env: NodeJS.ProcessEnv,
  busy: ContainerState,
  members: ContainerState[],
  now: number,
): string {
  const l = busy.labels;
  const age = nodeAgeMs(busy, now);
  const job = l[LABEL.job] ?? "unknown";
  const owner = l[LABEL.runner] ?? "unknown";
  const reclaim =
    inputs.reclaimAfterSeconds !== undefined
      ? `reclaim-after (${duration(inputs.reclaimAfterSeconds)}) removes it once older than that`
      : "reclaim-after is empty, so it is never removed automatically";
  // Same name, other install (or a node from before runner-id labels): the name proves nothing.
  const sameName =
    owner === runnerName(env)
      ? ` It carries this runner's name, but ${l[LABEL.runnerId] ? "another runner install on this Mac has the same name" : "it predates runner-id labels, so it may be another install's of the same name"}.`
      : "";
  const nodes = members.map((c) => c.id);
  const which = nodes.length > 1 ? ` (nodes ${nodes.join(", ")})` : "";
  return (
    `cluster ${inputs.clusterName} is running for runner ${owner} (job ${job}) on this Mac and may be in use` +
    ` (${age !== undefined ? `created ${hours(age)} ago` : "age unknown"}), so it is left untouched${which}.${sameName} Runners sharing a Mac need distinct ` +
    "cluster-name values (cluster-name: kina-${{ runner.name }} works for any runner name). If that runner " +
    "is gone (an ephemeral runner that " +
    `died mid-job), ${reclaim}; set reclaim-after no shorter than your longest job, or remove it now with ` +
    `'container delete --force ${nodes.join(" ")}'.`
  );
}

const RUNNING_TIMEOUT_MS = OTHER_BOUNDS.nodeRunning.seconds * 1000;

async function waitRunning(cli: ContainerCli, name: string): Promise<ContainerState & { ipv4: string }> {
  const deadline = Date.now() + RUNNING_TIMEOUT_MS;
  const backoff = new Backoff({ minMs: 50, maxMs: 1000 });
  for (;;) {
    const s = await cli.inspect(name);
    if (s?.state === "running" && s.ipv4) return s as ContainerState & { ipv4: string };
    if (s && s.state === "stopped")
      throw new Error(`node ${name} stopped right after start; see 'container logs --boot ${name}'`);
    if (Date.now() > deadline)
      throw new Error(
        `node ${name} not running with an address after ${RUNNING_TIMEOUT_MS / 1000}s (state ${s?.state ?? "absent"})`,
      );
    await sleep(backoff.next());
  }
}

/**
 * The VM network as the runtime lists it (`container network ls`, macOS 26), with the pod and service
 * subnets checked against it before anything is created; undefined where there is no listing.
 */
async function listedNetworks(cli: ContainerCli, inputs: Inputs): Promise<Cidr[] | undefined> {
  const networks = await cli.networks();
  if (!networks) return undefined;
  const out: Cidr[] = [];
  for (const n of networks) {
    const [ip, prefix] = n.subnet.split("/");
    const cidr = networkOf(ip ?? "", Number(prefix));
    if (!cidr) continue;
    const conflict = vmNetworkConflict(inputs, cidr, `network ${n.id || "?"} in \`container network ls\``);
    if (conflict) throw new Error(conflict);
    out.push(cidr);
  }
  core.info(`VM network: ${out.map((c) => c.text).join(", ") || "none listed"}`);
  return out.length ? out : undefined;
}

/**
 * Creates the node VM and waits until it runs with an address (prepare-node waits for containerd): the
 * control plane alone, as createNodeVms creates it with `workers: 0`.
 */
export async function createNodeVm(
  cli: ContainerCli,
  inputs: Inputs,
  cliVersion: string,
  beforeCreate: (name: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<NodeVm> {
  const vms = await createNodeVms(cli, { ...inputs, workers: 0 }, cliVersion, (n) => beforeCreate(n), env);
  return vms.controlPlane;
}

export interface NodeVms {
  controlPlane: NodeVm;
  /** In index order: worker 1 first. */
  workers: VmNode[];
}

/**
 * The control plane and `inputs.workers` workers, created in parallel (same labels, size and NO_PROXY;
 * workers publish nothing). The VM network is read, not assumed: from the runtime's listing where there
 * is one, and from each node's own address and prefix everywhere; pod and service subnets are checked
 * against both, and NO_PROXY is built from them (a node whose network the listing missed is recreated
 * once with it). What is left of this cluster is cleared first, all of it or none (clearCluster), so a
 * busy or foreign node refuses the job before any VM boots. `beforeCreate` records each name in state
 * before its `container run`, so a cancelled job's post step still removes it. Every creation
 * settles before the first error (the control plane's first, then the workers' in order) is thrown, so
 * no `container run` is still in flight when the post step removes what `beforeCreate` recorded.
 */
export async function createNodeVms(
  cli: ContainerCli,
  inputs: Inputs,
  cliVersion: string,
  beforeCreate: (name: string, role: NodeRole) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<NodeVms> {
  const listed = await listedNetworks(cli, inputs);
  const vmNetworks = listed?.map((c) => c.text) ?? [ASSUMED_VM_NETWORK];
  const workers = Array.from({ length: inputs.workers }, (_, i) => workerName(inputs.clusterName, i + 1));
  const nodeNames = [inputs.nodeName, ...workers];
  await clearCluster(cli, inputs, nodeNames, env);
  const settled = await Promise.allSettled([
    createOne(cli, inputs, cliVersion, (n) => beforeCreate(n, "control-plane"), env, [...vmNetworks], {
      nodeNames,
    }),
    ...workers.map((name) =>
      createOne(cli, inputs, cliVersion, (n) => beforeCreate(n, "worker"), env, [...vmNetworks], {
        nodeNames,
        worker: { name },
      }),
    ),
  ]);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  const [cp, ...ws] = settled.map((r) => (r as PromiseFulfilledResult<VmNode>).value);
  return { controlPlane: cp as NodeVm, workers: ws };
}

async function createOne(
  cli: ContainerCli,
  inputs: Inputs,
  cliVersion: string,
  beforeCreate: (name: string) => void,
  env: NodeJS.ProcessEnv,
  vmNetworks: string[],
  o: { worker?: { name: string }; nodeNames?: string[] } = {},
): Promise<VmNode | NodeVm> {
  const name = o.worker?.name ?? inputs.nodeName;
  beforeCreate(name);
  for (let attempt = 1; ; attempt++) {
    const apiPort = o.worker ? 0 : await freePort();
    const spec = nodeSpec({ inputs, apiPort, env, vmNetworks, ...o });
    try {
      await cli.run(spec, cliVersion);
    } catch (err) {
      // Another cluster on this Mac may have taken the port between our probe and the run.
      if (attempt < 3 && err instanceof ContainerError && err.portInUse) {
        await removeNode(cli, name);
        continue;
      }
      throw err;
    }
    const state = await waitRunning(cli, name);
    const prefix = state.ipv4Prefix ?? 24;
    const own = networkOf(state.ipv4, prefix);
    if (own) {
      const conflict = vmNetworkConflict(
        inputs,
        own,
        `the node's address ${state.ipv4}/${prefix} from \`container inspect\``,
      );
      if (conflict) throw new Error(conflict);
      const noProxy = spec.env.NO_PROXY;
      if (noProxy !== undefined && !bypassesProxy(noProxy, state.ipv4) && attempt < 3) {
        core.notice(
          `The node's network ${own.text} is not the assumed ${vmNetworks.join(", ")}: recreating ${o.worker ? name : "the node"} so its ` +
            "NO_PROXY keeps cluster traffic off the proxy.",
        );
        vmNetworks.push(own.text);
        await removeNode(cli, name);
        continue;
      }
    }
    const vm: VmNode = { name, ip: state.ipv4, mtu: state.mtu ?? 1280 };
    return o.worker ? vm : { ...vm, apiPort };
  }
}
