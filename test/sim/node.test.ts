// Node VMs: container exec in a real sandbox, faults, kubeadm and the kubelet model.
import { request } from "node:https";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostShell, type Simulator } from "./simulator.ts";
import { resourceFor } from "./kube/store.ts";
import { freePort } from "../../src/steps/node-vm.js";
import { NODE_IMAGES } from "../../src/versions.js";
import { describe, expect, test, type SharedMac } from "../fixtures/mac.ts";

// The kubeadm config below pins v1.35.8, and the simulated kubeadm insists on the image's minor.
const NODE_IMAGE = NODE_IMAGES["1.35.8"]!;
const N = "kina-control-plane";
const NODE_FLAGS = "--cap-add ALL --read-only-path NONE --masked-path NONE";

const sh = hostShell;

function kubeadmConfig(ip: string, o: { podSubnet?: string; advertise?: string } = {}): string {
  return `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: ${o.advertise ?? ip}
  bindPort: 6443
nodeRegistration:
  name: ${N}
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: node-ip
      value: ${ip}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.35.8
networking:
  podSubnet: ${o.podSubnet ?? "10.244.0.0/16"}
  serviceSubnet: 10.96.0.0/12
apiServer:
  certSANs: [127.0.0.1, localhost, ${ip}]
`;
}

