import * as core from "@actions/core";
import type { KubeConfig } from "@kubernetes/client-node";
import { generateBootstrapToken } from "../builders/bootstrap-token.js";
import { IGNORED_PREFLIGHT_ERRORS } from "../builders/kubeadm-config.js";
import { caCertHash, KUBEADM_JOIN_CONFIG_PATH, renderJoinConfiguration } from "../builders/kubeadm-join.js";
import type { ContainerCli } from "../container/cli.js";
import { CommandError } from "../errors.js";
import { createBootstrapToken } from "../kube/bootstrap-token.js";
import { registerSecret } from "../secrets.js";
import type { NodeVm, VmNode } from "./node-vm.js";

/**
 * The cluster CA (PEM) from the job's kubeconfig: the allowlisted one the action wrote
 * (builders/kubeconfig.ts), so workers pin the CA the action itself trusts. Throws when it has none.
 */
export function clusterCaPem(kc: KubeConfig): string {
  const data = kc.getCurrentCluster()?.caData;
  if (!data) throw new Error("the kubeconfig has no certificate-authority-data to pin the workers' join to");
  return Buffer.from(data, "base64").toString("utf8");
}

/**
 * Joins each worker to the control plane at its VM address, in parallel:
 * - a fresh bootstrap token, masked before anything else, made valid by creating its Secret through the
 *   API (kube/bootstrap-token.ts, 15 min TTL): it is on no command line and in no file on the host;
 * - the CA pinned by its hash (`caCertHashes`), never `unsafeSkipCAVerification`;
 * - the JoinConfiguration goes to the worker on stdin into a 0600 file that the same exec as
 *   `kubeadm join` removes, whether the join worked or not.
 * No pause-image retag as on the control plane: a worker's `kubeadm join` pulls no images (its preflight
 * pulls only for a control-plane join: kubernetes/kubernetes cmd/kubeadm/app/cmd/phases/join/preflight.go).
 * Every join settles before the first failure (in worker order) is thrown, naming the worker.
 */
export async function joinWorkers(
  cli: ContainerCli,
  kc: KubeConfig,
  controlPlane: NodeVm,
  workers: VmNode[],
): Promise<void> {
  if (!workers.length) return;
  const token = generateBootstrapToken();
  registerSecret(token.value);
  registerSecret(token.secret);
  const caCertHashes = [caCertHash(clusterCaPem(kc))];
  const expires = await createBootstrapToken(kc, token);
  core.info(`Bootstrap token ${token.id} created; it expires at ${expires.toISOString()}.`);
  const settled = await Promise.allSettled(
    workers.map(async (w) => {
      const config = renderJoinConfiguration({
        nodeName: w.name,
        nodeIP: w.ip,
        apiServerEndpoint: `${controlPlane.ip}:6443`,
        token: token.value,
        caCertHashes,
        ignorePreflightErrors: IGNORED_PREFLIGHT_ERRORS,
      });
      await cli.writeFile(w.name, KUBEADM_JOIN_CONFIG_PATH, config, { mode: "0600" });
      const path = KUBEADM_JOIN_CONFIG_PATH;
      const r = await cli.exec(
        w.name,
        ["sh", "-c", `kubeadm join --config ${path}; rc=$?; rm -f ${path}; exit $rc`],
        {
          op: "kubeadm join",
          command: "kubeadm join",
          allowFailure: true,
          echo: true,
          display: `container exec ${w.name} kubeadm join --config ${path}`,
        },
      );
      if (r.code !== 0) {
        const command = ["container", "exec", w.name, "kubeadm", "join", "--config", path];
        throw new CommandError(
          command,
          r.code,
          r.stdout + r.stderr,
          `kubeadm join of ${w.name} failed (exit ${r.code}): ${lastLine(r.stderr || r.stdout)}. ` +
            `See ${w.name}/kubelet.log in the diagnostics.`,
        );
      }
    }),
  );
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw failed.reason;
}

function lastLine(text: string): string {
  const lines = text
    .trim()
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !/^To see the stack trace/.test(l));
  return lines.slice(-2).join(" | ") || "no output";
}
