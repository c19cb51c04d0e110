import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { renderKubeadmConfig } from "../../src/builders/kubeadm-config.js";
import { parseCidr } from "../../src/cidr.js";

const base = {
  clusterName: "ci-a",
  nodeName: "ci-a-control-plane",
  nodeIP: "127.0.64.2",
  kubernetesVersion: "1.34.11",
  podSubnet: parseCidr("10.200.0.0/16")!,
  serviceSubnet: parseCidr("10.100.0.0/16")!,
};

function docs(text: string): Record<string, ReturnType<typeof JSON.parse>> {
  return Object.fromEntries(parseAllDocuments(text).map((d) => [d.get("kind"), d.toJS()]));
}

describe("renderKubeadmConfig", () => {
  it("carries the inputs into kubeadm v1beta4 documents", () => {
    const d = docs(renderKubeadmConfig(base));
    expect(d.InitConfiguration.apiVersion).toBe("kubeadm.k8s.io/v1beta4");
    expect(d.InitConfiguration.localAPIEndpoint.advertiseAddress).toBe("127.0.64.2");
    expect(d.InitConfiguration.nodeRegistration.name).toBe("ci-a-control-plane");
    expect(d.InitConfiguration.nodeRegistration.kubeletExtraArgs).toEqual([
      { name: "node-ip", value: "127.0.64.2" },
    ]);
    expect(d.ClusterConfiguration.kubernetesVersion).toBe("v1.34.11");
    expect(d.ClusterConfiguration.networking).toEqual({
      podSubnet: "10.200.0.0/16",
      serviceSubnet: "10.100.0.0/16",
      dnsDomain: "cluster.local",
    });
    expect(d.ClusterConfiguration.apiServer.certSANs).toEqual([
      "127.0.0.1",
      "localhost",
      "127.0.64.2",
      "ci-a-control-plane",
    ]);
    // Set explicitly: kube-proxy 1.37 warns when it is unset, and its default is to change to nftables.
    expect(d.KubeProxyConfiguration).toEqual({
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      mode: "iptables",
      conntrack: { maxPerCore: 0 },
    });
    expect(d.KubeletConfiguration).toMatchObject({
      serverTLSBootstrap: true,
      cgroupDriver: "systemd",
      failSwapOn: false,
    });
  });
  it("leaves the version to the image when it is unknown", () => {
    const d = docs(renderKubeadmConfig({ ...base, kubernetesVersion: undefined }));
    expect(d.ClusterConfiguration).not.toHaveProperty("kubernetesVersion");
  });
});

describe("renderKubeadmConfig for a cluster with workers", () => {
  it("makes the controller-manager allocate node CIDRs, and changes nothing else", () => {
    const single = docs(renderKubeadmConfig(base));
    const multi = docs(renderKubeadmConfig({ ...base, nodeCidrMaskSize: 24 }));
    expect(single.ClusterConfiguration).not.toHaveProperty("controllerManager");
    expect(multi.ClusterConfiguration.controllerManager).toEqual({
      extraArgs: [
        { name: "allocate-node-cidrs", value: "true" },
        { name: "cluster-cidr", value: "10.200.0.0/16" },
        { name: "node-cidr-mask-size", value: "24" },
      ],
    });
    const { controllerManager: _added, ...rest } = multi.ClusterConfiguration;
    expect({ ...multi, ClusterConfiguration: rest }).toEqual(single);
  });

  it("leaves the single-node text as it was when no mask is given", () => {
    expect(renderKubeadmConfig({ ...base, nodeCidrMaskSize: undefined })).toBe(renderKubeadmConfig(base));
  });
});
