// One simulated container VM: a root filesystem in a temp dir, a persistent network/IPC namespace held
// by a sleeping init process, and `exec` as a real process in that namespace under bubblewrap.
import { spawn, type ChildProcess } from "node:child_process";
import {
  mkdirSync,
  writeFileSync,
  symlinkSync,
  readdirSync,
  readlinkSync,
  rmSync,
  watch,
  type FSWatcher,
} from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import type { ApiServer } from "./kube/apiserver.ts";

export interface PublishPort {
  hostAddress: string;
  hostPort: number;
  containerPort: number;
  proto: "tcp" | "udp";
  count: number;
}

export interface VmSpec {
  name: string;
  image: string;
  imageDigest: string;
  cpus: number;
  memoryBytes: number;
  env: string[];
  labels: Record<string, string>;
  publish: PublishPort[];
  capAdd: string[];
  capDrop: string[];
  /** undefined: the CLI's defaults; [] after `--read-only-path NONE`. */
  readOnlyPaths?: string[];
  maskedPaths?: string[];
  rosetta: boolean;
  dns: { nameservers: string[]; domain?: string; searchDomains: string[]; options: string[] } | null;
  args: string[];
  /** CLI version that created it (decides /proc/sys write access). */
  cliVersion: string;
}

export interface TimelineEvent {
  at: number;
  event: string;
}

export type VmState = "running" | "stopped" | "stopping";

/** What a VM needs from the simulator that owns it. */
export interface VmHost {
  dir: string;
  nodeBinDir: string;
  nodeDir: string;
  bootMs(): number;
  /** The iptables backend kindest/node's entrypoint selects. */
  iptablesMode(): "nft" | "legacy";
  /** What a port published on the host does with a connection (see SimulatorOptions.portForwarding). */
  portForwarding(): "forward" | "reset" | "refuse";
  /** Listens for in-node tool calls of this VM on a unix socket path. */
  listenTools(vm: Vm, path: string): Promise<{ close(): Promise<void> }>;
}

const DEFAULT_CAPS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

export const now = (): number => performance.now();

function cmpVersion(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}
export { cmpVersion };

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (out += d.toString()));
    p.on("error", (e) => resolve({ code: 127, out: String(e) }));
    p.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

export class Vm {
  readonly spec: VmSpec;
  readonly host: VmHost;
  readonly n: number;
  readonly ip: string;
  readonly rootfs: string;
  readonly mac: string;
  readonly createdAt = new Date();
  state: VmState = "stopped";
  startedAt: Date | undefined;
  timeline: TimelineEvent[] = [];
  /** Images in the node's containerd (k8s.io namespace). */
  images: string[] = [];
  /** Images in other containerd namespaces. */
  otherImages: Record<string, string[]> = {};
  units = new Map<string, string>();
  api: ApiServer | undefined;
  kubeadmConfig: unknown;
  /** Set by `kubeadm join`: the control plane's VM, this node's name and the JoinConfiguration used. */
  joined: { controlPlane: Vm; nodeName: string; config: unknown } | undefined;
  kubeadmInitAt: number | undefined;
  bootLog = "";
  private init: ChildProcess | undefined;
  private proxies: Server[] = [];
  private proxySockets = new Set<Socket>();
  private containerd: Server | undefined;
  private tools: { close(): Promise<void> } | undefined;
  private execs = new Set<ChildProcess>();
  private timers = new Set<NodeJS.Timeout>();
  private watcher: FSWatcher | undefined;
  private lastConflistEvent = new Map<string, number>();
  private haltWaiters: Array<() => void> = [];
  readonly toolSock: string;

  constructor(host: VmHost, spec: VmSpec, n: number) {
    this.host = host;
    this.spec = spec;
    this.n = n;
    this.ip = `127.0.64.${n}`;
    this.rootfs = join(host.dir, `v${n}`);
    this.toolSock = join(host.dir, `n${n}.sock`);
    this.mac = `1a:6b:40:00:00:${n.toString(16).padStart(2, "0")}`;
  }

  get name(): string {
    return this.spec.name;
  }

  mark(event: string): void {
    this.timeline.push({ at: now(), event });
  }

