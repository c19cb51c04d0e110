import type { ContainerCli } from "../container/cli.js";
import type { NodeVm, VmNode } from "./node-vm.js";

const BOOT_TIMEOUT_S = 120;
const WAIT_CONTAINERD =
  `timeout ${BOOT_TIMEOUT_S} sh -c 'until test -S /run/containerd/containerd.sock; do sleep 0.05; done' ` +
  `|| { echo "containerd's socket did not appear within ${BOOT_TIMEOUT_S}s of boot" >&2; exit 1; }`;

/**
 * The node preparation of Apple's own k8s recipe, which boots kindest/node on real Macs, one shell
 * command per step (a failure names its step):
 * - containerd's CRI image service on the native snapshotter (overlayfs does not work on the VM's rootfs);
 * - IPv4 forwarding on (ptp routes all pod traffic through the node); bridge-nf sysctls are absent from
 *   kata kernels, so their failure is ignored;
 * - TCP MSS clamped to fit the VM network's MTU (1280), so pods keep MTU 1500 among themselves
 *   and still reach the outside. Through `iptables`, the backend kindest/node's entrypoint selected
 *   (legacy or nft, by the rules it finds: select_iptables in kubernetes-sigs/kind
 *   images/base/files/usr/local/bin/entrypoint), which kube-proxy and the ptp plugin use too; a
 *   hard-coded `iptables-nft` would split the rules over two backends, or fail where the kernel has
 *   no nf_tables. Apple's k8s plugin made the same change in 1.5.0.
 */
export function prepareSteps(mtu: number): string[] {
  const mss = mtu - 60;
  return [
    // The node boots systemd, then containerd: one exec waits for it and prepares the node.
    WAIT_CONTAINERD,
    [
      "mkdir -p /etc/containerd/conf.d && cat > /etc/containerd/conf.d/native-snapshotter.toml <<'EOF'",
      "[plugins.'io.containerd.cri.v1.images']",
      '  snapshotter = "native"',
      "EOF",
    ].join("\n"),
    // containerd is Type=notify: restart returns once it serves again.
    "systemctl restart containerd",
    // 1.2.0 keeps /proc/sys read-only: only write what is not already so.
    '[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || sysctl -w net.ipv4.ip_forward=1',
    "sysctl -w net.bridge.bridge-nf-call-iptables=1 >/dev/null 2>&1 || true",
    `iptables -t mangle -A OUTPUT -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss ${mss}`,
    `iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss ${mss}`,
  ];
}

export async function prepareNode(cli: ContainerCli, node: VmNode | NodeVm): Promise<void> {
  await cli.script(node.name, prepareSteps(node.mtu), {
    op: "node preparation",
    what: "node preparation",
    echo: true,
  });
}
