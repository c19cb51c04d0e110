import * as core from "@actions/core";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { ContainerCli } from "../container/cli.js";
import { cacheDir, type CacheOpener } from "../cache/actions-cache.js";

/**
 * A download worth keeping in the Actions cache. Main only records it; the post step uploads it, so
 * a cold run does not pay for archiving and uploading ~0.5 GB before the cluster is usable.
 */
export type PendingSave =
  | { kind: "kernel"; key: string; /** the installed kernel file */ file: string; dir: string }
  | { kind: "image"; key: string; image: string; dir: string };

/** The folders the entries are restored into and saved from: the entry's version hashes the path. */
export const CACHE_DIRS = {
  kernel: (kata: string) => cacheDir(`kernel-${kata}`),
  image: () => cacheDir("node-image"),
};
export const IMAGE_ARCHIVE = "node-image.tar";

export function parsePending(text: string): PendingSave[] {
  if (!text) return [];
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? (v as PendingSave[]) : [];
  } catch {
    return [];
  }
}

async function saveOne(cli: ContainerCli, p: PendingSave, openCache: CacheOpener): Promise<void> {
  const cache = await openCache();
  if (!cache) return;
  await fs.rm(p.dir, { recursive: true, force: true });
  await fs.mkdir(p.dir, { recursive: true });
  try {
    if (p.kind === "kernel") await fs.copyFile(p.file, path.join(p.dir, path.basename(p.file)));
    else await cli.imageSave(p.image, path.join(p.dir, IMAGE_ARCHIVE));
    if (await cache.save(p.dir, p.key)) core.info(`Saved ${p.key} to the Actions cache`);
  } finally {
    await fs.rm(p.dir, { recursive: true, force: true });
  }
}

/** Uploads what main downloaded; every problem is a notice, never a failure. */
export async function saveCaches(
  cli: ContainerCli,
  pending: PendingSave[],
  openCache: CacheOpener,
): Promise<void> {
  await Promise.all(
    pending.map((p) =>
      saveOne(cli, p, openCache).catch((err: unknown) =>
        core.notice(`${p.key} was not cached: ${err instanceof Error ? err.message : String(err)}`),
      ),
    ),
  );
}
