import * as core from "@actions/core";
import { OTHER_BOUNDS } from "../bounds.js";
import { TimeoutError } from "../errors.js";
import { runProcess } from "../process.js";
import * as tc from "@actions/tool-cache";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { ContainerCli } from "../container/cli.js";
import type { ContainerVersionPolicy } from "../inputs.js";
import { compareVersions, CONTAINER_VERSIONS, unsupportedContainerReason } from "../versions.js";
import { download, DownloadError, verifySha256 } from "../cache/download.js";
import { displayUrl } from "../secrets.js";
import { describeContainers, otherJobsUsing, othersRunning } from "./service.js";

/** The certificate Apple signs the container installer with (leaf of `pkgutil --check-signature`). */
export const INSTALLER_SIGNER = "Developer ID Installer: Apple Inc. - Containerization (UPBK2H6LZM)";

/**
 * SHA-256 of signed installers, by version, checked on top of the signature. The signature proves
 * origin; a pin also catches a re-published asset. From each release's published checksum
 * (https://github.com/apple/container/releases); 1.3.0 published none.
 */
export const INSTALLER_SHA256: Readonly<Record<string, string>> = {
  "1.3.1": "a7c1b9d7927d30875f2f6c7bd1d0cb06c2daa6ca57ce9e90a5144e898fdf54a8",
  "1.4.1": "c0d2716afefbb194c93fae662e9cae7cc186bcbcf746816608ec673dd648a6a4",
  "1.5.0": "a24808cb202318fa1c3bbee0c6c6887fe1225fe899d7b687a0ddd939bd6573f8",
};

/**
 * Where Apple's package puts the CLI: its payload is built with `pkgbuild --install-location
 * /usr/local` around `bin/container` (apple/container Makefile, target installer-pkg).
 */
export const INSTALL_PATH = "/usr/local/bin/container";

const TOOL = "container-installer";
/** pkgutil reads a local file; the installer writes ~120 MB under /usr/local. */
const PKGUTIL_TIMEOUT_S = OTHER_BOUNDS.pkgutil.seconds;
const INSTALLER_TIMEOUT_S = OTHER_BOUNDS.installer.seconds;
const ARCH = "arm64";

export interface CliOptions {
  /** `supported`, `installed` or `X.Y.Z` (see Inputs.containerVersion). */
  version: ContainerVersionPolicy;
  /** Mirror template; `{version}` is replaced. */
  installerUrl?: string | undefined;
  /** Defaults to INSTALLER_SHA256. */
  pins?: Readonly<Record<string, string>>;
  /** Where the installer writes the CLI; defaults to INSTALL_PATH. */
  installPath?: string;
  /** The job's environment: its runner label says which containers are this runner's own. */
  env?: NodeJS.ProcessEnv;
  /** Called right before the running service is stopped for the install: main records it in state. */
  beforeStop?: () => void;
}

export interface CliResult {
  version: string;
  /** True when the service was running and was stopped to upgrade the CLI. */
  stoppedService: boolean;
}

/** What the CLI phase does: use the installed CLI, or install a release (and why). */
export type CliPlan = { use: string } | { install: string; because: string };

const FIX_UNSUPPORTED =
  `install container ${CONTAINER_VERSIONS.newestTested} (or any release from ${CONTAINER_VERSIONS.minimum} on) on this Mac, ` +
  `or set container-version to 'supported' (installs ${CONTAINER_VERSIONS.newestTested} when the installed one cannot work) or to a release such as ${CONTAINER_VERSIONS.newestTested}`;

/**
 * The version policy, pure: `have` is what `container --version` says (undefined: no CLI on PATH).
 * - `supported`: keep a supported CLI, whatever its version (never downgrade); install the newest
 *   tested release when there is none or it cannot work.
 * - `installed`: keep it; throws when there is none or it cannot work, before anything is touched.
 * - `X.Y.Z`: exactly that release, installing (up or down) when another one is there.
 */
