import * as core from "@actions/core";
import type { ContainerCli } from "../container/cli.js";

export interface ServiceResult {
  /** True when this job started the service, so the post step stops only what it started. */
  startedByUs: boolean;
}

/**
 * Makes sure the container system service runs. Never under sudo (the per-user launchd apiserver
 * never comes up there) and never interactive: --disable-kernel-install stops it prompting for a
 * kernel; the kernel step installs one explicitly.
 */
export async function ensureService(cli: ContainerCli, onStarting: () => void): Promise<ServiceResult> {
  if (await cli.serviceRunning()) {
    core.info("container system service is already running");
    return { startedByUs: false };
  }
  onStarting();
  await cli.call(["system", "start", "--disable-kernel-install", "--timeout", "60"], { show: true, input: "" });
  return { startedByUs: true };
}
