import * as cache from "@actions/cache";
import * as core from "@actions/core";
import * as os from "node:os";
import * as path from "node:path";

/** The Actions cache as the steps use it: a hit or a miss, never an error. */
export interface Cache {
  /** Restores `dir` saved under `key`; true on an exact hit. */
  restore(dir: string, key: string): Promise<boolean>;
  /** Saves `dir` under `key`; true when an entry was written. */
  save(dir: string, key: string): Promise<boolean>;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

class ActionsCache implements Cache {
  async restore(dir: string, key: string): Promise<boolean> {
    try {
      // The library reports service errors itself and returns undefined, as on a miss.
      return (await cache.restoreCache([dir], key)) === key;
    } catch (err) {
      core.notice(`Could not restore ${key} from the Actions cache (${reason(err)}); downloading instead.`);
      return false;
    }
  }

  async save(dir: string, key: string): Promise<boolean> {
    try {
      return (await cache.saveCache([dir], key)) !== -1;
    } catch (err) {
      if (err instanceof cache.ReserveCacheError) core.info(`${key} is already being saved by another job.`);
      else core.notice(`Could not save ${key} to the Actions cache: ${reason(err)}`);
      return false;
    }
  }
}

/** Returns the cache when a step needs it, or undefined when caching is off or unavailable. */
export type CacheOpener = () => Cache | undefined;

/**
 * Opens the Actions cache on first use, so a job that needs nothing makes no cache calls and prints
 * nothing. Without a cache service (`isFeatureAvailable()` false) the kernel and the image are
 * downloaded: slower, not an error.
 */
export function cacheOpener(enabled: boolean): CacheOpener {
  let opened: { cache: Cache | undefined } | undefined;
  return () => {
    if (!opened) {
      if (!enabled) opened = { cache: undefined };
      else if (!cache.isFeatureAvailable()) {
        core.notice(
          "The Actions cache service is not available on this runner; the kernel and the node image are downloaded.",
        );
        opened = { cache: undefined };
      } else opened = { cache: new ActionsCache() };
    }
    return opened.cache;
  };
}

/**
 * A directory for one cache entry. The entry's version hashes this path, so it must be the same on
 * every run of the same runner: RUNNER_TEMP is (and is emptied between jobs).
 */
export function cacheDir(name: string): string {
  return path.join(process.env.RUNNER_TEMP || os.tmpdir(), "kina-cache", name);
}
