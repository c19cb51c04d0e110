import { type Cidr, formatIPv4 } from "../cidr.js";

/**
 * The size of each node's pod CIDR: kube-controller-manager's `--node-cidr-mask-size`.
 *
 * /24, the controller-manager's own IPv4 default (and so what kubeadm and kind clusters use), because:
 * - 254 pod addresses per node stay above the kubelet's default `maxPods: 110`, so a node never runs
 *   out of addresses before the scheduler stops placing pods on it;
 * - pod addresses read like the node they run on (10.244.<node>.<pod>), which helps in CI logs;
 * - the default pod-subnet /16 then holds 256 nodes, far more than a Mac can run.
 * A smaller pod-subnet holds fewer nodes; `podSubnetCapacityProblem` says so at input time.
 */
export const NODE_CIDR_MASK_SIZE = 24;

/**
 * How many node CIDRs of `/maskSize` the pod subnet holds: the controller-manager's CIDR set splits
 * `--cluster-cidr` into 2^(maskSize − prefix) subnets (kubernetes/kubernetes,
 * pkg/controller/nodeipam/ipam/cidrset/cidr_set.go). 0 when the mask is wider than the subnet.
 */
export function nodeCidrCapacity(podSubnet: Cidr, maskSize = NODE_CIDR_MASK_SIZE): number {
  if (!Number.isInteger(maskSize) || maskSize < podSubnet.prefix || maskSize > 32) return 0;
  return 2 ** (maskSize - podSubnet.prefix);
}

/**
 * The `index`-th node CIDR (0-based), in the order the controller-manager's range allocator hands them
 * out: it takes the lowest free subnet, so the control plane, the only node when it registers during
 * `kubeadm init`, gets index 0. Later nodes get theirs in the order they register, which for workers
 * joining in parallel is not known in advance: read `spec.podCIDR` from each Node for those.
 * Throws a RangeError when the subnet holds fewer than index + 1 node CIDRs.
 */
export function nodeCidr(podSubnet: Cidr, index: number, maskSize = NODE_CIDR_MASK_SIZE): Cidr {
  const capacity = nodeCidrCapacity(podSubnet, maskSize);
  if (!Number.isInteger(index) || index < 0 || index >= capacity) {
    throw new RangeError(
      `${podSubnet.text} holds ${capacity} node CIDRs of /${maskSize}; there is no node CIDR ${index}`,
    );
  }
  const network = (podSubnet.network + index * 2 ** (32 - maskSize)) >>> 0;
  return { network, prefix: maskSize, text: `${formatIPv4(network)}/${maskSize}` };
}

/**
 * Why the pod subnet cannot give each of `nodes` nodes (control plane included) its own `/maskSize`,
 * with the fix; undefined when it can.
 */
export function podSubnetCapacityProblem(
  podSubnet: Cidr,
  nodes: number,
  maskSize = NODE_CIDR_MASK_SIZE,
): string | undefined {
  const capacity = nodeCidrCapacity(podSubnet, maskSize);
  if (nodes <= capacity) return undefined;
  // The longest prefix that still holds `nodes` node CIDRs.
  const needed = maskSize - Math.ceil(Math.log2(nodes));
  return (
    `pod-subnet ${podSubnet.text} holds ${capacity} node CIDR${capacity === 1 ? "" : "s"} of /${maskSize} ` +
    `(one per node), but ${nodes} nodes need one each; use a pod-subnet of /${needed} or larger ` +
    `(e.g. the default 10.244.0.0/16), or fewer workers`
  );
}

/** One `--flag=value` of a control-plane component, in kubeadm v1beta4's list form. */
export interface KubeadmArg {
  name: string;
  value: string;
}

/**
 * kube-controller-manager flags that make it give every Node its own `spec.podCIDR` out of the pod
 * subnet. kubeadm already sets the first two from `networking.podSubnet`
 * (cmd/kubeadm/app/phases/controlplane/manifests.go, getControllerManagerCommand); they are spelled
 * out so the mask the input check assumed is the mask the cluster uses, whatever a future default.
 */
export function controllerManagerNodeCidrArgs(podSubnet: Cidr, maskSize = NODE_CIDR_MASK_SIZE): KubeadmArg[] {
  return [
    { name: "allocate-node-cidrs", value: "true" },
    { name: "cluster-cidr", value: podSubnet.text },
    { name: "node-cidr-mask-size", value: String(maskSize) },
  ];
}
