// Image references, the simulated image store, and the archive format of `image save` / `ctr import`.
import { createHash } from "node:crypto";

export interface ImageRecord {
  /** Normalized reference, e.g. docker.io/kindest/node:v1.35.8@sha256:… */
  ref: string;
  digest: string;
  size: number;
  created: string;
}

/** Bytes a pull "downloads": kindest/node is large, anything else small. */
export function imageSize(ref: string): number {
  return /kindest\/node/.test(ref) ? 466_000_000 : 12_000_000;
}

/** The kata tarball size `kernel set --recommended` "downloads". */
export const KERNEL_TARBALL_BYTES = 285_000_000;

/** docker.io/ and library/ and :latest added as the container CLI (and ctr) normalize. */
export function normalizeRef(ref: string): string {
  let name = ref;
  let digest = "";
  const at = name.indexOf("@");
  if (at >= 0) [name, digest] = [name.slice(0, at), name.slice(at)];
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  if (slash < 0) name = `docker.io/library/${name}`;
  else if (!first.includes(".") && !first.includes(":") && first !== "localhost") name = `docker.io/${name}`;
  const lastSeg = name.slice(name.lastIndexOf("/") + 1);
  if (!lastSeg.includes(":") && !digest) name += ":latest";
  return name + digest;
}

/** docker.io/library/x → x, docker.io/a/b → a/b (what the CLI shows in tables). */
export function displayRef(ref: string): string {
  return ref.replace(/^docker\.io\/library\//, "").replace(/^docker\.io\//, "");
}

export function digestOf(ref: string): string {
  const m = /@(sha256:[0-9a-f]{64})$/.exec(ref);
  return m ? m[1]! : `sha256:${createHash("sha256").update(normalizeRef(ref)).digest("hex")}`;
}

/** Whether `want` names `have`: equal after normalization, or same repository and digest. */
export function refMatches(have: string, want: string): boolean {
  const a = normalizeRef(have);
  const b = normalizeRef(want);
  if (a === b) return true;
  const repo = (r: string) => r.replace(/@.*$/, "").replace(/:[^/:]*$/, "");
  const tag = (r: string) => /:([^/:@]+)(@|$)/.exec(r.replace(/^[^/]*\//, ""))?.[1];
  if (repo(a) !== repo(b)) return false;
  const da = /@(sha256:.*)$/.exec(a)?.[1];
  const db = /@(sha256:.*)$/.exec(b)?.[1];
  if (da && db) return da === db;
  // One side has no digest: the tags must agree.
  return tag(a) !== undefined && tag(a) === tag(b);
}

export function newImage(ref: string): ImageRecord {
  return {
    ref: normalizeRef(ref),
    digest: digestOf(ref),
    size: imageSize(ref),
    created: new Date().toISOString(),
  };
}

const ARCHIVE_MAGIC = "kina-sim-image-archive/v1";

/** The archive `image save` writes: a small JSON document carrying the references. */
export function encodeArchive(images: ImageRecord[]): Buffer {
  return Buffer.from(JSON.stringify({ format: ARCHIVE_MAGIC, images }) + "\n");
}

export function decodeArchive(data: Buffer): ImageRecord[] | undefined {
  try {
    const doc = JSON.parse(data.toString("utf8")) as { format?: string; images?: ImageRecord[] };
    if (doc.format !== ARCHIVE_MAGIC || !Array.isArray(doc.images)) return undefined;
    return doc.images;
  } catch {
    return undefined;
  }
}

/** What a kindest/node image ships preloaded in its containerd (k8s.io namespace). */
export function preloadedNodeImages(kubernetesVersion: string): string[] {
  const v = kubernetesVersion.startsWith("v") ? kubernetesVersion : `v${kubernetesVersion}`;
  return [
    `registry.k8s.io/kube-apiserver:${v}`,
    `registry.k8s.io/kube-controller-manager:${v}`,
    `registry.k8s.io/kube-scheduler:${v}`,
    `registry.k8s.io/kube-proxy:${v}`,
    "registry.k8s.io/etcd:3.6.4-0",
    "registry.k8s.io/coredns/coredns:v1.12.1",
    "registry.k8s.io/pause:3.10",
    "docker.io/kindest/kindnetd:v20250512-df8de77b",
    "docker.io/kindest/local-path-provisioner:v20250214-acbabc1a",
    "docker.io/kindest/local-path-helper:v20241212-8ac705d0",
  ];
}