  /** The kindest/node image's content, as far as anything here reads it. */
  createRootfs(kubernetesVersion: string | undefined, preloaded: string[]): void {
    const r = this.rootfs;
    for (const d of [
      "etc/kubernetes/manifests",
      "etc/kubernetes/pki",
      "etc/cni/net.d",
      "etc/containerd",
      "etc/default",
      "etc/alternatives",
      "etc/systemd/system/kubelet.service.d",
      "run/containerd",
      "var/lib/kubelet",
      "var/lib/containerd",
      "var/lib/etcd",
      "var/log",
      "opt/cni/bin",
      "root",
      "kind",
    ]) {
      mkdirSync(join(r, d), { recursive: true });
    }
    const w = (p: string, s: string, mode = 0o644) => writeFileSync(join(r, p), s, { mode });
    w("etc/hostname", `${this.name}\n`);
    w(
      "etc/hosts",
      `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${this.ip}\t${this.name}\n`,
    );
    w(
      "etc/passwd",
      "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    );
    w("etc/group", "root:x:0:\nnogroup:x:65534:\n");
    w("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n");
    w("etc/resolv.conf", `nameserver ${this.gateway}\n`);
    w("etc/protocols", "ip\t0\tIP\nicmp\t1\tICMP\ntcp\t6\tTCP\nudp\t17\tUDP\n");
    w("etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n');
    w(
      "etc/containerd/config.toml",
      'version = 3\n\n[plugins."io.containerd.cri.v1.runtime"]\n  [plugins."io.containerd.cri.v1.runtime".containerd]\n    default_runtime_name = "runc"\n',
    );
    w("etc/default/kubelet", "KUBELET_EXTRA_ARGS=\n");
    if (kubernetesVersion) w("kind/version", `v${kubernetesVersion.replace(/^v/, "")}\n`);
    for (const p of ["ptp", "host-local", "loopback", "portmap"])
      w(`opt/cni/bin/${p}`, "#!/bin/sh\nexit 0\n", 0o755);
    // Debian's /usr/sbin/iptables is a symlink through /etc/alternatives, and /etc is the node's own.
    for (const f of readdirSync("/etc/alternatives")) {
      let target: string;
      try {
        target = readlinkSync(join("/etc/alternatives", f));
      } catch {
        continue;
      }
      if (/^\/usr\/s?bin\//.test(target)) symlinkSync(target, join(r, "etc/alternatives", f));
    }
    // The entrypoint's select_iptables: `update-alternatives --set iptables /usr/sbin/iptables-<mode>`
    // (and ip6tables), so plain `iptables` is the selected backend (kubernetes-sigs/kind
    // images/base/files/usr/local/bin/entrypoint).
    const mode = this.host.iptablesMode();
    for (const t of ["iptables", "ip6tables"]) {
      for (const suffix of ["", "-restore", "-save"]) {
        const link = join(r, "etc/alternatives", `${t}${suffix}`);
        rmSync(link, { force: true });
        symlinkSync(`/usr/sbin/${t}-${mode}${suffix}`, link);
      }
    }
    this.images = [...preloaded];
    this.units = new Map([
      ["containerd", "inactive"],
      ["kubelet", "inactive"],
    ]);
    // Timeline of CNI config writes, as inotify sees them.
    this.watcher = watch(join(r, "etc/cni/net.d"), (_ev, file) => {
      if (!file || !String(file).endsWith(".conflist")) return;
      const t = now();
      const last = this.lastConflistEvent.get(String(file)) ?? -Infinity;
      this.lastConflistEvent.set(String(file), t);
      if (t - last > 20) this.mark(`conflist-written ${file}`);
    });
    this.watcher.on("error", () => {});
  }

  get gateway(): string {
    return "127.0.64.1";
  }

  /** Boots: namespaces, tool socket, published ports, then containerd's socket after bootMs. */
  async boot(): Promise<void> {
    const init = spawn(
      "/usr/bin/setpriv",
      ["--pdeathsig", "KILL", "/usr/bin/unshare", "--net", "--ipc", "/usr/bin/sleep", "infinity"],
      {
        stdio: "ignore",
      },
    );
    this.init = init;
    init.on("exit", () => {
      if (this.init === init) this.init = undefined;
    });
    await new Promise<void>((resolve, reject) => {
      init.once("spawn", resolve);
      init.once("error", reject);
    });
    // unshare has to have left the host's namespaces before they can be entered.
    const deadline = Date.now() + 5000;
    const hostNet = readlinkSync("/proc/self/ns/net");
    for (;;) {
      let ns = hostNet;
      try {
        ns = readlinkSync(`/proc/${init.pid}/ns/net`);
      } catch {
        // not there yet
      }
      if (ns !== hostNet) break;
      if (Date.now() > deadline || init.exitCode !== null) throw new Error("node init did not start");
      await new Promise((res) => setTimeout(res, 2));
    }
    const lo = await run("/usr/bin/nsenter", [
      "-t",
      String(init.pid),
      "-n",
      "/usr/sbin/ip",
      "link",
      "set",
      "lo",
      "up",
    ]);
    if (lo.code !== 0) throw new Error(`node network setup failed: ${lo.out}`);
    try {
      await this.publishPorts();
    } catch (e) {
      await this.halt();
      throw e;
    }
    this.tools = await this.host.listenTools(this, this.toolSock);
    this.state = "running";
    this.startedAt = new Date();
    this.mark("boot");
    this.bootLog += bootLogText(this);
    this.later(this.host.bootMs(), () => void this.containerdUp());
  }

  private async containerdUp(): Promise<void> {
    if (this.state !== "running") return;
    const path = join(this.rootfs, "run/containerd/containerd.sock");
    rmSync(path, { force: true });
    const server = createServer((s) => s.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, resolve);
    });
    if (this.state !== "running") {
      server.close();
      return;
    }
    this.containerd = server;
    this.units.set("containerd", "active");
    this.units.set("kubelet", "activating");
    this.mark("containerd-ready");
  }

  async restartContainerd(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.containerd ? this.containerd.close(() => resolve()) : resolve(),
    );
    this.containerd = undefined;
    await this.containerdUp();
  }

