import * as core from "@actions/core";
import { OTHER_BOUNDS } from "../bounds.js";
import { TimeoutError } from "../errors.js";
import { runProcess } from "../process.js";

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

/** sw_vers, sysctl and launchctl answer at once; a host where they do not is not usable. */
const TOOL_TIMEOUT_S = OTHER_BOUNDS.hostTool.seconds;

async function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runProcess(cmd, args, { timeoutMs: TOOL_TIMEOUT_S * 1000 });
  if (r.timedOut)
    throw new TimeoutError(
      `\`${cmd} ${args.join(" ")}\``,
      TOOL_TIMEOUT_S,
      "The Mac is overloaded or unwell; restart it.",
    );
  return r;
}

async function output(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`'${cmd} ${args.join(" ")}' exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * The container service is a per-user launchd agent: `container system start` registers it in the
 * gui/<uid> domain from a GUI (Aqua) session and in user/<uid> otherwise, and the latter works only
 * while the user has a GUI login session on the Mac (apple/container#205). Without one, start fails
 * with an XPC error and advises running `container system start` — the command that just failed
 * (apple/container#2008). Undefined when the session can reach the service.
 */
async function launchdProblem(): Promise<string | undefined> {
  const session = (await output("launchctl", ["managername"]).catch(() => "")) || "unknown";
  if (session === "Aqua") return undefined;
  const uid = process.getuid?.() ?? 0;
  const gui = await run("launchctl", ["print", `gui/${uid}`]).catch(() => undefined);
  if (gui?.code === 0) {
    core.info(
      `launchd session ${session}: the runner is outside the GUI session, but user ${uid} is logged in at the Mac, so the container service can run.`,
    );
    return undefined;
  }
  return (
    `this runner is not in a GUI login session (launchctl managername: ${session}) and user ${uid} has none on ` +
    "this Mac, so the container service (a per-user launchd agent) cannot be registered or reached; " +
    "`container system start` fails here whatever it advises. What works: run the runner as a LaunchAgent of a " +
    "user logged in at the Mac (the runner's ./svc.sh install as that user, with automatic login enabled), or " +
    "start ./run.sh from Terminal in that user's GUI session. A LaunchDaemon or SSH session without a GUI login does not work."
  );
}

/**
 * Checks, in order of cost, that this runner can host an Apple container VM: macOS on Apple silicon
 * (not Rosetta), macOS 15 or newer (26 for workers), a usable hypervisor, a non-root user, and a launchd
 * session in which the per-user container service can run.
 */
export async function preflight(o: { workers?: number } = {}): Promise<PreflightResult> {
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
  if (major === 15 && (o.workers ?? 0) > 0) {
    // "macOS 15 limitations" in apple/container docs/technical-overview.md: containers cannot reach
    // each other over the VM network.
    throw new Error(
      `workers need macOS 26: on macOS ${macosVersion} the container VM network does not carry traffic between ` +
        "containers, so workers could not reach the control plane. Use workers: 0 on this runner, or a macOS 26 runner.",
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
  const launchd = await launchdProblem();
  if (launchd) throw new Error(launchd);
  const result: PreflightResult = { macosVersion };
  if (major === 15) {
    result.warning =
      `macOS ${macosVersion}: Apple container works with limits (one network, no container-to-container ` +
      "traffic). A single-node cluster needs neither; macOS 26 is the supported host.";
  }
  return result;
}
