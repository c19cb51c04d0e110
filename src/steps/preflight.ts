import { getExecOutput } from "@actions/exec";

export interface PreflightResult {
  macosVersion: string;
  /** Set on macOS 15, where the container CLI works with limits. */
  warning?: string;
}

const HOSTED_RUNNER_HELP =
  "Apple container VMs need the Virtualization framework's hypervisor, and this machine has none " +
  "(sysctl kern.hv_support is not 1). GitHub-hosted macOS runners are themselves virtual machines and " +
  "cannot start Apple container VMs. Run this job on a self-hosted runner on a bare-metal Apple-silicon " +
  "Mac (macOS 26 recommended), e.g. runs-on: [self-hosted, macOS, ARM64].";

async function output(cmd: string, args: string[]): Promise<string> {
  const r = await getExecOutput(cmd, args, { silent: true, ignoreReturnCode: true });
  if (r.exitCode !== 0)
    throw new Error(`'${cmd} ${args.join(" ")}' exited ${r.exitCode}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * Checks, in order of cost, that this runner can host an Apple container VM: macOS on Apple silicon
 * (not Rosetta), macOS 15 or newer, a usable hypervisor, and a non-root user (the container service
 * is a per-user launchd agent that never comes up under root).
 */
export async function preflight(): Promise<PreflightResult> {
  if (process.platform !== "darwin") {
    throw new Error(
      `this action runs only on macOS with Apple silicon; this runner is ${process.platform}/${process.arch}. ` +
        "Use a self-hosted Apple-silicon Mac runner (runs-on: [self-hosted, macOS, ARM64]).",
    );
  }
  if (process.arch !== "arm64") {
    throw new Error(
      `Apple container needs Apple silicon and refuses to run under Rosetta; this Node runs as ${process.arch}. ` +
        "Run the runner natively on arm64.",
    );
  }
  const macosVersion = await output("sw_vers", ["-productVersion"]);
  const major = Number(macosVersion.split(".")[0]);
  if (!(major >= 15)) {
    throw new Error(
      `macOS ${macosVersion} is not supported: Apple container needs macOS 26 (or 15 with limits).`,
    );
  }
  const hv = await output("sysctl", ["-n", "kern.hv_support"]).catch(() => "");
  if (hv !== "1") {
    const hosted =
      process.env.RUNNER_ENVIRONMENT === "github-hosted" ? " This is a GitHub-hosted runner." : "";
    throw new Error(HOSTED_RUNNER_HELP + hosted);
  }
  if (process.getuid?.() === 0) {
    throw new Error(
      "the runner runs as root; the container service is a per-user launchd agent and does not start " +
        "under root or sudo. Run the runner as a normal user with a login session.",
    );
  }
  const result: PreflightResult = { macosVersion };
  if (major === 15) {
    result.warning =
      `macOS ${macosVersion}: Apple container works with limits (one network, no container-to-container ` +
      "traffic). A single-node cluster needs neither; macOS 26 is the supported host.";
  }
  return result;
}
