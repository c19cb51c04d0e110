import type { ContainerCli } from "../container/cli.js";
import { CNI_CONFLIST_PATH, renderCniConflist } from "../builders/cni-conflist.js";
import type { Inputs } from "../inputs.js";
import type { NodeVm } from "./node-vm.js";

/**
 * Writes the PTP conflist before `kubeadm init`: its content depends only on the pod subnet, so the
 * kubelet that kubeadm starts finds its network at once (containerd's CRI watches /etc/cni/net.d)
 * and needs no restart.
 */
export async function installCni(
  cli: ContainerCli,
  node: NodeVm,
  inputs: Pick<Inputs, "podSubnet">,
): Promise<string> {
  const conflist = renderCniConflist(inputs.podSubnet);
  await cli.writeFile(node.name, CNI_CONFLIST_PATH, conflist, { echo: true });
  return conflist;
}
