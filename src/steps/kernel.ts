import * as core from "@actions/core";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import * as os from "node:os";
import type { ContainerCli } from "../container/cli.js";
import { recommendedKernel, type KernelSpec } from "../versions.js";
import type { CacheOpener } from "../cache/actions-cache.js";
import { CACHE_DIRS, type PendingSave } from "./cache-save.js";

export interface KernelResult {
  kernel: KernelSpec;
  /** True when the kernel had to be downloaded. */
  downloaded: boolean;
  /** True when it came from the Actions cache. */
  restored: boolean;
  /** Set when the downloaded kernel should go to the Actions cache (the post step saves it). */
  save?: PendingSave;
}

/** The kernel file is the same for every CLI version that recommends it. */
export function kernelCacheKey(k: KernelSpec): string {
  return `kina-kernel-${k.file}-${k.kata}-arm64`;
}

/** The service's app root, from either status shape; the CLI's default when it does not say. */
export async function appRoot(cli: ContainerCli): Promise<string> {
  const status = await cli.systemStatus();
  if (status.appRoot) return status.appRoot;
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

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (st) => st.isFile(),
    () => false,
  );
}

/**
 * Makes the recommended kata kernel for the installed CLI the default one: nothing to do when it
 * already is; else from the Actions cache; else the CLI downloads it, and the post step saves it to the cache.
 */
export async function ensureKernel(
  cli: ContainerCli,
  cliVersion: string,
  openCache: CacheOpener = async () => undefined,
): Promise<KernelResult> {
  const kernel = recommendedKernel(cliVersion);
  const root = await appRoot(cli);
  if ((await defaultKernel(root)) === kernel.file) {
    core.info(`kernel ${kernel.file} is already the default`);
    return { kernel, downloaded: false, restored: false };
  }
  // 1.5.0's `kernel set` fails when the folder does not exist yet (on a Mac that never had a kernel);
  // it is the CLI's own folder, owned by this user, so creating it is harmless for every release.
  await fs.mkdir(path.join(root, "kernels"), { recursive: true });
  const cache = await openCache();
  const key = kernelCacheKey(kernel);
  const dir = CACHE_DIRS.kernel(kernel.kata);
  const cached = path.join(dir, kernel.file);
  if (cache) {
    await fs.rm(dir, { recursive: true, force: true });
    if ((await cache.restore(dir, key)) && (await exists(cached))) {
      try {
        await cli.setKernelBinary(cached);
        core.info(`kernel ${kernel.file} restored from the Actions cache`);
        return { kernel, downloaded: false, restored: true };
      } catch (err) {
        core.notice(
          `The cached kernel could not be installed (${err instanceof Error ? err.message : String(err)}); downloading it.`,
        );
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    }
  }
  core.info(
    `Setting the recommended kernel ${kernel.file} (kata ${kernel.kata}${kernel.digest ? `, ${kernel.tarball} ${kernel.digest}` : ""})`,
  );
  await cli.setRecommendedKernel();
  const result: KernelResult = { kernel, downloaded: true, restored: false };
  if (cache) {
    const installed = path.join(root, "kernels", kernel.file);
    if ((await defaultKernel(root)) !== kernel.file || !(await exists(installed))) {
      core.notice(`The CLI did not install ${installed} as the default kernel; it is not cached.`);
    } else {
      result.save = { kind: "kernel", key, file: installed, dir };
    }
  }
  return result;
}
