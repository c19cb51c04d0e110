import * as core from "@actions/core";
import { Backoff, sleep } from "../backoff.js";
import { OTHER_BOUNDS } from "../bounds.js";
import type { ContainerCli } from "../container/cli.js";
import { errorMessage } from "../errors.js";
import { probeServer } from "../kube/client.js";

/** How long the published port may keep failing before the step gives up: it forwards at once when it works. */
const PROBE_BUDGET_MS = OTHER_BOUNDS.apiPort.seconds * 1000;
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Why the API server does not answer inside the node, or undefined when it does: the node's own
 * kubectl with kubeadm's admin.conf asks `/livez` (https://kubernetes.io/docs/reference/using-api/health-checks/).
 * What it prints is the node's, so only its last line, cut short, goes into a message.
 */
async function insideProblem(cli: ContainerCli, node: string): Promise<string | undefined> {
  try {
    const r = await cli.exec(
      node,
      [
        "kubectl",
        "--kubeconfig=/etc/kubernetes/admin.conf",
        "--request-timeout=5s",
        "get",
        "--raw",
        "/livez",
      ],
      { allowFailure: true },
    );
    if (r.code === 0 && r.stdout.trim() === "ok") return undefined;
    const said = (r.stderr || r.stdout).trim().split("\n").at(-1)?.slice(0, 200) ?? "";
    return `exit ${r.code}${said ? `: ${said}` : ""}`;
  } catch (err) {
    return errorMessage(err);
  }
}

/**
 * Checks that the API server answers on the port published on 127.0.0.1: a TLS handshake, retried for a
 * few seconds. When it does not, asks inside the node (`inside`) to tell which side is broken. If the
 * API server answers there, the port is the host side: the container runtime lacks the macOS Local
 * Network permission (apple/container#1180, #1702), which a CLI installed by a package manager instead of
 * Apple's signed installer does not get (ddev/ddev#8656). If it does not, the API server itself is down.
 */
export async function checkApiPort(
  server: string,
  inside?: { cli: ContainerCli; node: string },
): Promise<void> {
  const deadline = Date.now() + PROBE_BUDGET_MS;
  const backoff = new Backoff({ minMs: 100, maxMs: 1_000 });
  for (;;) {
    const why = await probeServer(server, PROBE_TIMEOUT_MS);
    if (!why) {
      core.info(`${server} answers`);
      return;
    }
    if (Date.now() + 100 >= deadline) {
      const port = new URL(server).host;
      const what =
        why.code === "ECONNRESET" || why.code === "EPIPE"
          ? "resets connections"
          : why.code === "ECONNREFUSED"
            ? "refuses connections"
            : `does not answer (${why.code}: ${why.message})`;
      const down = inside && (await insideProblem(inside.cli, inside.node));
      if (down)
        throw new Error(
          `the API server does not answer inside the node either (\`kubectl get --raw /livez\` in ${inside.node}: ${down}), ` +
            `so the API server itself is down, not only ${port}, the port published for it on this Mac (it ${what}). ` +
            "See the diagnostics output (kube-apiserver and kubelet logs) for why it stopped.",
        );
      throw new Error(
        `the API server answers inside the node${inside ? " (its /livez says ok)" : " (kubeadm init reached it)"}, but ${port}, the port \`container run -p\` ` +
          `published for it on this Mac, ${what}. Known causes: the container runtime lacks the macOS Local Network ` +
          "permission (System Settings > Privacy & Security > Local Network: allow container-runtime-linux, then " +
          "`container system stop` and `container system start`; apple/container#1702), or the container CLI was " +
          "installed by a package manager such as Homebrew rather than Apple's signed installer, which is what the " +
          "permission is granted to (set container-version to let this action install the signed one).",
      );
    }
    await sleep(Math.min(backoff.next(), Math.max(deadline - Date.now(), 0)));
  }
}
