import * as core from "@actions/core";
import { realpath } from "node:fs/promises";
import * as path from "node:path";
import { INSTALL_PATH } from "./cli.js";
import type { ContainerCli, ContainerState } from "../container/cli.js";
import { errorMessage } from "../errors.js";
import { otherJobs } from "../jobs.js";
import { redact } from "../secrets.js";
import { LABEL, ownedByThisRunner } from "./node-vm.js";

export interface ServiceResult {
  /** True when this job started the service, so the post step stops only what it started. */
  startedByUs: boolean;
  /** True when a running service of another version than the CLI was restarted. */
  restartedForSkew: boolean;
}

export interface ServiceOptions {
  /** The CLI phase stopped a running service to install: starting it again is not starting one. */
  stoppedForUpgrade?: boolean;
  /** `container --version`, to compare with the version of the running container-apiserver. */
  cliVersion?: string;
  /** The job's environment: its runner label says which containers are this runner's own. */
  env?: NodeJS.ProcessEnv;
  /** Called right before a running service is stopped (skew restart): main records it in state. */
  beforeStop?: () => void;
  /** Where Apple's installer puts the CLI (INSTALL_PATH): a CLI there that PATH does not reach shadows. */
  installPath?: string;
}

/**
 * With client and server versions apart: throws when the `container` PATH finds is not the one at
 * `installPath` and that one is of another version, since the skew is then two CLIs, not a stale
 * service, and a restart would not end it.
 */
async function refuseTwoClis(
  cli: ContainerCli,
  client: string,
  server: string,
  installPath: string,
): Promise<void> {
  const [onPath, installed] = await Promise.all([cli.path(), realpath(installPath).catch(() => installPath)]);
  if (!onPath || onPath === installed) return;
  const there = await cli.versionOf(installPath).catch(() => undefined);
  if (there === undefined || there === client) return;
  throw new Error(
    `two container CLIs are installed: ${onPath} (${client}) comes first on PATH, and ${installPath} (${there}) ` +
      `is the one the running service (${server}) belongs to, so restarting the service would not end the version skew; nothing was stopped. ` +
      `Remove ${onPath} (for example 'brew uninstall container') or put ${path.dirname(installPath)} first on the runner's PATH`,
  );
}

/**
 * Containers that run on this Mac and are not this runner's own leftovers: what `container system
 * stop` would take from other jobs. A node this action made for this runner is a leftover (a runner
 * runs one job at a time) and is replaced anyway.
 */
export async function othersRunning(cli: ContainerCli, env: NodeJS.ProcessEnv): Promise<ContainerState[]> {
  return (await cli.running()).filter((c) => !ownedByThisRunner(c, env));
}

/**
 * Other jobs of this action registered on this Mac (jobs.ts), as `runner r, job j; …`, or undefined:
 * they may be using the service without a container yet (pulling an image, starting a node).
 */
export async function otherJobsUsing(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const jobs = await otherJobs(env);
  return jobs.length ? jobs.map((j) => `runner ${j.runner}, job ${j.job}`).join("; ") : undefined;
}

/** `a (runner r1, job j), b` for an error message. */
export function describeContainers(cs: readonly ContainerState[]): string {
  return cs
    .map((c) => {
      const runner = c.labels[LABEL.runner];
      return runner ? `${c.id} (runner ${runner}, job ${c.labels[LABEL.job] ?? "unknown"})` : c.id;
    })
    .join(", ");
}

/**
 * Makes sure the container system service runs, and runs the CLI's own version. Never under sudo (the
 * per-user launchd apiserver never comes up there) and never interactive: --disable-kernel-install
 * stops it prompting for a kernel; the kernel step installs one explicitly.
 *
 * A service of another version (a `.pkg` upgrade that did not stop it; 1.4.1+ reports both versions,
 * older releases the apiserver's) breaks commands (public reports name cp, clean and k8s). It is
 * restarted only when no other container runs, since the stop stops every container of the user;
 * otherwise this throws, naming the containers and what to do.
 */
export async function ensureService(
  cli: ContainerCli,
  onStarting: () => void,
  opts: ServiceOptions = {},
): Promise<ServiceResult> {
  const status = await cli.systemStatus();
  if (status.running) {
    const client = status.clientVersion ?? opts.cliVersion;
    const server = status.serverVersion;
    if (!client || !server || client === server) {
      core.info(`container system service ${server ? `${server} ` : ""}is already running`);
      return { startedByUs: false, restartedForSkew: false };
    }
    await refuseTwoClis(cli, client, server, opts.installPath ?? INSTALL_PATH);
    const others = await othersRunning(cli, opts.env ?? process.env);
    if (others.length) {
      throw new Error(
        `the container service runs ${server} while the CLI is ${client} (upgraded without 'container system stop'), and restarting it ` +
          `would stop every container of this user, including ${describeContainers(others)}; nothing was stopped. ` +
          "Restart it when no other job's containers run ('container system stop && container system start'), or let one job do it when the Mac is idle",
      );
    }
    const jobs = await otherJobsUsing(opts.env ?? process.env);
    if (jobs) {
      throw new Error(
        `the container service runs ${server} while the CLI is ${client} (upgraded without 'container system stop'), and restarting it ` +
          `would break other jobs of this action that are setting up on this Mac (${jobs}); nothing was stopped. ` +
          "Run this job again once they have ended, or restart the service when the Mac is idle ('container system stop && container system start')",
      );
    }
    core.notice(
      `The container service runs ${server} but the CLI is ${client}; restarting it (no other container runs).`,
    );
    opts.beforeStop?.();
    await cli.stopService();
    await cli.startService();
    const after = await cli.systemStatus();
    const [c, v] = [after.clientVersion ?? client, after.serverVersion];
    if (!after.running || (v && c !== v))
      throw new Error(
        `restarted the container service to end a version skew, but it ${after.running ? `still runs ${v}` : "does not run"} while the CLI is ${c}; ` +
          "check which container CLI and which container-apiserver this Mac has (reinstall Apple's CLI), then run the job again",
      );
    return { startedByUs: false, restartedForSkew: true };
  }
  // Restarting a service that ran before the job (stopped only to upgrade the CLI) is not starting
  // one: the post step leaves it running, as it found it.
  if (!opts.stoppedForUpgrade) onStarting();
  await cli.startService();
  return { startedByUs: !opts.stoppedForUpgrade, restartedForSkew: false };
}

/**
 * Post step, when main stopped a running service and the job ended (cancelled, killed) before it ran
 * again: starts it, as the job found it. Never throws (cleanup does not fail the job).
 */
export async function restartStoppedService(cli: ContainerCli): Promise<void> {
  try {
    if (await cli.serviceRunning()) return;
    core.notice(
      "The container service ran before this job, which stopped it to upgrade the CLI or restart it and ended before starting it again; starting it now.",
    );
    await cli.startService();
  } catch (err) {
    core.warning(
      `Cleanup: could not start the container service again: ${redact(errorMessage(err))}. Start it with 'container system start'.`,
    );
  }
}
