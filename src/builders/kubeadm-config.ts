import { stringify } from "yaml";
import type { Cidr } from "../cidr.js";
import { controllerManagerNodeCidrArgs } from "./node-cidrs.js";

export const KUBEADM_CONFIG_PATH = "/etc/kubernetes/kubeadm-config.yaml";
/** Preflight checks the VM makes fail for reasons that do not matter to a CI cluster (init and join). */
export const IGNORED_PREFLIGHT_ERRORS = [
  // The VM may report swap; KubeletConfiguration sets failSwapOn: false.
  "Swap",
  // kata kernels ship no /proc/config.gz or module tree for kubeadm's kernel verification.
  "SystemVerification",
  // kata kernels have no bridge netfilter; the PTP network does not need it.
  "FileContent--proc-sys-net-bridge-bridge-nf-call-iptables",
];

/** containerd's CRI socket in kindest/node images. */
export const CRI_SOCKET = "unix:///run/containerd/containerd.sock";

export interface KubeadmConfigInput {
  clusterName: string;
  nodeName: string;
  nodeIP: string;
  /** `1.35.8`; undefined leaves kubeadm's own default (the version the node image ships). */
  kubernetesVersion: string | undefined;
  podSubnet: Cidr;
  serviceSubnet: Cidr;
  /**
   * Set for a cluster with workers: the controller-manager then gives each node a pod CIDR of this
   * size (builders/node-cidrs.ts). Unset, the single-node documents stay exactly as they were.
   */
  nodeCidrMaskSize?: number;
}

/** kubeadm v1beta4 documents (kubeadm 1.31+, the oldest supported node image). */
export function buildKubeadmConfig(c: KubeadmConfigInput): object[] {
  return [
    {
      apiVersion: "kubeadm.k8s.io/v1beta4",
      kind: "InitConfiguration",
      localAPIEndpoint: { advertiseAddress: c.nodeIP, bindPort: 6443 },
      nodeRegistration: {
        name: c.nodeName,
        criSocket: CRI_SOCKET,
        kubeletExtraArgs: [{ name: "node-ip", value: c.nodeIP }],
      },
    },
    {
      apiVersion: "kubeadm.k8s.io/v1beta4",
      kind: "ClusterConfiguration",
      clusterName: c.clusterName,
      ...(c.kubernetesVersion ? { kubernetesVersion: `v${c.kubernetesVersion}` } : {}),
      controlPlaneEndpoint: `${c.nodeIP}:6443`,
      networking: {
        podSubnet: c.podSubnet.text,
        serviceSubnet: c.serviceSubnet.text,
        dnsDomain: "cluster.local",
      },
      apiServer: { certSANs: ["127.0.0.1", "localhost", c.nodeIP, c.nodeName] },
      ...(c.nodeCidrMaskSize === undefined
        ? {}
        : {
            controllerManager: { extraArgs: controllerManagerNodeCidrArgs(c.podSubnet, c.nodeCidrMaskSize) },
          }),
    },
    {
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      // The serving certificate comes from a CSR the action approves (kube/csr-approver.ts), so
      // kubectl logs/exec/port-forward verify against the cluster CA.
      serverTLSBootstrap: true,
      cgroupDriver: "systemd",
      failSwapOn: false,
    },
    {
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      // Explicit: kube-proxy 1.37 warns when it is unset, and nftables is to become the default; the
      // node's rules (MSS clamp) and the ptp plugin's masquerading are iptables rules.
      mode: "iptables",
      // kube-proxy would otherwise try to raise nf_conntrack_max, which a VM's namespaced sysctl refuses.
      conntrack: { maxPerCore: 0 },
    },
  ];
}

export function renderKubeadmConfig(c: KubeadmConfigInput): string {
  return buildKubeadmConfig(c)
    .map((doc) => stringify(doc))
    .join("---\n");
}
