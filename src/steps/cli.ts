import * as core from "@actions/core";
import { OTHER_BOUNDS } from "../bounds.js";
import { TimeoutError } from "../errors.js";
import { runProcess } from "../process.js";
import * as tc from "@actions/tool-cache";
import * as path from "node:path";
import type { ContainerCli } from "../container/cli.js";
import { compareVersions } from "../versions.js";
import { download, verifySha256 } from "../cache/download.js";

/** The certificate Apple signs the container installer with (leaf of `pkgutil --check-signature`). */
export const INSTALLER_SIGNER = "Developer ID Installer: Apple Inc. - Containerization (UPBK2H6LZM)";

/**
 * SHA-256 of signed installers, by version, checked on top of the signature where known. The signature
 * is what proves origin; a pin also catches a re-published asset.
 */
export const INSTALLER_SHA256: Readonly<Record<string, string>> = {};

const TOOL = "container-installer";
/** pkgutil reads a local file; the installer writes ~120 MB under /usr/local. */
const PKGUTIL_TIMEOUT_S = OTHER_BOUNDS.pkgutil.seconds;
const INSTALLER_TIMEOUT_S = OTHER_BOUNDS.installer.seconds;
const ARCH = "arm64";

export interface CliOptions {
  /** `X.Y.Z`, or `installed`. */
  version: string;
  /** Mirror template; `{version}` is replaced. */
  installerUrl?: string | undefined;
  /** Defaults to INSTALLER_SHA256. */
  pins?: Readonly<Record<string, string>>;
}

export interface CliResult {
  version: string;
  /** True when the service was running and was stopped to upgrade the CLI. */
  stoppedService: boolean;
}

/** The signed installer's asset name, which changed twice between releases. */
export function installerAsset(version: string): string {
  const unversioned = compareVersions(version, "0.7.0") >= 0 && compareVersions(version, "0.9.0") <= 0;
  return unversioned ? "container-installer-signed.pkg" : `container-${version}-installer-signed.pkg`;
}

export function installerUrl(version: string, template?: string): string {
  if (template) return template.replaceAll("{version}", version);
  return `https://github.com/apple/container/releases/download/${version}/${installerAsset(version)}`;
}

/** Why `pkgutil --check-signature` output does not prove the package is Apple's, or undefined when it does. */
export function signatureProblem(output: string, exitCode: number): string | undefined {
  if (exitCode !== 0) {
    const said = output.trim().split("\n").slice(-2).join(" | ");
    return `pkgutil --check-signature exited ${exitCode}${said ? `: ${said}` : ""}`;
  }
  const status = /^\s*Status:\s*(.+?)\s*$/m.exec(output)?.[1];
  if (!status || !/^signed\b/i.test(status) || /untrusted|revoked|expired|invalid/i.test(status)) {
    return `its signature status is '${status ?? "missing"}'`;
  }
  const leaf = /^\s*1\.\s+(.+?)\s*$/m.exec(output)?.[1];
  if (leaf !== INSTALLER_SIGNER) return `it is signed by '${leaf ?? "nobody"}', not '${INSTALLER_SIGNER}'`;
  return undefined;
}

/** The verified installer for `version`: from the tool cache, else downloaded, verified and kept there. */
async function fetchInstaller(
  version: string,
  template: string | undefined,
  pins: Readonly<Record<string, string>>,
): Promise<string> {
  const asset = installerAsset(version);
  const cached = tc.find(TOOL, version, ARCH);
  if (cached) {
    core.info(`Using the installer for ${version} from the tool cache`);
    const pkg = path.join(cached, asset);
    // Checked on every use: the tool cache is a directory any job on this runner can write.
    await verifyInstaller(pkg, version, pins);
    return pkg;
  }
  const url = installerUrl(version, template);
  core.info(`Downloading ${url}`);
  const file = await download(url);
  // Verified before it enters the tool cache, so nothing unverified is kept for later jobs.
  await verifyInstaller(file, version, pins);
  return path.join(await tc.cacheFile(file, asset, TOOL, version, ARCH), asset);
}

export async function verifyInstaller(
  file: string,
  version: string,
  pins: Readonly<Record<string, string>>,
): Promise<void> {
  const pin = pins[version];
  if (pin) await verifySha256(file, pin, `the container ${version} installer`);
  const r = await runProcess("pkgutil", ["--check-signature", file], { timeoutMs: PKGUTIL_TIMEOUT_S * 1000 });
  if (r.timedOut)
    throw new TimeoutError(
      "`pkgutil --check-signature`",
      PKGUTIL_TIMEOUT_S,
      "The Mac is overloaded; try again.",
    );
  const problem = signatureProblem(r.stdout + r.stderr, r.code);
  if (problem)
    throw new Error(`the container ${version} installer failed verification, not installing: ${problem}`);
  core.info(`Installer signed by ${INSTALLER_SIGNER}${pin ? ", sha256 matches" : ""}`);
}

async function install(pkg: string, version: string): Promise<void> {
  const r = await runProcess("sudo", ["-n", "installer", "-pkg", pkg, "-target", "/"], {
    timeoutMs: INSTALLER_TIMEOUT_S * 1000,
    echo: true,
  });
  if (r.timedOut)
    throw new TimeoutError(
      "`sudo -n installer`",
      INSTALLER_TIMEOUT_S,
      "macOS Installer did not finish: install the package by hand once to see why, then set container-version: installed.",
    );
  if (r.code === 0) return;
  if (/password is required|a terminal is required/i.test(r.stderr)) {
    throw new Error(
      `installing container ${version} needs sudo without a password, and sudo asks for one. ` +
        "Allow passwordless sudo for /usr/sbin/installer for the runner's user, or install the CLI beforehand " +
        "and set container-version: installed.",
    );
  }
  const said = r.stderr.trim().split("\n").slice(-3).join(" | ");
  throw new Error(`'sudo -n installer -pkg ${pkg} -target /' exited ${r.code}${said ? `: ${said}` : ""}`);
}

/**
 * Ensures the container CLI is present and, unless `installed`, at the requested version: the signed
 * installer is fetched (tool cache first), verified, and installed with `sudo -n installer` after the
 * service is stopped.
 */
export async function ensureCli(cli: ContainerCli, opts: CliOptions): Promise<CliResult> {
  const have = await cli.version();
  if (opts.version === "installed") {
    if (!have) {
      throw new Error(
        "the Apple container CLI is not installed (container-version: installed); install it on the runner or set container-version to a release such as 1.2.2",
      );
    }
    core.info(`container CLI ${have} (installed)`);
    return { version: have, stoppedService: false };
  }
  if (have === opts.version) {
    core.info(`container CLI ${have}`);
    return { version: have, stoppedService: false };
  }
  const wanted = opts.version;
  core.info(`container CLI ${have ?? "is not installed"}${have ? ", installing" : "; installing"} ${wanted}`);
  const pins = opts.pins ?? INSTALLER_SHA256;
  const pkg = await fetchInstaller(wanted, opts.installerUrl, pins);

  const stoppedService = have !== undefined && (await cli.serviceRunning());
  if (stoppedService) await cli.stopService();
  try {
    await install(pkg, wanted);
  } catch (err) {
    // Put back what we stopped; the error is what the user needs to read.
    if (stoppedService) {
      await cli.startService().catch(() => undefined);
    }
    throw err;
  }
  const now = await cli.version();
  if (now !== wanted)
    throw new Error(`installed container ${wanted}, but 'container --version' reports ${now ?? "nothing"}`);
  core.info(`container CLI ${now} installed`);
  return { version: now, stoppedService };
}
