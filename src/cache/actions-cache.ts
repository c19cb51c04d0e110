import * as core from "@actions/core";
import * as os from "node:os";
import * as path from "node:path";
import { OTHER_BOUNDS } from "../bounds.js";

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

// Loaded on first use: the library (and the Azure SDK under it) is a third of the bundle's load time,
// and a warm runner never needs it.
type CacheLib = typeof import("@actions/cache");

/**
 * Outer bounds on a whole restore or save (~0.7 GB at worst). The library bounds each request itself
 * (segmentTimeoutInMs, 10 min by default) but takes no signal: on expiry the step goes on without the
 * cache, and the process exits at the end of the step regardless.
 */
const RESTORE_TIMEOUT_S = OTHER_BOUNDS.cacheRestore.seconds;
const SAVE_TIMEOUT_S = OTHER_BOUNDS.cacheSave.seconds;

function within<T>(p: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what} did not finish within ${seconds}s`)),
        seconds * 1000,
      );
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

class ActionsCache implements Cache {
  constructor(private readonly cache: CacheLib) {}

  async restore(dir: string, key: string): Promise<boolean> {
    try {
      // The library reports service errors itself and returns undefined, as on a miss.
      return (await within(this.cache.restoreCache([dir], key), RESTORE_TIMEOUT_S, "the restore")) === key;
    } catch (err) {
      core.notice(`Could not restore ${key} from the Actions cache (${reason(err)}); downloading instead.`);
      return false;
    }
  }

  async save(dir: string, key: string): Promise<boolean> {
    try {
      return (await within(this.cache.saveCache([dir], key), SAVE_TIMEOUT_S, "the save")) !== -1;
    } catch (err) {
      if (err instanceof this.cache.ReserveCacheError)
        core.info(`${key} is already being saved by another job.`);
      else core.notice(`Could not save ${key} to the Actions cache: ${reason(err)}`);
      return false;
    }
  }
}

/** Returns the cache when a step needs it, or undefined when caching is off or unavailable. */
export type CacheOpener = () => Promise<Cache | undefined>;

/**
 * Opens the Actions cache on first use, so a job that needs nothing makes no cache calls, loads no
 * cache library and prints nothing. Without a cache service (`isFeatureAvailable()` false) the kernel
 * and the image are downloaded: slower, not an error.
 */
export function cacheOpener(enabled: boolean): CacheOpener {
  let opened: Promise<Cache | undefined> | undefined;
  const open = async (): Promise<Cache | undefined> => {
    if (!enabled) return undefined;
    const lib = await import("@actions/cache");
    if (!lib.isFeatureAvailable()) {
      core.notice(
        "The Actions cache service is not available on this runner; the kernel and the node image are downloaded.",
      );
      return undefined;
    }
    return new ActionsCache(lib);
  };
  return () => (opened ??= open());
}

/**
 * A directory for one cache entry. The entry's version hashes this path, so it must be the same on
 * every run of the same runner: RUNNER_TEMP is (and is emptied between jobs).
 */
export function cacheDir(name: string): string {
  return path.join(process.env.RUNNER_TEMP || os.tmpdir(), "kina-cache", name);
}
