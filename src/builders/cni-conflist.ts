import type { Cidr } from "../cidr.js";

export const CNI_CONFLIST_PATH = "/etc/cni/net.d/10-ptp.conflist";

/**
 * The PTP network of the project's design (README, "Why PTP networking"): ptp (veth pair per pod, /32 host routes, no
 * bridge, so no bridge netfilter) with host-local IPAM, then portmap for hostPort.
 *
 * cniVersion 0.4.0: the version the design was validated with on Apple container VMs; every plugin
 * and containerd in the supported kindest/node images speaks it, and nothing here needs 1.0.0.
 *
 * MTU: the VM network's MTU is 1280 while ptp gives pods 1500. The conflist stays as designed; the
 * node clamps TCP MSS to fit 1280 instead (steps/node-vm.ts), as Apple's own k8s recipe does, so
 * pod-to-pod traffic inside the node keeps the larger MTU.
 */
export function buildCniConflist(podSubnet: Cidr): object {
  return {
    cniVersion: "0.4.0",
    name: "ptp-net",
    plugins: [
      {
        type: "ptp",
        ipMasq: true,
        ipam: {
          type: "host-local",
          subnet: podSubnet.text,
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

export function renderCniConflist(podSubnet: Cidr): string {
  return JSON.stringify(buildCniConflist(podSubnet), null, 2) + "\n";
}