const conflist = (subnet = "10.244.0.0/16") =>
  JSON.stringify({
    cniVersion: "0.4.0",
    name: "ptp-net",
    plugins: [
      { type: "ptp", ipMasq: true, ipam: { type: "host-local", subnet, routes: [{ dst: "0.0.0.0/0" }] } },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  });

function nodeReady(sim: Simulator): boolean {
  const api = sim.node(N).api!;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes objects are untyped here
  const node = api.store.list(resourceFor("nodes")!, undefined)[0] as any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
  return node?.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True") ?? false;
}

async function eventually(check: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

describe("container exec runs a real shell in the node", () => {
  const shared = (sharedMac: SharedMac) =>
    sharedMac(
      "exec",
      { serviceRunning: true, kernelInstalled: true, latency: { bootMs: 300 } },
      async (sim) => {
        expect((await sh(sim, `container run -d --name ${N} ${NODE_FLAGS} ${NODE_IMAGE}`)).code).toBe(0);
        expect((await sh(sim, `container run -d --name plain ${NODE_IMAGE}`)).code).toBe(0);
      },
    );

  test("writes files into the node's root filesystem and passes exit codes through", async ({
    sharedMac,
  }) => {
    const sim = await shared(sharedMac);
    const w = await sh(sim, `container exec -i ${N} sh -c 'mkdir -p /etc/kina && cat > /etc/kina/x.txt'`, {
      input: "hello node\n",
    });
    expect(w.code).toBe(0);
    expect(readFileSync(join(sim.node(N).rootfs, "etc/kina/x.txt"), "utf8")).toBe("hello node\n");
    expect(await sh(sim, `container exec ${N} sh -c 'cat /etc/kina/x.txt; hostname; exit 7'`)).toMatchObject({
      code: 7,
      stdout: `hello node\n${N}\n`,
    });
    expect((await sh(sim, `container exec -e A=b ${N} sh -c 'echo $A'`)).stdout).toBe("b\n");
    expect((await sh(sim, `container exec ${N} no-such-tool`)).stderr).toContain(
      "executable file not found in $PATH: no-such-tool",
    );
    writeFileSync(join(sim.runnerTemp, "cp.txt"), "copied\n");
    expect((await sh(sim, `container cp ${join(sim.runnerTemp, "cp.txt")} ${N}:/etc/kina/`)).code).toBe(0);
    expect((await sh(sim, `container exec ${N} cat /etc/kina/cp.txt`)).stdout).toBe("copied\n");
  });

  test("creates containerd's socket once the node has booted", async ({ sharedMac }) => {
    const sim = await shared(sharedMac);
    const probe = `container exec ${N} test -S /run/containerd/containerd.sock`;
    expect(
      await eventually(() => existsSync(join(sim.node(N).rootfs, "run/containerd/containerd.sock"))),
    ).toBe(true);
    expect((await sh(sim, probe)).code).toBe(0);
  });

  test("keeps sysctl and iptables changes inside the node's own network namespace", async ({ sharedMac }) => {
    const sim = await shared(sharedMac);
    const hostForward = readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8");
    expect((await sh(sim, `container exec ${N} sysctl -w net.ipv4.ip_forward=1`)).code).toBe(0);
    const mss = "iptables-nft -t mangle -A OUTPUT -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1220";
    expect((await sh(sim, `container exec ${N} ${mss}`)).code).toBe(0);
    // persists across execs (the VM keeps its namespace), and the host never sees it
    expect((await sh(sim, `container exec ${N} cat /proc/sys/net/ipv4/ip_forward`)).stdout).toBe("1\n");
    expect((await sim.execInNode(N, ["iptables-nft", "-t", "mangle", "-S", "OUTPUT"])).stdout).toContain(
      "--set-mss 1220",
    );
    expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8")).toBe(hostForward);
    expect((await sh(sim, "container exec plain cat /proc/sys/net/ipv4/ip_forward")).stdout).toBe("0\n");
  });

  test("keeps /proc/sys read-only and capabilities default without the 1.2.1 flags and --cap-add ALL", async ({
    sharedMac,
  }) => {
    const sim = await shared(sharedMac);
    const r = await sh(sim, "container exec plain sysctl -w net.ipv4.ip_forward=1");
    expect(r.code).not.toBe(0);
    expect((await sh(sim, "container exec plain iptables-nft -t mangle -S")).code).not.toBe(0);
  });
});

describe("fault injection", () => {
  test("answers matching calls with the fault, as many times as asked", async ({ mac }) => {
    const sim = await mac({
      serviceRunning: true,
      faults: [{ when: "image pull", code: 1, stderr: 'Error: internalError: "registry down"', times: 1 }],
    });
    expect(await sh(sim, `container image pull ${NODE_IMAGE}`)).toMatchObject({
      code: 1,
      stderr: 'Error: internalError: "registry down"\n',
    });
    expect(sim.counters.pulls).toBe(0);
    expect((await sh(sim, `container image pull ${NODE_IMAGE}`)).code).toBe(0);
    expect(sim.counters.pulls).toBe(1);
    expect(sim.calls.filter((c) => c.fault)).toHaveLength(1);
  });

  test("applies to in-node tools and to file writes through exec, also when added at run time", async ({
    mac,
  }) => {
    const sim = await mac({ serviceRunning: true, kernelInstalled: true });
    await sh(sim, `container run -d --name ${N} ${NODE_FLAGS} ${NODE_IMAGE}`);
    sim.faults.push({ when: /^kubeadm init/, code: 3, stderr: "[ERROR Simulated]: no" });
    sim.faults.push({
      when: /cat > \/etc\/cni\/net\.d\//,
      code: 1,
      stderr: "sh: write error: No space left on device",
    });
    expect(await sh(sim, `container exec ${N} kubeadm init --config /x.yaml`)).toMatchObject({
      code: 3,
      stderr: "[ERROR Simulated]: no\n",
    });
    const w = await sh(sim, `container exec -i ${N} sh -c 'cat > /etc/cni/net.d/10-ptp.conflist'`, {
      input: conflist(),
    });
    expect(w.code).toBe(1);
    expect(existsSync(join(sim.node(N).rootfs, "etc/cni/net.d/10-ptp.conflist"))).toBe(false);
    expect(sim.calls.find((c) => c.tool === "kubeadm")).toMatchObject({ node: N, code: 3, fault: true });
  });
});

describe("kubeadm and the kubelet model", () => {
  // One node through the whole bring-up; the steps build on each other.
  let port = 0;
  const shared = (sharedMac: SharedMac) =>
    sharedMac(
      "kubeadm",
      { serviceRunning: true, kernelInstalled: true, images: ["nginx:1.27"] },
      async (sim) => {
        port = await freePort();
        expect(
          (
            await sh(
              sim,
              `container run -d --name ${N} ${NODE_FLAGS} -p 127.0.0.1:${port}:6443 ${NODE_IMAGE}`,
            )
          ).code,
        ).toBe(0);
      },
    );

  test("rejects a config for another address, and fails preflight until ip_forward is on", async ({
    sharedMac,
  }) => {
    const sim = await shared(sharedMac);
    const ip = sim.node(N).ip;
    await sh(sim, `container exec -i ${N} sh -c 'cat > /etc/kubernetes/bad.yaml'`, {
      input: kubeadmConfig(ip, { advertise: "10.1.2.3" }),
    });
    const bad = await sh(
      sim,
      `container exec ${N} kubeadm init --config /etc/kubernetes/bad.yaml --ignore-preflight-errors all`,
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("localAPIEndpoint.advertiseAddress");
    await sh(sim, `container exec -i ${N} sh -c 'cat > /etc/kubernetes/kubeadm.yaml'`, {
      input: kubeadmConfig(ip),
    });
    const pre = await sh(sim, `container exec ${N} kubeadm init --config /etc/kubernetes/kubeadm.yaml`);
    expect(pre.code).toBe(1);
    expect(pre.stderr).toContain("[ERROR FileContent--proc-sys-net-ipv4-ip_forward]");
    expect(pre.stderr).toContain("[ERROR FileContent--proc-sys-net-bridge-bridge-nf-call-iptables]");
    expect(sim.node(N).api).toBeUndefined();
  });

  test("starts the API server behind the published port and writes admin.conf; a second init fails", async ({
    sharedMac,
  }) => {
    const sim = await shared(sharedMac);
    expect((await sh(sim, `container exec ${N} sysctl -w net.ipv4.ip_forward=1`)).code).toBe(0);
    const init = await sh(
      sim,
      `container exec ${N} kubeadm init --config /etc/kubernetes/kubeadm.yaml --ignore-preflight-errors FileContent--proc-sys-net-bridge-bridge-nf-call-iptables`,
    );
    expect(init.stdout).toContain("Your Kubernetes control-plane has initialized successfully!");
    expect(init.code).toBe(0);
    const node = sim.node(N);
    expect(node.kubeadmConfig).toMatchObject({ cluster: { networking: { podSubnet: "10.244.0.0/16" } } });
    expect(readFileSync(join(node.rootfs, "etc/kubernetes/admin.conf"), "utf8")).toContain(
      `server: https://${node.ip}:6443`,
    );
    expect(readFileSync(join(node.rootfs, "etc/kubernetes/pki/ca.crt"), "utf8")).toBe(node.api!.ca.certPem);
    const readyz = await new Promise<string>((resolve, reject) => {
      const creds = node.api!.adminCredentials;
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/readyz",
          ca: node.api!.ca.certPem,
          cert: creds.certPem,
          key: creds.keyPem,
          servername: "localhost",
        },
        (res) => {
          let b = "";
          res.on("data", (d: Buffer) => (b += d.toString()));
          res.on("end", () => resolve(b));
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(readyz).toBe("ok");
    const again = await sh(
      sim,
      `container exec ${N} kubeadm init --config /etc/kubernetes/kubeadm.yaml --ignore-preflight-errors FileContent--proc-sys-net-bridge-bridge-nf-call-iptables`,
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("[ERROR Port-6443]: Port 6443 is in use");
  });

  test("keeps the node NotReady for a conflist on another subnet, and without a kubelet restart", async ({
    sharedMac,
  }) => {
    const sim = await shared(sharedMac);
    await sh(sim, `container exec -i ${N} sh -c 'cat > /etc/cni/net.d/10-ptp.conflist'`, {
      input: conflist("10.99.0.0/16"),
    });
    await sh(sim, `container exec ${N} systemctl restart kubelet`);
    expect(sim.cniProblem(N)).toContain("is not the pod subnet 10.244.0.0/16");
    await sh(sim, `container exec -i ${N} sh -c 'cat > /etc/cni/net.d/10-ptp.conflist'`, {
      input: conflist(),
    });
    expect(sim.cniProblem(N)).toBeUndefined();
    expect(await eventually(() => nodeReady(sim), 300)).toBe(false);
  });

  test("turns the node Ready after a valid conflist and a kubelet restart", async ({ sharedMac }) => {
    const sim = await shared(sharedMac);
    expect((await sh(sim, `container exec ${N} systemctl restart kubelet`)).code).toBe(0);
    expect(await eventually(() => nodeReady(sim))).toBe(true);
    const events = sim.node(N).timeline.map((e) => e.event);
    expect(events.lastIndexOf("kubelet-restart")).toBeGreaterThan(
      events.findLastIndex((e) => e.startsWith("conflist-written")),
    );
    expect(events.at(-1)).toBe("kubelet-start");
    expect((await sh(sim, `container exec ${N} journalctl -u kubelet --no-pager`)).stdout).toContain(
      "Successfully registered node",
    );
  });

  test("loads a host image into the node's containerd through image save | ctr import", async ({
    sharedMac,
  }) => {
    const sim = await shared(sharedMac);
    const load = await sh(
      sim,
      `container image save nginx:1.27 | container exec -i ${N} ctr -n k8s.io images import -`,
    );
    expect(load.code).toBe(0);
    expect(sim.node(N).images).toContain("docker.io/library/nginx:1.27");
    expect((await sh(sim, `container exec ${N} crictl inspecti nginx:1.27`)).code).toBe(0);
    expect((await sh(sim, `container exec ${N} crictl inspecti busybox`)).code).toBe(1);
    expect(
      (
        await sh(
          sim,
          `container exec ${N} ctr -n k8s.io images tag registry.k8s.io/pause:3.10 registry.k8s.io/pause:3.10.1`,
        )
      ).code,
    ).toBe(0);
    expect(sim.node(N).images).toContain("registry.k8s.io/pause:3.10.1");
  });
});
