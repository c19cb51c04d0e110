// Per-operation latencies of a real Apple-silicon Mac, for the modeled time to a ready cluster. Each
// figure says where it comes from; where nothing was published, it says it is an assumption.
import type { Latency } from "../../test/sim/simulator.ts";

export interface Figure {
  key: keyof Latency;
  /** What the simulator applies it to. */
  op: string;
  ms: number;
  basis: string;
  sources: string[];
  assumption: boolean;
}

/** Observed download rate of `container system start` fetching the kata kernel from GitHub releases. */
export const BANDWIDTH_MB_S = 14.2;
const KERNEL_MB = 277.1;
const NODE_IMAGE_MB = 400;

const BLOG = "https://anil.recoil.org/notes/apple-containerisation";

export const FIGURES: readonly Figure[] = [
  {
    key: "serviceStartMs",
    op: "`container system start`; `systemctl restart` of containerd/kubelet in the node",
    ms: 1_000,
    basis: "about 1 s each: launchd registering the apiserver, or systemd restarting a unit",
    sources: [],
    assumption: true,
  },
  {
    key: "kernelDownloadMs",
    op: "`container system kernel set --recommended` (kata tarball download)",
    ms: Math.round((KERNEL_MB / BANDWIDTH_MB_S) * 1000),
    basis:
      `kata-static-3.17.0-arm64.tar.xz is ${KERNEL_MB} MB, downloaded at ${BANDWIDTH_MB_S} MB/s (CLI progress line ` +
      "in the source); the 1.2.x default (kata 3.28.0, .tar.zst) is assumed to be of similar size",
    sources: [BLOG],
    assumption: false,
  },
  {
    key: "pullMs",
    op: "`container image pull kindest/node:…`",
    ms: Math.round((NODE_IMAGE_MB / BANDWIDTH_MB_S) * 1000),
    basis:
      `kindest/node is about ${NODE_IMAGE_MB} MB compressed (0.93–1.1 GB unpacked), at the same ${BANDWIDTH_MB_S} MB/s ` +
      "(rate assumed equal to the kernel's; unpacking into the ext4 image is not modeled)",
    sources: [
      "https://github.com/cirruslabs/linux-image-templates/pull/20",
      "https://github.com/kubernetes-sigs/kind/pull/2310",
    ],
    assumption: false,
  },
  {
    key: "bootMs",
    op: "`container run` until containerd's socket exists in the node",
    ms: 2_000,
    basis:
      "`container run` of a small image takes 0.70–0.93 s on M3 Pro/M4 (VM boot); plus about 1 s for systemd in " +
      "kindest/node to bring containerd up (assumption)",
    sources: [
      "https://github.com/apple/container/issues/58",
      "https://github.com/apple/container/issues/738",
      BLOG,
    ],
    assumption: false,
  },
  {
    key: "kubeadmInitMs",
    op: "`kubeadm init` in the node",
    ms: 20_000,
    basis:
      "`kind create cluster` takes 12.5–17 s on Linux including node start (kind#2893); kubeadm reports the control " +
      "plane healthy after 24–28 s in kubernetes#117984 (before that PR's up-to-20 s speedup); 20 s is between",
    sources: [
      "https://github.com/kubernetes-sigs/kind/issues/2893",
      "https://github.com/kubernetes/kubernetes/pull/117984",
    ],
    assumption: false,
  },
  {
    key: "kubeadmJoinMs",
    op: "`kubeadm join` in a worker (discovery, TLS bootstrap, registration)",
    ms: 8_000,
    basis:
      "no published per-join figure found; a worker's join is init's kubelet bootstrap without the control plane " +
      "(kubeadm waits for the kubelet's TLS bootstrap, then for the Node), well under init's 20 s",
    sources: [],
    assumption: true,
  },
  {
    key: "nodeReadyMs",
    op: "kubelet (re)start with a CNI config until the Node is Ready",
    ms: 3_000,
    basis: "no published figure found; kubelet start, runtime network ready and a first status update",
    sources: [],
    assumption: true,
  },
  {
    key: "corednsMs",
    op: "Node Ready until the CoreDNS Deployment is available",
    ms: 5_000,
    basis:
      "no published figure found; images are preloaded in kindest/node, so scheduling, start and a readiness probe",
    sources: [],
    assumption: true,
  },
];

export function latencies(scale = 1): Latency {
  const out = {} as Latency;
  for (const f of FIGURES) out[f.key] = Math.round(f.ms / scale);
  return out;
}

export function figure(key: keyof Latency): Figure {
  return FIGURES.find((f) => f.key === key)!;
}
