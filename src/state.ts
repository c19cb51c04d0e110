import * as core from "@actions/core";

/** What main hands the post step. Each key is saved before the thing it names is created. */
export const STATE = {
  clusterName: "cluster-name",
  node: "node",
  /** The worker nodes' names (JSON array), re-saved before each worker's `container run`. */
  workers: "workers",
  kubeconfig: "kubeconfig",
  serviceStartedByUs: "service-started",
  /**
   * "true" from just before main stops a running service (CLI upgrade, version-skew restart) until it
   * runs again: a job cancelled in between has its post step start it again.
   */
  serviceStopped: "service-stopped",
  cleanup: "cleanup",
  /** Downloads main left for post to upload to the Actions cache (JSON). */
  cacheSave: "cache-save",
} as const;

export type StateKey = (typeof STATE)[keyof typeof STATE];

const savedHere = new Map<StateKey, string>();

/** Written to the runner's state file at once, so a job killed right after still hands it to post. */
export function save(key: StateKey, value: string): void {
  core.saveState(key, value);
  savedHere.set(key, value);
}

/** In the post step: what main saved. */
export function read(key: StateKey): string {
  return core.getState(key);
}

/** In main: what this process has saved so far (for diagnostics after a failure). */
export function saved(key: StateKey): string | undefined {
  return savedHere.get(key);
}
