import { ContainerError, type ContainerCli } from "../container/cli.js";
import { registerSecret } from "../secrets.js";
import {
  IGNORED_PREFLIGHT_ERRORS,
  KUBEADM_CONFIG_PATH,
  renderKubeadmConfig,
} from "../builders/kubeadm-config.js";
import { NODE_CIDR_MASK_SIZE } from "../builders/node-cidrs.js";
import type { Inputs } from "../inputs.js";
import type { NodeVm } from "./node-vm.js";

export { IGNORED_PREFLIGHT_ERRORS };

export interface KubeadmResult {
  config: string;
  output: string;
}

/** Aligns the node image's pre-loaded pause image with the one kubeadm expects, avoiding a pull. */
const PAUSE_RETAG =
  `want=$(kubeadm config images list --config ${KUBEADM_CONFIG_PATH} 2>/dev/null | grep '/pause:' || true); ` +
  `have=$(ctr -n k8s.io images ls -q 2>/dev/null | grep '/pause:' | head -n 1 || true); ` +
  `if [ -n "$want" ] && [ -n "$have" ] && ! ctr -n k8s.io images ls -q | grep -qx "$want"; then ctr -n k8s.io images tag "$have" "$want"; fi`;

export async function kubeadmInit(cli: ContainerCli, node: NodeVm, inputs: Inputs): Promise<KubeadmResult> {
  const config = renderKubeadmConfig({
    clusterName: inputs.clusterName,
    nodeName: node.name,
    nodeIP: node.ip,
    kubernetesVersion: inputs.kubernetesVersion,
    podSubnet: inputs.podSubnet,
    serviceSubnet: inputs.serviceSubnet,
    // With workers, the controller-manager gives each node its own podCIDR (builders/node-cidrs.ts).
    ...(inputs.workers > 0 ? { nodeCidrMaskSize: NODE_CIDR_MASK_SIZE } : {}),
  });
  // The retag is best effort: kubeadm pulls the pause image itself when the tag is missing.
  await cli.writeFile(node.name, KUBEADM_CONFIG_PATH, config, {
    mode: "0600",
    then: `{ ${PAUSE_RETAG}; } || true`,
  });
  const args = [
    "kubeadm",
    "init",
    "--config",
    KUBEADM_CONFIG_PATH,
    `--ignore-preflight-errors=${IGNORED_PREFLIGHT_ERRORS.join(",")}`,
    "--skip-token-print",
  ];
  // Echoed as it runs; join tokens are blanked in the echo (secrets.ts) and registered afterwards.
  const r = await cli.exec(node.name, args, { op: "kubeadm init", allowFailure: true, echo: true });
  const output = r.stdout + r.stderr;
  for (const m of output.matchAll(/--token\s+(\S+)/g)) registerSecret(m[1]!);
  // The whole output, so diagnostics keep what kubeadm said on stdout before it failed.
  if (r.code !== 0) throw new ContainerError(["exec", node.name, ...args], r.code, output);
  return { config, output };
}
