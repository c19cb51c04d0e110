// How long each `container` operation may take before the action gives up on it, and what the user can
// do then. One table: the adapter applies it to every call, errors quote it, the bench prints it.

/** A `container` operation the action performs (host side, or `exec` into the node). */
export type Operation =
  | "version"
  | "system status"
  | "system start"
  | "system stop"
  | "kernel set --recommended"
  | "kernel set --binary"
  | "network ls"
  | "image ls"
  | "image pull"
  | "image save"
  | "image load"
  | "image import"
  | "run"
  | "inspect"
  | "list"
  | "delete"
  | "logs"
  | "exec"
  | "node preparation"
  | "kubeadm init"
  | "kubeadm join";

export interface Bound {
  /** Seconds; `stage` for the steps that build the cluster, which follow the `wait` input. */
  seconds: number | "stage";
  /** What to try when the bound is exceeded: one sentence, for the ::error:: line. */
  fix: string;
}

/** `wait` bounds the slow creation stages too, but never below this: kubeadm init alone takes ~1 min. */
export const STAGE_FLOOR_SECONDS = 60;

const SERVICE_WEDGED =
  "The container service (container-apiserver) is not responding: restart it on the Mac with " +
  "`container system stop` then `container system start` (this stops every container of the user), or restart the Mac.";

export const BOUNDS: Readonly<Record<Operation, Bound>> = {
  version: {
    seconds: 15,
    fix: "The container CLI does not answer; reinstall it from Apple's signed installer.",
  },
  "system status": { seconds: 15, fix: SERVICE_WEDGED },
  // Started with `--timeout 30` (the CLI's own wait for the apiserver); this bound backs it up.
  "system start": { seconds: 45, fix: SERVICE_WEDGED },
  "system stop": { seconds: 60, fix: "Stop it on the Mac with `container system stop`, or restart the Mac." },
  // Downloads a ~700 MB kata tarball (apple-container release notes, kata 3.32.0).
  "kernel set --recommended": {
    seconds: 1800,
    fix: "The kernel download is stalled: check the runner's network or proxy to github.com.",
  },
  "kernel set --binary": { seconds: 120, fix: SERVICE_WEDGED },
  "network ls": { seconds: 15, fix: SERVICE_WEDGED },
  "image ls": { seconds: 30, fix: SERVICE_WEDGED },
  "image pull": {
    seconds: 1800,
    fix: "The image pull is stalled: check the runner's network or proxy to the registry, or pre-pull the image with `container image pull`.",
  },
  "image save": { seconds: 900, fix: SERVICE_WEDGED },
  "image load": { seconds: 900, fix: SERVICE_WEDGED },
  "image import": {
    seconds: 900,
    fix: "Loading the image into the node's containerd stalled: see the containerd journal in the diagnostics.",
  },
  run: {
    seconds: "stage",
    fix: "The VM did not start: see `container logs --boot` in the diagnostics; on a busy Mac raise `wait` (it also bounds this).",
  },
  inspect: { seconds: 15, fix: SERVICE_WEDGED },
  list: { seconds: 15, fix: SERVICE_WEDGED },
  delete: { seconds: 30, fix: SERVICE_WEDGED },
  logs: { seconds: 15, fix: SERVICE_WEDGED },
  exec: {
    seconds: 60,
    fix: "The node stopped responding: see `container logs --boot` and the journals in the diagnostics.",
  },
  // Waits up to 120 s inside the node for containerd to come up after boot, then restarts it.
  "node preparation": {
    seconds: 180,
    fix: "The node stopped responding: see `container logs --boot` and the journals in the diagnostics.",
  },
  "kubeadm init": {
    seconds: "stage",
    fix: "See the kubelet journal and kubeadm's output in the diagnostics; on a slow Mac raise `wait` (it also bounds kubeadm init).",
  },
  // A worker's discovery, TLS bootstrap and registration take seconds; kubeadm itself would retry
  // discovery for 5 min (discovery.timeout), longer than a CI job should wait on an unreachable API.
  "kubeadm join": {
    seconds: 180,
    fix: "The worker could not reach the control plane at its VM address: see the worker's kubelet journal in the diagnostics, and check that the Mac's firewall lets the VMs talk to each other.",
  },
};

/** Seconds `op` may take; `stage` operations take the `wait` input, at least STAGE_FLOOR_SECONDS. */
export function boundSeconds(op: Operation, o: { waitSeconds?: number } = {}): number {
  const b = BOUNDS[op].seconds;
  if (b !== "stage") return b;
  return Math.max(o.waitSeconds ?? 300, STAGE_FLOOR_SECONDS);
}
