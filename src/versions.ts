// Supported Kubernetes versions: kindest/node images pinned by digest (../shared/reference/kubernetes.md).
export const NODE_IMAGES: Readonly<Record<string, string>> = {
  "1.31.4": "kindest/node:v1.31.4@sha256:2cb39f7295fe7eafee0842b1052a599a4fb0f8bcf3f83d96c7f4864c357c6c30",
  "1.32.2": "kindest/node:v1.32.2@sha256:f226345927d7e348497136874b6d207e0b32cc52154ad8323129352923a3142f",
  "1.33.1": "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f",
  "1.34.0": "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a",
  "1.34.11": "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d",
  "1.35.0": "kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f",
  "1.35.8": "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
};

/** The Apple container CLI version this action is tested with. */
export const DEFAULT_CONTAINER_VERSION = "1.2.2";

export interface KernelSpec {
  /** kata-containers release the kernel comes from. */
  kata: string;
  tarball: string;
  /** Basename of the kernel inside the tarball and in <appRoot>/kernels/. */
  file: string;
}

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
];

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

/** `kindest/node:v1.34.0@sha256:…` → `1.34.0`; undefined when the tag is not a version. */
export function versionFromImage(image: string): string | undefined {
  const m = /:v?(\d+\.\d+\.\d+)(?:[-+@]|$)/.exec(image);
  return m?.[1];
}
