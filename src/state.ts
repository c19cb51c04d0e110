import * as core from "@actions/core";

/** What main hands the post step. Each key is saved before the thing it names is created. */
export const STATE = {
  clusterName: "cluster-name",
  node: "node",
  kubeconfig: "kubeconfig",
  serviceStartedByUs: "service-started",
  cleanup: "cleanup",
} as const;

export type StateKey = (typeof STATE)[keyof typeof STATE];

export function save(key: StateKey, value: string): void {
  core.saveState(key, value);
}

export function read(key: StateKey): string {
  return core.getState(key);
}
