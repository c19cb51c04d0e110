// Supported Kubernetes versions: kindest/node images pinned by digest, as each kind release publishes
// them (https://github.com/kubernetes-sigs/kind/releases; v0.33.0 for 1.37.0, 1.36.4, 1.35.8, 1.34.11).
// Every row boots with the config this action generates (kubeadm v1beta4, which kubeadm reads from 1.31).
export const NODE_IMAGES: Readonly<Record<string, string>> = {
  "1.31.4": "kindest/node:v1.31.4@sha256:2cb39f7295fe7eafee0842b1052a599a4fb0f8bcf3f83d96c7f4864c357c6c30",
  "1.32.2": "kindest/node:v1.32.2@sha256:f226345927d7e348497136874b6d207e0b32cc52154ad8323129352923a3142f",
  "1.33.1": "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f",
  "1.34.0": "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a",
  "1.34.11": "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d",
  "1.35.0": "kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f",
  "1.35.8": "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
  "1.36.4": "kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed",
  "1.37.0": "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
};

/**
 * The oldest Kubernetes a node image may carry: kubeadm reads the v1beta4 config this action writes
 * from 1.31 on (https://kubernetes.io/docs/reference/config-api/kubeadm-config.v1beta4/).
 */
export const MIN_KUBERNETES_VERSION = "1.31.0";

/**
 * Apple container CLI releases, as this action treats them (release notes at
 * https://github.com/apple/container/releases):
 * - minimum 1.2.1: a kindest/node needs every capability (`--cap-add`, 0.12.0+) and a writable
 *   /proc/sys (it sets net.ipv4.ip_forward and kube-proxy's sysctls). 1.2.0 made /proc/sys read-only
 *   with no way to lift it; 1.2.1 added `--read-only-path NONE --masked-path NONE`. It is also the
 *   first release whose own `container k8s` plugin boots kindest/node, and the oldest one tested here.
 * - newest tested 1.5.0: what the default installs when nothing usable is installed.
 */
export const CONTAINER_VERSIONS = {
  minimum: "1.2.1",
  newestTested: "1.5.0",
  tested: ["1.2.1", "1.2.2", "1.3.1", "1.4.1", "1.5.0"],
} as const;

/** Why a container CLI version cannot run this action, or undefined when it can. */
export function unsupportedContainerReason(version: string): string | undefined {
  if (version === "1.4.0") return "1.4.0 was never released (its tag was withdrawn; no installer exists)";
  if (version === "1.2.0")
    return "1.2.0 mounts /proc/sys read-only in every container with no option to lift it, so the node cannot enable IP forwarding";
  if (compareVersions(version, "0.12.0") < 0)
    return `${version} cannot grant a container capabilities (--cap-add arrived in 0.12.0), which the node's systemd, containerd and iptables need`;
  if (compareVersions(version, CONTAINER_VERSIONS.minimum) < 0)
    return `${version} is older than the oldest supported release, ${CONTAINER_VERSIONS.minimum}`;
  return undefined;
}

export interface KernelSpec {
  /** kata-containers release the kernel comes from. */
  kata: string;
  tarball: string;
  /** Basename of the kernel inside the tarball and in <appRoot>/kernels/. */
  file: string;
  /**
   * The tarball's digest as the CLI pins it for `kernel set --recommended` (from 1.2.0); the CLI
   * verifies the download against it. Logged, so a run says which tarball its kernel came from.
   */
  digest?: string;
}

// The CLI's recommended kernel per release (its `[kernel]` defaults; kata static releases at
// https://github.com/kata-containers/kata-containers/releases).
const KERNELS: ReadonlyArray<{ from: string; kernel: KernelSpec }> = [
  {
    from: "0.1.0",
    kernel: { kata: "3.17.0", tarball: "kata-static-3.17.0-arm64.tar.xz", file: "vmlinux-6.12.28-153" },
  },
  {
    from: "0.9.0",
    kernel: { kata: "3.26.0", tarball: "kata-static-3.26.0-arm64.tar.zst", file: "vmlinux-6.18.5-177" },
  },
  {
    from: "0.12.0",
    kernel: { kata: "3.28.0", tarball: "kata-static-3.28.0-arm64.tar.zst", file: "vmlinux-6.18.15-186" },
  },
  {
    from: "1.2.0",
    kernel: {
      kata: "3.28.0",
      tarball: "kata-static-3.28.0-arm64.tar.zst",
      file: "vmlinux-6.18.15-186",
      digest: "sha256:f63d54507d1f18635d94475077e4c2330de4d8e05cedf25f7c38f063b0e66a91",
    },
  },
  {
    from: "1.3.0",
    kernel: {
      kata: "3.32.0",
      tarball: "kata-static-3.32.0-arm64.tar.zst",
      file: "vmlinux-6.18.35-197-debug",
      digest: "sha256:8736c054d9223974735394f822000823baef509e1c33405ec798240fa9b6e4b5",
    },
  },
];

/** Compares dotted numeric versions (`1.10.0` > `1.9.3`); missing parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** The kernel the given CLI version recommends (what `system kernel set --recommended` installs). */
export function recommendedKernel(cliVersion: string): KernelSpec {
  let found = KERNELS[0]!.kernel;
  for (const k of KERNELS) if (compareVersions(cliVersion, k.from) >= 0) found = k.kernel;
  return found;
}

export function supportedKubernetesVersions(): string[] {
  return Object.keys(NODE_IMAGES).sort(compareVersions);
}

export function newestKubernetesVersion(): string {
  return supportedKubernetesVersions().at(-1)!;
}

/**
 * Resolves `v1.35`, `1.35`, `1.35.8` or `v1.35.8` to the newest matching supported patch release.
 * Returns undefined when nothing in the table matches.
 */
export function resolveKubernetesVersion(requested: string): string | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?$/.exec(requested.trim());
  if (!m) return undefined;
  const [, major, minor, patch] = m;
  const candidates = supportedKubernetesVersions().filter((v) => {
    const [ma, mi, pa] = v.split(".");
    return ma === major && mi === minor && (patch === undefined || pa === patch);
  });
  return candidates.at(-1);
}

/**
 * `kindest/node:v1.34.0@sha256:…` → `1.34.0`, with a pre-release kept (`v1.37.0-alpha.1` →
 * `1.37.0-alpha.1`: it is not 1.37.0); undefined when the tag is not a version.
 */
export function versionFromImage(image: string): string | undefined {
  const m = /:v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)(?:[+@]|$)/.exec(image);
  return m?.[1];
}

/** `1.37.0-alpha.1` → `1.37.0`: the release a pre-release leads to, for comparisons. */
export function releaseOf(version: string): string {
  return version.replace(/[-+].*$/, "");
}
