import * as core from "@actions/core";
import * as net from "node:net";
import * as os from "node:os";
import { ContainerError, type ContainerCli, type ContainerState } from "../container/cli.js";
import type { Inputs } from "../inputs.js";
import { compareVersions } from "../versions.js";

export const LABEL = {
  createdBy: "io.kina.created-by",
  cluster: "io.kina.cluster",
  role: "io.kina.role",
  runner: "io.kina.runner",
  job: "io.kina.job",
} as const;
export const CREATED_BY = "kina-setup-cluster";

export interface NodeVm {
  name: string;
  ip: string;
  /** The VM network's MTU (1280 on Apple's default network). */
  mtu: number;
  /** Host port on 127.0.0.1 published to the API server's 6443. */
  apiPort: number;
}

/** A quarter of the host, at least 2 CPUs and 2 GiB, as Apple's k8s plugin sizes its nodes. */
export function nodeResources(inputs: Pick<Inputs, "cpus" | "memoryMiB">): {
  cpus: number;
  memoryMiB: number;
} {
  return {
    cpus: inputs.cpus ?? Math.max(2, Math.floor(os.cpus().length / 4)),
    memoryMiB: inputs.memoryMiB ?? Math.max(2048, Math.floor(os.totalmem() / 4 / 1024 / 1024)),
  };
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

/** Host proxy settings for the node, with the cluster's own ranges kept off the proxy. */
export function proxyEnv(
  env: NodeJS.ProcessEnv,
  inputs: Pick<Inputs, "podSubnet" | "serviceSubnet" | "nodeName">,
): string[] {
  const get = (k: string) => env[k] ?? env[k.toLowerCase()];
  const http = get("HTTP_PROXY");
  const https = get("HTTPS_PROXY");
  if (!http && !https) return [];
  const noProxy = [
    get("NO_PROXY"),
    "localhost",
    "127.0.0.1",
    "192.168.0.0/16",
    inputs.podSubnet.text,
    inputs.serviceSubnet.text,
    inputs.nodeName,
    ".svc",
    ".cluster.local",
  ]
    .filter(Boolean)
    .join(",");
  const out: string[] = [];
  for (const [k, v] of [
    ["HTTP_PROXY", http],
    ["HTTPS_PROXY", https],
    ["NO_PROXY", noProxy],
  ] as const) {
    if (v) out.push(`${k}=${v}`, `${k.toLowerCase()}=${v}`);
  }
  return out;
}

export function jobLabel(env: NodeJS.ProcessEnv): string {
  return (
    [env.GITHUB_REPOSITORY, env.GITHUB_RUN_ID, env.GITHUB_RUN_ATTEMPT, env.GITHUB_JOB]
      .filter(Boolean)
      .join("/") || "local"
  );
}

export interface RunArgsInput {
  inputs: Inputs;
  cliVersion: string;
  apiPort: number;
  env: NodeJS.ProcessEnv;
}

export function runArgs({ inputs, cliVersion, apiPort, env }: RunArgsInput): string[] {
  const { cpus, memoryMiB } = nodeResources(inputs);
  const labels: Record<string, string> = {
    [LABEL.createdBy]: CREATED_BY,
    [LABEL.cluster]: inputs.clusterName,
    [LABEL.role]: "control-plane",
    [LABEL.runner]: env.RUNNER_NAME ?? os.hostname(),
    [LABEL.job]: jobLabel(env),
  };
  const args = ["run", "-d", "--name", inputs.nodeName, "-c", String(cpus), "-m", `${memoryMiB}M`];
  for (const [k, v] of Object.entries(labels)) args.push("-l", `${k}=${v}`);
  // The node runs systemd, containerd, iptables and the kubelet: it needs every capability (0.12.0+).
  if (compareVersions(cliVersion, "0.12.0") >= 0) args.push("--cap-add", "ALL");
  // 1.2.0 made /proc/sys read-only; 1.2.1 can lift it so kube-proxy and ptp can set sysctls.
  if (compareVersions(cliVersion, "1.2.1") >= 0)
    args.push("--read-only-path", "NONE", "--masked-path", "NONE");
  for (const e of proxyEnv(env, inputs)) args.push("-e", e);
  // 127.0.0.1: reachable from a LaunchAgent runner without Local Network Privacy, unique per cluster.
  args.push("-p", `127.0.0.1:${apiPort}:6443`);
  args.push(inputs.nodeImage);
  return args;
}

/**
 * Whether the post step may remove this container: made by this action on this runner. A runner runs
 * one job at a time, so such a node is this job's, or an earlier job's leftover; a same-named node of
 * another runner (created between our check and our `container run`) is not.
 */
export function ownedByThisRunner(existing: ContainerState, env: NodeJS.ProcessEnv): boolean {
  const l = existing.labels;
  return l[LABEL.createdBy] === CREATED_BY && l[LABEL.runner] === (env.RUNNER_NAME ?? os.hostname());
}

/**
 * What to do about a container that already has the node's name:
 * - foreign: not made by this action for this cluster; never touched.
 * - stale: left by an earlier job. A runner runs one job at a time, so anything carrying its own runner
 *   label is a leftover; so is a stopped node of any runner (the action never restarts a stopped node).
 * - busy: running, and made by another runner on this Mac. Its job may be using it right now, and a
 *   failed job is cheaper than a destroyed one: refuse, and say how to remove it if it is a leftover
 *   (a runner killed mid-job leaves its node running).
 */
export function classifyExisting(
  existing: ContainerState,
  inputs: Pick<Inputs, "clusterName">,
  runner: string,
): "stale" | "busy" | "foreign" {
  const l = existing.labels;
  if (l[LABEL.createdBy] !== CREATED_BY || l[LABEL.cluster] !== inputs.clusterName) return "foreign";
  if (l[LABEL.runner] === runner || existing.state !== "running") return "stale";
  return "busy";
}

const REMOVE_TIMEOUT_MS = 60_000;

/**
 * Deletes the node at once. A CI node holds nothing worth a graceful shutdown, and `stop` would only
 * wait out its grace period: the node's systemd ignores SIGTERM (it halts on SIGRTMIN+3).
 */
export async function removeNode(
  cli: ContainerCli,
  name: string,
  timeoutMs = REMOVE_TIMEOUT_MS,
): Promise<void> {
  const args = ["delete", "--force", name];
  const r = await cli.callWithin(args, timeoutMs, { show: true });
  if (r.code !== 0 && !/not found/i.test(r.stderr)) throw new ContainerError(args, r.code, r.stderr);
}

async function clearStale(cli: ContainerCli, inputs: Inputs, env: NodeJS.ProcessEnv): Promise<void> {
  const existing = await cli.inspect(inputs.nodeName);
  if (!existing) return;
  const runner = env.RUNNER_NAME ?? os.hostname();
  const l = existing.labels;
  switch (classifyExisting(existing, inputs, runner)) {
    case "foreign":
      throw new Error(
        `a container named ${inputs.nodeName} exists and was not created by this action for cluster ` +
          `${inputs.clusterName}; it is left untouched. Remove it yourself ` +
          `('container delete --force ${inputs.nodeName}') or choose another cluster-name.`,
      );
    case "busy":
      throw new Error(
        `cluster ${inputs.clusterName} is running for runner ${l[LABEL.runner]} (job ${l[LABEL.job] ?? "unknown"}) ` +
          "on this Mac and may be in use, so it is left untouched. Runners sharing a Mac need distinct " +
          "cluster-name values (e.g. cluster-name: kina-${{ runner.name }}). If that job is over, remove its " +
          `node with 'container delete --force ${inputs.nodeName}'.`,
      );
    case "stale":
      core.notice(
        `Removing ${inputs.nodeName} (${existing.state}) left by an earlier job (${l[LABEL.job] ?? "unknown"}` +
          ` on runner ${l[LABEL.runner] ?? "unknown"}).`,
      );
      await removeNode(cli, inputs.nodeName);
  }
}

const RUNNING_TIMEOUT_MS = 60_000;

async function waitRunning(cli: ContainerCli, name: string): Promise<ContainerState> {
  const deadline = Date.now() + RUNNING_TIMEOUT_MS;
  let delay = 50;
  for (;;) {
    const s = await cli.inspect(name);
    if (s?.state === "running" && s.ipv4) return s;
    if (s && s.state === "stopped")
      throw new Error(`node ${name} stopped right after start; see 'container logs --boot ${name}'`);
    if (Date.now() > deadline)
      throw new Error(
        `node ${name} not running with an address after ${RUNNING_TIMEOUT_MS / 1000}s (state ${s?.state ?? "absent"})`,
      );
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
}

/**
 * Creates the node VM and waits until it runs with an address (prepare-node waits for containerd).
 * `beforeCreate` records the name in state first, so a cancelled job's post step still removes it.
 */
export async function createNodeVm(
  cli: ContainerCli,
  inputs: Inputs,
  cliVersion: string,
  beforeCreate: (name: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<NodeVm> {
  await clearStale(cli, inputs, env);
  beforeCreate(inputs.nodeName);
  let apiPort: number;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      await cli.call(runArgs({ inputs, cliVersion, apiPort: port, env }), { show: true });
      apiPort = port;
      break;
    } catch (err) {
      // Another cluster on this Mac may have taken the port between our probe and the run.
      if (attempt < 3 && err instanceof ContainerError && /address already in use|port/i.test(err.stderr)) {
        await cli.call(["delete", "--force", inputs.nodeName], { allowFailure: true });
        continue;
      }
      throw err;
    }
  }
  const state = await waitRunning(cli, inputs.nodeName);
  return { name: inputs.nodeName, ip: state.ipv4!, mtu: state.mtu ?? 1280, apiPort };
}
