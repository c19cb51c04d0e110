import * as core from "@actions/core";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import * as os from "node:os";
import type { ContainerCli } from "../container/cli.js";
import { recommendedKernel, type KernelSpec } from "../versions.js";

export interface KernelResult {
  kernel: KernelSpec;
  /** True when the kernel had to be downloaded. */
  downloaded: boolean;
}

export async function appRoot(cli: ContainerCli): Promise<string> {
  const status = await cli.systemStatusJson();
  if (typeof status?.appRoot === "string" && status.appRoot) return status.appRoot;
  return (
    process.env.CONTAINER_APP_ROOT ??
    path.join(os.homedir(), "Library", "Application Support", "com.apple.container")
  );
}

/** The basename the `default.kernel-arm64` symlink points at, if any. */
export async function defaultKernel(root: string): Promise<string | undefined> {
  try {
    return path.basename(await fs.readlink(path.join(root, "kernels", "default.kernel-arm64")));
  } catch {
    return undefined;
  }
}

/** Makes the recommended kata kernel for the installed CLI the default one. */
export async function ensureKernel(cli: ContainerCli, cliVersion: string): Promise<KernelResult> {
  const kernel = recommendedKernel(cliVersion);
  const root = await appRoot(cli);
  if ((await defaultKernel(root)) === kernel.file) {
    core.info(`kernel ${kernel.file} is already the default`);
    return { kernel, downloaded: false };
  }
  await cli.call(["system", "kernel", "set", "--recommended", "--force"], { show: true });
  return { kernel, downloaded: true };
}
