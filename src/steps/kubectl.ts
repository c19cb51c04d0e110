import * as core from "@actions/core";
import { OTHER_BOUNDS } from "../bounds.js";
import { runProcess } from "../process.js";
import * as tc from "@actions/tool-cache";
import * as fs from "node:fs/promises";
import { download, verifySha256 } from "../cache/download.js";
import { displayUrl } from "../secrets.js";

/** Where a release's checksum file is: `.sha256` after the path, before any query (a mirror's token). */
export function sha256Url(url: string): string {
  const at = url.search(/[?#]/);
  return at < 0 ? `${url}.sha256` : `${url.slice(0, at)}.sha256${url.slice(at)}`;
}

/** Where kubectl releases live; `{version}` is replaced (without the v). Its checksum is at `<url>.sha256`. */
export const KUBECTL_URL = "https://dl.k8s.io/release/v{version}/bin/darwin/arm64/kubectl";

export interface KubectlOptions {
  /** The kubectl-version input: install this version unless kubectl already is it. */
  version?: string | undefined;
  /** Installed only when kubectl is missing: the cluster's Kubernetes version. */
  fallback?: string | undefined;
  /** The kubectl-url input (a mirror). */
  url?: string | undefined;
}

export interface KubectlResult {
  version: string | undefined;
  /** True when this job put a kubectl on PATH. */
  installed: boolean;
}

/** `kubectl version --client -o json` → `1.35.8`; undefined when kubectl is missing or says nothing usable. */
export async function kubectlVersion(): Promise<string | undefined> {
  try {
    // A kubectl that does not answer within its bound counts as missing.
    const r = await runProcess("kubectl", ["version", "--client", "--output=json"], {
      timeoutMs: OTHER_BOUNDS.kubectlVersion.seconds * 1000,
    });
    if (r.code !== 0) return undefined;
    const doc = JSON.parse(r.stdout) as { clientVersion?: { gitVersion?: string } };
    // A pre-release (v1.37.0-alpha.1) is its own version, not 1.37.0.
    return /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)/.exec(doc.clientVersion?.gitVersion ?? "")?.[1];
  } catch {
    return undefined; // not on PATH, or not JSON
  }
}

/** The first SHA-256 in a `.sha256` file (dl.k8s.io writes the bare hash; sha256sum adds the name). */
export function parseSha256File(text: string): string | undefined {
  return /\b([0-9a-f]{64})\b/i.exec(text)?.[1]?.toLowerCase();
}

/**
 * Puts kubectl on PATH when it is missing, or when kubectl-version asks for another version: from the
 * tool cache, else downloaded and checked against the published SHA-256.
 */
export async function ensureKubectl(opts: KubectlOptions): Promise<KubectlResult> {
  const have = await kubectlVersion();
  if (have && (!opts.version || opts.version === have)) {
    core.info(`kubectl ${have}`);
    return { version: have, installed: false };
  }
  const version = opts.version ?? opts.fallback;
  if (!version) {
    core.warning(
      "kubectl is not installed and the cluster's Kubernetes version is unknown; set kubectl-version to install it.",
    );
    return { version: undefined, installed: false };
  }
  let dir = tc.find("kubectl", version, "arm64");
  if (dir) core.info(`Using kubectl ${version} from the tool cache`);
  else {
    const url = (opts.url ?? KUBECTL_URL).replaceAll("{version}", version);
    core.info(`Downloading ${displayUrl(url)}`);
    const [binary, sums] = await Promise.all([download(url), download(sha256Url(url))]);
    const expected = parseSha256File(await fs.readFile(sums, "utf8"));
    if (!expected) throw new Error(`${displayUrl(sha256Url(url))} does not contain a SHA-256`);
    await verifySha256(binary, expected, `kubectl ${version}`);
    await fs.chmod(binary, 0o755);
    dir = await tc.cacheFile(binary, "kubectl", "kubectl", version, "arm64");
  }
  core.addPath(dir);
  const now = await kubectlVersion();
  if (now !== version)
    throw new Error(
      `installed kubectl ${version}, but 'kubectl version --client' reports ${now ?? "nothing"}`,
    );
  core.info(`kubectl ${version} on PATH (${dir})`);
  return { version, installed: true };
}
