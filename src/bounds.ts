// The bounds on every outside call and wait that is not a `container` command (those are the adapter's
// table, container/bounds.ts). In one place so the bench can report them all; each is used where its
// call is made.

export interface OtherBound {
  seconds: number;
  /** What it bounds, for the bench's report. */
  what: string;
}

export const OTHER_BOUNDS = {
  hostTool: { seconds: 10, what: "sw_vers, sysctl, launchctl (preflight)" },
  pkgutil: { seconds: 60, what: "pkgutil --check-signature of the installer" },
  installer: { seconds: 600, what: "sudo -n installer -pkg … -target /" },
  download: { seconds: 1800, what: "one download (container installer, kubectl)" },
  kubectlVersion: { seconds: 30, what: "kubectl version --client" },
  nodeRunning: { seconds: 60, what: "the node VM running with an address (inspect polls)" },
  apiRequest: { seconds: 15, what: "one Kubernetes API request (taint, CSR approval, version, /readyz)" },
  untaint: { seconds: 30, what: "removing the control-plane taint, all attempts" },
  apiPort: { seconds: 5, what: "the API server answering on its published 127.0.0.1 port" },
  diagnosticsSection: { seconds: 10, what: "each diagnostics section (collected in parallel)" },
  cacheRestore: { seconds: 900, what: "one Actions cache restore" },
  cacheSave: { seconds: 1200, what: "one Actions cache save (post)" },
  jobsLock: {
    seconds: 180,
    what: "the per-user jobs folder's lock (a post step holds it around `system stop`); older is stale",
  },
} as const satisfies Record<string, OtherBound>;