export function planCli(policy: ContainerVersionPolicy, have: string | undefined): CliPlan {
  const why = have === undefined ? undefined : unsupportedContainerReason(have);
  if (policy === "installed") {
    if (have === undefined)
      throw new Error(
        `the Apple container CLI is not installed (container-version: installed); ${FIX_UNSUPPORTED}`,
      );
    if (why)
      throw new Error(`the installed container CLI cannot run this action: ${why}; ${FIX_UNSUPPORTED}`);
    return { use: have };
  }
  if (policy === "supported") {
    if (have !== undefined && !why) return { use: have };
    return {
      install: CONTAINER_VERSIONS.newestTested,
      because: have === undefined ? "no container CLI is installed" : `the installed one cannot work: ${why}`,
    };
  }
  if (have === policy) return { use: have };
  return {
    install: policy,
    because: `container-version pins ${policy} and ${have === undefined ? "none is installed" : `${have} is installed`}`,
  };
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
  core.info(`Downloading ${displayUrl(url)}`);
  const file = await download(url).catch((err: unknown) => {
    if (!(err instanceof DownloadError && err.status === 404)) throw err;
    throw new Error(
      `the container ${version} installer is not at ${displayUrl(url)} (HTTP 404): release ${version} may not exist` +
        `${template ? " on this mirror" : ""}. This action is tested with ${CONTAINER_VERSIONS.tested.join(", ")} ` +
        `(https://github.com/apple/container/releases); set container-version to one of them`,
      { cause: err },
    );
  });
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

const SUDO_FIX =
  "Allow passwordless sudo for /usr/sbin/installer for the runner's user, or install the CLI beforehand " +
  "and set container-version: installed.";

/**
 * Whether sudo lets this user run the installer without a password, asked before anything is stopped:
 * `sudo -n -l CMD…` prints the command and exits 0 when the policy permits it, and exits 1 without
 * running anything when it does not or wants a password (sudo(8), option -l). Throws with the fix.
 */
async function checkSudo(pkg: string, version: string): Promise<void> {
  const r = await runProcess("sudo", ["-n", "-l", "installer", "-pkg", pkg, "-target", "/"], {
    timeoutMs: OTHER_BOUNDS.hostTool.seconds * 1000,
  });
  if (r.timedOut)
    throw new TimeoutError(
      "`sudo -n -l installer`",
      OTHER_BOUNDS.hostTool.seconds,
      "Check sudo on this Mac.",
    );
  if (r.code === 0) return;
  const said = r.stderr.trim().split("\n").slice(-1)[0] ?? "";
  throw new Error(
    `installing container ${version} needs 'sudo -n installer', and sudo does not allow it without a password` +
      `${said ? ` (${said})` : ""}; nothing was stopped or installed. ${SUDO_FIX}`,
  );
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
      `installing container ${version} needs sudo without a password, and sudo asks for one. ${SUDO_FIX}`,
    );
  }
  const said = r.stderr.trim().split("\n").slice(-3).join(" | ");
  throw new Error(`'sudo -n installer -pkg ${pkg} -target /' exited ${r.code}${said ? `: ${said}` : ""}`);
}

async function realpathOr(file: string): Promise<string> {
  return fs.realpath(file).catch(() => file);
}

/**
 * With no `container` on PATH: refuses when Apple's CLI is installed but its folder is not on PATH (an
 * install would not help either), naming the fix.
 */
async function refuseOffPath(cli: ContainerCli, installPath: string): Promise<void> {
  const installDir = path.dirname(installPath);
  const dirs = (process.env.PATH ?? "").split(path.delimiter).map((d) => d.replace(/\/+$/, ""));
  if (dirs.includes(installDir)) return;
  const there = await cli.versionOf(installPath).catch(() => undefined);
  if (there === undefined) return;
  throw new Error(
    `container ${there} is installed at ${installPath}, but ${installDir} is not on PATH, so the runner does not find it; ` +
      `add ${installDir} to the runner's PATH (its .path file, or the PATH of the service that runs it) and run the job again`,
  );
}

/**
 * Refuses an install that would not take effect: a `container` earlier on PATH (another package
 * manager's) would keep answering, or the install folder is not on PATH at all.
 */
async function refuseShadowed(
  onPath: string | undefined,
  have: string | undefined,
  installPath: string,
  wanted: string,
): Promise<void> {
  const installDir = path.dirname(installPath);
  if (onPath === undefined) {
    const dirs = (process.env.PATH ?? "").split(path.delimiter).map((d) => d.replace(/\/+$/, ""));
    if (!dirs.includes(installDir))
      throw new Error(
        `installing container ${wanted} puts it in ${installPath}, but ${installDir} is not on PATH, so it would not be found; ` +
          `add ${installDir} to the runner's PATH (its .path file or the service's environment)`,
      );
    return;
  }
  if (onPath === (await realpathOr(installPath))) return;
  throw new Error(
    `installing container ${wanted} would not take effect: 'container' on PATH is ${onPath} (${have ?? "unknown version"}), ` +
      `which comes before ${installPath} that Apple's installer writes, so nothing was stopped or installed. ` +
      `Remove ${onPath} (for example 'brew uninstall container') or put ${installDir} first on the runner's PATH; ` +
      `or install the CLI you want there yourself and set container-version: installed`,
  );
}

