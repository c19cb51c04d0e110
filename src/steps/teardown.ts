import * as core from "@actions/core";
import * as fs from "node:fs/promises";
import { ContainerError, type ContainerCli, type ContainerState } from "../container/cli.js";
import { TimeoutError } from "../errors.js";
import { otherJobs, withJobsLock } from "../jobs.js";
import { redact } from "../secrets.js";
import { describeContainers } from "./service.js";
import { LABEL, ownedByThisJob, removeNode } from "./node-vm.js";

export interface TeardownInput {
  node: string;
  /** Worker nodes main recorded (none for a single-node cluster). */
  workers?: string[];
  kubeconfig: string;
  serviceStartedByUs: boolean;
}

export interface TeardownOptions {
  /** The job's environment: its runner and job labels say which node is ours. */
  env?: NodeJS.ProcessEnv;
}

const message = (err: unknown) => redact(err instanceof Error ? err.message : String(err));

/**
 * Containers not made by this job that are not stopped and would die with the service. By the labels,
 * never by name: a same-named node of another runner (it won the race for the name) is not ours.
 */
async function othersRunning(cli: ContainerCli, env: NodeJS.ProcessEnv): Promise<ContainerState[]> {
  return (await cli.list()).filter((s) => s.state !== "stopped" && !ownedByThisJob(s, env));
}

/**
 * Removes what main recorded, each part on its own: the nodes (only those this job made, by their
 * runner-id and job labels; the control plane first, then the workers in parallel), the kubeconfig, and
 * the container service when this job started it, no container this job did not make runs, and no other
 * job of this action is registered (jobs.ts: one may be pulling an image, with no container yet). That
 * decision and the stop hold the jobs folder's lock, so a job that registers meanwhile finds the service
 * stopped and starts it. A service stopped meanwhile is started to reach the node, and stopped again.
 * Every call is bounded (the adapter's table); problems are warnings, never failures; running it twice
 * is harmless.
 */
export async function teardown(cli: ContainerCli, t: TeardownInput, o: TeardownOptions = {}): Promise<void> {
  const env = o.env ?? process.env;
  const attempt = async (what: string, fn: () => Promise<unknown>, afterTimeout = "") => {
    try {
      await fn();
    } catch (err) {
      core.warning(
        `Cleanup: could not ${what}: ${message(err)}${err instanceof TimeoutError ? afterTimeout : ""}`,
      );
    }
  };
  // Set when the service was down and this step started it to reach the node: stopped again below.
  let startedHere = false;
  const removeOne = async (name: string) => {
    const removeLater = ` Then remove the node with 'container delete --force ${name}'.`;
    await attempt(
      `remove node ${name}`,
      async () => {
        let node: ContainerState | undefined;
        let serviceDown = false;
        try {
          node = await cli.inspect(name);
        } catch (err) {
          if (!(err instanceof ContainerError && err.serviceDown)) throw err;
          serviceDown = true;
        }
        if (serviceDown) {
          // Stopped during the job (by a later step, or a crash): the node is still on disk.
          core.info("The container service is not running; starting it to remove the node.");
          await cli.startService();
          startedHere = true;
          node = await cli.inspect(name);
        }
        if (!node) {
          core.info(`Node ${name} does not exist (never created, or already removed).`);
        } else if (!ownedByThisJob(node, env)) {
          // Main records the name before `container run`: a same-named container from elsewhere won that race.
          core.warning(
            `Cleanup: ${name} was not created by this job (runner label '${node.labels[LABEL.runner] ?? "none"}', job '${node.labels[LABEL.job] ?? "none"}'); left untouched.`,
          );
        } else {
          await removeNode(cli, name);
          core.info(`Removed node ${name}.`);
        }
      },
      removeLater,
    );
  };
  const [first, ...rest] = [t.node, ...(t.workers ?? [])].filter(Boolean);
  // The first one starts the service if it is down; the others then find it running.
  if (first) await removeOne(first);
  await Promise.all(rest.map(removeOne));
  if (t.kubeconfig) {
    await attempt(`remove ${t.kubeconfig}`, async () => {
      await fs.rm(t.kubeconfig, { force: true });
      core.info(`Removed ${t.kubeconfig}.`);
    });
  }
  if (t.serviceStartedByUs || startedHere) {
    await attempt("stop the container service", () =>
      withJobsLock(env, async () => {
        if (!(await cli.serviceRunning())) {
          core.info("The container service is not running.");
          return;
        }
        // `system stop` stops every container: another runner on this Mac may be using one.
        const others = await othersRunning(cli, env);
        if (others.length) {
          core.notice(
            `This job started the container service, but it is left running: other containers use it (${describeContainers(others)}).`,
          );
          return;
        }
        const jobs = await otherJobs(env);
        if (jobs.length) {
          core.notice(
            "This job started the container service, but it is left running: other jobs of this action on this Mac may be using it " +
              `(${jobs.map((j) => `runner ${j.runner}, job ${j.job}`).join("; ")}).`,
          );
          return;
        }
        await cli.stopService();
      }),
    );
  }
}

export function keepMessage(t: TeardownInput): string {
  const steps = [
    (t.node || t.workers?.length) &&
      `container delete --force ${[t.node, ...(t.workers ?? [])].filter(Boolean).join(" ")}`,
    t.kubeconfig && `rm -f '${t.kubeconfig}'`,
    t.serviceStartedByUs && "container system stop",
  ].filter(Boolean);
  return steps.length
    ? `cleanup is false: the cluster is kept. Remove it later with: ${steps.join(" && ")}`
    : "cleanup is false and nothing was created.";
}
