import * as core from "@actions/core";
import * as fs from "node:fs/promises";
import type { ContainerCli } from "../container/cli.js";
import { removeNode } from "./node-vm.js";

export interface TeardownInput {
  node: string;
  kubeconfig: string;
  serviceStartedByUs: boolean;
}

/** Removes what main recorded, each part on its own; problems are warnings, never failures. */
export async function teardown(cli: ContainerCli, t: TeardownInput): Promise<void> {
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      core.warning(`Cleanup: could not ${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  if (t.node) {
    await attempt(`remove node ${t.node}`, async () => {
      if (await cli.inspect(t.node)) await removeNode(cli, t.node);
    });
  }
  if (t.kubeconfig) await attempt(`remove ${t.kubeconfig}`, () => fs.rm(t.kubeconfig, { force: true }));
  if (t.serviceStartedByUs)
    await attempt("stop the container service", () => cli.call(["system", "stop"], { show: true }));
}

export function keepMessage(t: TeardownInput): string {
  const steps = [
    t.node && `container delete --force ${t.node}`,
    t.kubeconfig && `rm -f '${t.kubeconfig}'`,
    t.serviceStartedByUs && "container system stop",
  ].filter(Boolean);
  return steps.length
    ? `cleanup is false: the cluster is kept. Remove it later with: ${steps.join(" && ")}`
    : "cleanup is false and nothing was created.";
}
