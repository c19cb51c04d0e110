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
export async function ensureService(
  cli: ContainerCli,
  onStarting: () => void,
  opts: { stoppedForUpgrade?: boolean } = {},
): Promise<ServiceResult> {
  if (await cli.serviceRunning()) {
    core.info("container system service is already running");
    return { startedByUs: false };
  }
  // Restarting a service that ran before the job (stopped only to upgrade the CLI) is not starting
  // one: the post step leaves it running, as it found it.
  if (!opts.stoppedForUpgrade) onStarting();
  await cli.startService();
  return { startedByUs: !opts.stoppedForUpgrade };
}