  private async publishPorts(): Promise<void> {
    const mode = this.host.portForwarding();
    if (mode === "refuse") return;
    for (const p of this.spec.publish) {
      if (p.proto !== "tcp") continue;
      const server = createServer((client) => {
        if (mode === "reset") {
          client.on("error", () => {});
          client.resetAndDestroy();
          return;
        }
        this.proxySockets.add(client);
        client.once("close", () => this.proxySockets.delete(client));
        const upstream = connect(p.containerPort, this.ip);
        this.proxySockets.add(upstream);
        upstream.once("close", () => this.proxySockets.delete(upstream));
        upstream.on("error", () => client.destroy());
        client.on("error", () => upstream.destroy());
        client.pipe(upstream).pipe(client);
      });
      // Never listen beyond loopback, whatever the host address says.
      const addr = p.hostAddress === "0.0.0.0" ? "127.0.0.1" : p.hostAddress;
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(p.hostPort, addr, () => {
          server.off("error", reject);
          resolve();
        });
      });
      this.proxies.push(server);
    }
  }

  /** Whether /proc/sys is writable in the node (1.2.0 made it read-only; 1.2.1+ can lift that). */
  get procSysWritable(): boolean {
    const v = this.spec.cliVersion;
    if (cmpVersion(v, "1.2.0") < 0) return true;
    if (cmpVersion(v, "1.2.1") < 0) return false;
    return this.spec.readOnlyPaths?.length === 0 && this.spec.maskedPaths?.length === 0;
  }

  get capabilities(): string[] | "ALL" {
    const add = this.spec.capAdd.map((c) => c.toUpperCase());
    if (add.includes("ALL")) return "ALL";
    const caps = new Set(DEFAULT_CAPS);
    for (const c of add) caps.add(c.startsWith("CAP_") ? c : `CAP_${c}`);
    for (const c of this.spec.capDrop.map((x) => x.toUpperCase())) {
      if (c === "ALL") caps.clear();
      caps.delete(c.startsWith("CAP_") ? c : `CAP_${c}`);
    }
    return [...caps];
  }

  /** Runs argv inside the node: a real process in the node's namespaces and root filesystem. */
  exec(
    argv: string[],
    o: {
      env: Record<string, string>;
      workdir?: string;
      stdin?: Readable;
      stdout: Writable | ((d: Buffer) => void);
      stderr: Writable | ((d: Buffer) => void);
      signal?: AbortSignal;
    },
  ): Promise<number> {
    const pid = this.init?.pid;
    if (this.state !== "running" || pid === undefined) return Promise.resolve(126);
    const r = this.rootfs;
    const args = ["-t", String(pid), "-n", "-i", "/usr/bin/bwrap"];
    args.push("--ro-bind", "/usr", "/usr");
    for (const [l, t] of [
      ["/bin", "usr/bin"],
      ["/lib", "usr/lib"],
      ["/lib64", "usr/lib64"],
      ["/sbin", "usr/sbin"],
    ] as const) {
      args.push("--symlink", t, l);
    }
    for (const d of ["etc", "run", "var", "opt", "root", "kind"]) args.push("--bind", join(r, d), `/${d}`);
    args.push("--ro-bind", this.host.nodeBinDir, "/kina-sim/bin");
    args.push("--ro-bind", this.host.nodeDir, "/kina-sim/node");
    args.push("--bind", this.toolSock, "/kina-sim/sim.sock");
    args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");
    if (!this.procSysWritable) args.push("--ro-bind", "/proc/sys", "/proc/sys");
    args.push("--unshare-pid", "--unshare-uts", "--hostname", this.name, "--die-with-parent");
    const caps = this.capabilities;
    if (caps !== "ALL") {
      args.push("--cap-drop", "ALL");
      for (const c of caps) args.push("--cap-add", c);
    }
    args.push("--chdir", o.workdir ?? "/");
    args.push("--", ...argv);
    const env = {
      PATH: "/kina-sim/bin:/kina-sim/node:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: "/root",
      container: "apple",
      ...o.env,
    };
    return new Promise((resolve) => {
      const p = spawn("/usr/bin/nsenter", args, {
        env,
        stdio: [o.stdin ? "pipe" : "ignore", "pipe", "pipe"],
      });
      this.execs.add(p);
      const sink = (w: Writable | ((d: Buffer) => void)) => (d: Buffer) =>
        typeof w === "function" ? w(d) : w.write(d);
      p.stdout!.on("data", sink(o.stdout));
      p.stderr!.on("data", sink(o.stderr));
      if (o.stdin && p.stdin) {
        p.stdin.on("error", () => {});
        o.stdin.pipe(p.stdin);
      }
      const onAbort = () => p.kill("SIGKILL");
      o.signal?.addEventListener("abort", onAbort, { once: true });
      p.on("error", () => {});
      p.on("close", (code, sig) => {
        this.execs.delete(p);
        o.signal?.removeEventListener("abort", onAbort);
        if (o.stdin && p.stdin) o.stdin.unpipe(p.stdin);
        resolve(code ?? (sig ? 128 + 9 : 1));
      });
    });
  }

  /** Resolves when the VM next stops (at once when it is not running). */
  waitHalt(): Promise<void> {
    if (this.state !== "running") return Promise.resolve();
    return new Promise((resolve) => this.haltWaiters.push(resolve));
  }

  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** Stops the VM: everything that runs in it goes; the root filesystem stays. */
  async halt(): Promise<void> {
    if (this.state === "running") this.mark("stop");
    this.state = "stopping";
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const api = this.api;
    this.api = undefined;
    for (const p of this.execs) p.kill("SIGKILL");
    for (const s of this.proxySockets) s.destroy();
    const closing: Array<Promise<unknown>> = [
      ...this.proxies.map((s) => new Promise((res) => s.close(res))),
      new Promise((res) => (this.containerd ? this.containerd.close(res) : res(undefined))),
      this.tools?.close() ?? Promise.resolve(),
      api?.stop() ?? Promise.resolve(),
      ...[...this.execs].map(
        (p) =>
          new Promise((res) =>
            p.exitCode !== null || p.signalCode !== null ? res(undefined) : p.once("close", res),
          ),
      ),
    ];
    const init = this.init;
    if (init && init.exitCode === null && init.signalCode === null) {
      closing.push(new Promise((res) => init.once("exit", res)));
      init.kill("SIGKILL");
    }
    await Promise.all(closing);
    this.proxies = [];
    this.containerd = undefined;
    this.tools = undefined;
    this.init = undefined;
    rmSync(join(this.rootfs, "run/containerd/containerd.sock"), { force: true });
    rmSync(this.toolSock, { force: true });
    for (const [u] of this.units) this.units.set(u, "inactive");
    this.state = "stopped";
    for (const w of this.haltWaiters.splice(0)) w();
  }

  async destroy(): Promise<void> {
    await this.halt();
    this.watcher?.close();
    this.watcher = undefined;
    rmSync(this.rootfs, { recursive: true, force: true });
  }
}

function bootLogText(vm: Vm): string {
  const t = (s: number) => `[    ${s.toFixed(6).padStart(11)}]`;
  return [
    `${t(0)} Booting Linux on physical CPU 0x0000000000 [0x610f0000]`,
    `${t(0)} Linux version 6.18.15 (kata) #1 SMP`,
    `${t(0.01)} Kernel command line: console=hvc0 root=/dev/vda rw`,
    `${t(0.42)} virtio_net virtio1: mtu 1280`,
    `${t(0.61)} EXT4-fs (vda): mounted filesystem`,
    `${t(0.9)} systemd[1]: systemd 252 running in system mode`,
    `${t(0.95)} systemd[1]: Hostname set to <${vm.name}>.`,
    `${t(1.4)} systemd[1]: Starting containerd.service - containerd container runtime...`,
    `${t(1.8)} systemd[1]: Started containerd.service - containerd container runtime.`,
    `${t(1.9)} systemd[1]: Started kubelet.service - kubelet: The Kubernetes Node Agent.`,
    "",
  ].join("\n");
}