/**
 * Ensures a usable container CLI, following the `container-version` policy (planCli). Before an
 * install anything could be harmed by, it refuses: a CLI earlier on PATH that would shadow the
 * install, or other containers running (stopping the service for the upgrade stops every container of
 * the user). Then the signed installer is fetched (tool cache first), verified (signature, and the
 * SHA-256 where pinned), the service stopped, and the package installed with `sudo -n installer`;
 * if anything fails after the stop, the service is started again before the error is thrown.
 */
export async function ensureCli(cli: ContainerCli, opts: CliOptions): Promise<CliResult> {
  const [have, onPath] = await Promise.all([cli.version(), cli.path()]);
  const installPath = opts.installPath ?? INSTALL_PATH;
  if (have === undefined) await refuseOffPath(cli, installPath);
  const plan = planCli(opts.version, have);
  if ("use" in plan) {
    core.info(`container CLI ${plan.use} (${onPath ?? "container"})`);
    if (compareVersions(plan.use, CONTAINER_VERSIONS.newestTested) > 0)
      core.notice(
        `container ${plan.use} is newer than the newest release this action is tested with (${CONTAINER_VERSIONS.newestTested}); using it.`,
      );
    return { version: plan.use, stoppedService: false };
  }
  const wanted = plan.install;
  core.info(`Installing container ${wanted}: ${plan.because}`);
  if (compareVersions(wanted, CONTAINER_VERSIONS.newestTested) > 0)
    core.notice(
      `container ${wanted} is newer than the newest release this action is tested with (${CONTAINER_VERSIONS.newestTested}); installing it as pinned.`,
    );
  await refuseShadowed(onPath, have, installPath, wanted);

  const runningAtStart = have !== undefined && (await cli.serviceRunning());
  const refuseIfShared = async () => {
    const others = await othersRunning(cli, opts.env ?? process.env);
    if (others.length) {
      throw new Error(
        `installing container ${wanted} (${plan.because}) needs 'container system stop', which stops every container of this user, ` +
          `and other containers run on this Mac: ${describeContainers(others)}; nothing was stopped or installed. ` +
          `Install container ${wanted} on this Mac beforehand (the default then uses it), or run this job when no other job's containers run`,
      );
    }
    // A job still pulling its image has no container yet, and the stop would break it all the same.
    const jobs = await otherJobsUsing(opts.env ?? process.env);
    if (jobs) {
      throw new Error(
        `installing container ${wanted} (${plan.because}) needs 'container system stop', and other jobs of this action are ` +
          `setting up on this Mac (${jobs}); nothing was stopped or installed. ` +
          `Install container ${wanted} on this Mac beforehand (the default then uses it), or run this job when no other job runs`,
      );
    }
  };
  // Before the download, to fail fast, and again right before the stop: another job may have
  // started the service or a container meanwhile.
  if (runningAtStart) await refuseIfShared();
  const pins = opts.pins ?? INSTALLER_SHA256;
  const pkg = await fetchInstaller(wanted, opts.installerUrl, pins);
  await checkSudo(pkg, wanted);
  const serviceRunning = (await cli.path()) !== undefined && (await cli.serviceRunning());
  if (serviceRunning) await refuseIfShared();

  if (serviceRunning) {
    opts.beforeStop?.();
    await cli.stopService();
  }
  try {
    await install(pkg, wanted);
    const now = await cli.version();
    if (now !== wanted)
      throw new Error(`installed container ${wanted}, but 'container --version' reports ${now ?? "nothing"}`);
    core.info(`container CLI ${now} installed`);
    return { version: now, stoppedService: serviceRunning };
  } catch (err) {
    // Put back what we stopped, so other jobs on this Mac can run; the error is what the user reads.
    if (serviceRunning) {
      await cli
        .startService()
        .catch((e: unknown) =>
          core.warning(
            `could not start the container service again: ${e instanceof Error ? e.message : String(e)}`,
          ),
        );
    }
    throw err;
  }
}
