import type { ContainerCli } from "../container/cli.js";
import { CNI_CONFLIST_PATH, renderCniConflist } from "../builders/cni-conflist.js";
import { nodeCidr } from "../builders/node-cidrs.js";
import { renderNodeConflist } from "../builders/node-network.js";
import type { Inputs } from "../inputs.js";
import type { NodeVm } from "./node-vm.js";

/**
 * Writes the PTP conflist before `kubeadm init`: its content depends only on the pod subnet, so the
 * kubelet that kubeadm starts finds its network at once (containerd's CRI watches /etc/cni/net.d)
 * and needs no restart. With workers, the control plane's conflist is on its own podCIDR instead: it
 * registers alone during init, so the controller-manager's range allocator gives it the pod subnet's
 * first node CIDR (steps/pod-network.ts checks that it did).
 */
export async function installCni(
  cli: ContainerCli,
  node: NodeVm,
  inputs: Pick<Inputs, "podSubnet"> & Partial<Pick<Inputs, "workers">>,
): Promise<string> {
  const conflist = inputs.workers
    ? renderNodeConflist(nodeCidr(inputs.podSubnet, 0))
    : renderCniConflist(inputs.podSubnet);
  await cli.writeFile(node.name, CNI_CONFLIST_PATH, conflist, { echo: true });
  return conflist;
}
