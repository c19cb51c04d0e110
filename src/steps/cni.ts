import type { ContainerCli } from "../container/cli.js";
import { CNI_CONFLIST_PATH, renderCniConflist } from "../builders/cni-conflist.js";
import type { Inputs } from "../inputs.js";
import type { NodeVm } from "./node-vm.js";

/** Writes the PTP conflist, then restarts the kubelet so it picks the network up at once. */
export async function installCni(
  cli: ContainerCli,
  node: NodeVm,
  inputs: Pick<Inputs, "podSubnet">,
): Promise<string> {
  const conflist = renderCniConflist(inputs.podSubnet);
  await cli.writeFile(node.name, CNI_CONFLIST_PATH, conflist, {
    then: "systemctl restart kubelet",
    echo: true,
  });
  return conflist;
}
