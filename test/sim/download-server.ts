// A loopback stand-in for the two download origins the action knows: GitHub release assets of
// apple/container (the signed installer) and dl.k8s.io (kubectl and its .sha256). The action reaches
// it through its mirror inputs, installer-url and kubectl-url. Counts every download.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { makeInstallerPkg } from "./macos-tools.ts";

export interface DownloadOptions {
  /** Where the served files are written. */
  dir: string;
  /**
   * Releases of apple/container with a signed installer attached; signer null for an unsigned one.
   * 1.4.0 cannot be one: it was never released, so its download is a 404 like any missing asset.
   */
  installers?: Record<string, { signer?: string | null }>;
  /** kubectl releases (`1.35.8`). */
  kubectl?: string[];
  /** Serve this instead of the real checksum for these kubectl versions. */
  wrongSha256?: string[];
}

export interface DownloadCounters {
  installer: number;
  kubectl: number;
  sha256: number;
  notFound: number;
  bytes: number;
}

export interface DownloadServer {
  url: string;
  /** A value for the installer-url input. */
  installerUrl: string;
  /** A value for the kubectl-url input. */
  kubectlUrl: string;
  counters: DownloadCounters;
  /** Request paths, in order. */
  log: string[];
  /** The bytes of what is served at a path (for comparing with what was installed). */
  file(path: string): Buffer | undefined;
  close(): Promise<void>;
}

/** Tags of apple/container that were withdrawn before a release was published. */
export const NEVER_RELEASED = ["1.4.0"];

/** GitHub's asset name for a release: `container-installer-signed.pkg` only for 0.7.0–0.9.x. */
function assetName(version: string): string {
  const [major, minor] = version.split(".").map(Number) as [number, number];
  return major === 0 && minor >= 7 && minor <= 9
    ? "container-installer-signed.pkg"
    : `container-${version}-installer-signed.pkg`;
}

/** A kubectl that answers `version --client --output=json` like the real one, and nothing else. */
export function kubectlStandIn(version: string): string {
  const [major, minor] = version.split(".");
  const doc = JSON.stringify({
    clientVersion: {
      major,
      minor,
      gitVersion: `v${version}`,
      goVersion: "go1.24.6",
      platform: "darwin/arm64",
    },
    kustomizeVersion: "v5.7.1",
  });
  return [
    "#!/bin/sh",
    `# stand-in kubectl v${version}`,
    'if [ "$1" = version ]; then',
    `  printf '%s\\n' '${doc}'`,
    "  exit 0",
    "fi",
    "echo \"stand-in kubectl: only 'version --client' is simulated\" >&2",
    "exit 1",
    "",
  ].join("\n");
}

export async function startDownloadServer(opts: DownloadOptions): Promise<DownloadServer> {
  const files = new Map<string, { data: Buffer; kind: "installer" | "kubectl" | "sha256" }>();
  for (const [version, o] of Object.entries(opts.installers ?? {})) {
    if (NEVER_RELEASED.includes(version))
      throw new Error(`kina-sim: container ${version} was never released; it has no installer to serve`);
    const path = join(opts.dir, `installer-${version}.pkg`);
    makeInstallerPkg(path, { version, signer: o.signer });
    files.set(`/apple/container/releases/download/${version}/${assetName(version)}`, {
      data: readFileSync(path),
      kind: "installer",
    });
  }
  for (const version of opts.kubectl ?? []) {
    const data = Buffer.from(kubectlStandIn(version));
    const sum = opts.wrongSha256?.includes(version)
      ? createHash("sha256").update("tampered").digest("hex")
      : createHash("sha256").update(data).digest("hex");
    const path = `/release/v${version}/bin/darwin/arm64/kubectl`;
    writeFileSync(join(opts.dir, `kubectl-${version}`), data);
    files.set(path, { data, kind: "kubectl" });
    // dl.k8s.io serves the bare hex digest.
    files.set(`${path}.sha256`, { data: Buffer.from(sum), kind: "sha256" });
  }

  const counters: DownloadCounters = { installer: 0, kubectl: 0, sha256: 0, notFound: 0, bytes: 0 };
  const log: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    log.push(path);
    const f = req.method === "GET" ? files.get(path) : undefined;
    if (!f) {
      counters.notFound++;
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("Not Found");
      return;
    }
    counters[f.kind]++;
    counters.bytes += f.data.length;
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": f.data.length });
    res.end(f.data);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    installerUrl: `${url}apple/container/releases/download/{version}/container-{version}-installer-signed.pkg`,
    kubectlUrl: `${url}release/v{version}/bin/darwin/arm64/kubectl`,
    counters,
    log,
    file: (path) => files.get(path)?.data,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
