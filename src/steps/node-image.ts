import * as core from "@actions/core";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { sameImage, type ContainerCli } from "../container/cli.js";
import { cacheDir, type CacheOpener } from "../cache/actions-cache.js";

export interface NodeImageResult {
  image: string;
  /** True when the image had to be pulled. */
  pulled: boolean;
  /** True when it came from the Actions cache. */
  restored: boolean;
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
 * the Actions cache; else pulled, and its archive saved to the cache.
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
  const dir = cacheDir("node-image");
  const archive = path.join(dir, "node-image.tar");
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
  if (cache && key) {
    try {
      await fs.mkdir(dir, { recursive: true });
      await cli.imageSave(image, archive);
      await cache.save(dir, key);
    } catch (err) {
      core.notice(`The node image was not cached: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  return { image, pulled: true, restored: false };
}
