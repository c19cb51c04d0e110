import * as core from "@actions/core";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { sameImage, type ContainerCli } from "../container/cli.js";
import type { CacheOpener } from "../cache/actions-cache.js";
import { CACHE_DIRS, IMAGE_ARCHIVE, type PendingSave } from "./cache-save.js";

export interface NodeImageResult {
  image: string;
  /** True when the image had to be pulled. */
  pulled: boolean;
  /** True when it came from the Actions cache. */
  restored: boolean;
  /** Set when the pulled image should go to the Actions cache (the post step saves it). */
  save?: PendingSave;
}

/**
 * The cache key of a digest-pinned image; undefined for a tag alone, which can move, so a cached
 * archive could silently be another image than the tag now names.
 */
export function imageCacheKey(image: string): string | undefined {
  const m = /@sha256:([0-9a-f]{64})$/.exec(image);
  return m ? `kina-node-image-${m[1]}-arm64` : undefined;
}

async function present(cli: ContainerCli, image: string): Promise<boolean> {
  return (await cli.images()).some((r) => sameImage(image, r));
}

/**
 * Makes the node image available: nothing to do when `image ls` has it; else loaded from an archive in
 * the Actions cache; else pulled, with its archive left for the post step to save to the cache.
 */
export async function ensureNodeImage(
  cli: ContainerCli,
  image: string,
  openCache: CacheOpener = async () => undefined,
): Promise<NodeImageResult> {
  if (await present(cli, image)) {
    core.info(`node image ${image} is already present`);
    return { image, pulled: false, restored: false };
  }
  const key = imageCacheKey(image);
  const cache = await openCache();
  if (cache && !key) core.info(`${image} is not pinned by digest, so it is not cached`);
  const dir = CACHE_DIRS.image();
  const archive = path.join(dir, IMAGE_ARCHIVE);
  if (cache && key) {
    await fs.rm(dir, { recursive: true, force: true });
    if (await cache.restore(dir, key)) {
      try {
        await cli.imageLoad(archive);
      } catch (err) {
        core.notice(
          `The cached node image could not be loaded (${err instanceof Error ? err.message : String(err)}); pulling it.`,
        );
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
      if (await present(cli, image)) {
        core.info(`node image ${image} restored from the Actions cache`);
        return { image, pulled: false, restored: true };
      }
    }
  }
  await cli.imagePull(image);
  const result: NodeImageResult = { image, pulled: true, restored: false };
  if (cache && key) result.save = { kind: "image", key, image, dir };
  return result;
}
