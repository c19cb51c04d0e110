import { spawn } from "node:child_process";
import { realpath } from "node:fs/promises";
import * as core from "@actions/core";
import { getExecOutput } from "@actions/exec";
import { which } from "@actions/io";

/** A failed `container` command: the command line, its exit code and what it said. */
export class ContainerError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly code: number,
    readonly stderr: string,
  ) {
    const said = stderr.trim().split("\n").slice(-3).join(" | ");
    super(`'container ${args.join(" ")}' exited ${code}${said ? `: ${said}` : ""}`);
    this.name = "ContainerError";
  }

  get serviceDown(): boolean {
    return /XPC connection error|container system service has been started/i.test(this.stderr);
  }

  get notFound(): boolean {
    return /not found/i.test(this.stderr);
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface BoundedResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface CallOptions {
  /** Kill the call after this long (no input or env then): for cleanup that must end. */
  timeoutMs?: number;
  input?: Buffer | string;
  /** Print the command line and its output in the log. */
  show?: boolean;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  env?: Record<string, string>;
}

export interface ImageRef {
  ref: string;
  digest: string | undefined;
}

/** `docker.io/library/nginx:1.27@sha256:…` → repository, tag and digest, with Docker Hub's defaults. */
export function splitImageRef(ref: string): { repo: string; tag: string; digest: string | undefined } {
  const at = ref.indexOf("@");
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  let name = at >= 0 ? ref.slice(0, at) : ref;
  let tag = "latest";
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/")) [name, tag] = [name.slice(0, colon), name.slice(colon + 1)];
  const first = name.split("/")[0]!;
  if (!name.includes("/")) name = `docker.io/library/${name}`;
  else if (!/[.:]/.test(first) && first !== "localhost") name = `docker.io/${name}`;
  return { repo: name, tag, digest };
}

/**
 * Whether a listed image is the wanted one. A digest-pinned reference matches only that digest, so a
 * tag that moved on the host is not mistaken for the pinned image.
 */
export function sameImage(wanted: string, listed: ImageRef): boolean {
  const w = splitImageRef(wanted);
  const l = splitImageRef(listed.ref);
  if (w.repo !== l.repo) return false;
  const digest = l.digest ?? listed.digest;
  if (w.digest) return digest === w.digest;
  return w.tag === l.tag;
}

export interface ContainerState {
  id: string;
  /** running | stopped | stopping | unknown */
  state: string;
  labels: Record<string, string>;
  ipv4: string | undefined;
  mtu: number | undefined;
}

/** Normalises the 1.x, 0.8–0.12 and ≤0.7 shapes of `container inspect`/`list --format json` elements. */
export function parseContainerState(raw: unknown): ContainerState {
  const o = (raw ?? {}) as Record<string, unknown>;
  const conf = (o.configuration ?? {}) as Record<string, unknown>;
  const status = o.status;
  let state = "unknown";
  let networks: unknown;
  if (status && typeof status === "object") {
    const s = status as Record<string, unknown>;
    state = String(s.state ?? "unknown");
    networks = s.networks;
  } else {
    if (typeof status === "string") state = status;
    networks = o.networks;
  }
  let ipv4: string | undefined;
  let mtu: number | undefined;
  for (const n of Array.isArray(networks) ? networks : []) {
    const net = (n ?? {}) as Record<string, unknown>;
    const addr = net.ipv4Address ?? net.address;
    if (typeof addr === "string" && addr) {
      ipv4 = addr.split("/")[0];
      if (typeof net.mtu === "number") mtu = net.mtu;
      break;
    }
  }
  const labels = (conf.labels ?? o.labels ?? {}) as Record<string, string>;
  return { id: String(o.id ?? conf.id ?? ""), state, labels, ipv4, mtu };
}

/** `container system status --format json`, one shape for every release that has it. */
export interface SystemStatus {
  /** `running`, `not running`, `unregistered`, … as the CLI says it. */
  status: string;
  running: boolean;
  /** Where images, containers and kernels live (no trailing slash). */
  appRoot: string | undefined;
  installRoot: string | undefined;
  /** The CLI that answered (1.4.1+ reports it; undefined before). */
  clientVersion: string | undefined;
  /** The container-apiserver that runs; differs from the CLI after a `.pkg` upgrade without a stop. */
  serverVersion: string | undefined;
  /** Containers that run right now (1.4.1+ only). */
  containersRunning: number | undefined;
}

const versionIn = (v: unknown) => (typeof v === "string" ? /(\d+\.\d+\.\d+)/.exec(v)?.[1] : undefined);
const nonEmpty = (v: unknown) => (typeof v === "string" && v !== "" ? v.replace(/\/+$/, "") : undefined);

/**
 * Normalises both JSON shapes of `container system status --format json` (the nested one arrived
 * with 1.4.1: https://github.com/apple/container/releases/tag/1.4.1):
 * - 0.10.0–1.3.x, flat: `{status, appRoot, installRoot, logRoot, apiServerVersion: "container-apiserver
 *   version 1.3.1 (build: …)", …}`, the same keys with empty values when the service is down;
 * - 1.4.1+, nested: `{status, client: {version, …}, server: {version, …}, paths: {appRoot, installRoot},
 *   resources: {containersRunning, …}, host: {…}}`; only `{status}` when it is down.
 * Anything else (not an object) gives status `unknown`, not running.
 */
export function parseSystemStatus(raw: unknown): SystemStatus {
  const o = raw && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
  const sub = (k: string) =>
    o[k] && typeof o[k] === "object" ? (o[k] as Record<string, unknown>) : ({} as Record<string, unknown>);
  const status = typeof o.status === "string" ? o.status : "unknown";
  const running = sub("resources").containersRunning;
  return {
    status,
    running: status === "running",
    appRoot: nonEmpty(sub("paths").appRoot ?? o.appRoot),
    installRoot: nonEmpty(sub("paths").installRoot ?? o.installRoot),
    clientVersion: versionIn(sub("client").version),
    serverVersion: versionIn(sub("server").version ?? o.apiServerVersion),
    containersRunning: typeof running === "number" ? running : undefined,
  };
}

/** Bound on a query of the service (status, list): they answer at once unless it is wedged. */
const QUERY_TIMEOUT_MS = 30_000;

/** The only place that knows the Apple `container` CLI: its flags, JSON shapes and errors. */
export class ContainerCli {
  constructor(readonly bin = "container") {}

  async call(args: string[], opts: CallOptions = {}): Promise<RunResult> {
    let r: RunResult;
    if (opts.timeoutMs !== undefined) {
      r = await this.callWithin(args, opts.timeoutMs, { show: opts.show });
    } else {
      // Not silent: @actions/exec echoes the command line and streams its output.
      const e = await getExecOutput(this.bin, args, {
        silent: !opts.show,
        ignoreReturnCode: true,
        ...(opts.input !== undefined ? { input: Buffer.from(opts.input) } : {}),
        ...(opts.env ? { env: { ...(process.env as Record<string, string>), ...opts.env } } : {}),
      });
      r = { code: e.exitCode, stdout: e.stdout, stderr: e.stderr };
    }
    if (r.code !== 0 && !opts.allowFailure) throw new ContainerError(args, r.code, r.stderr);
    return r;
  }

  /**
   * A call killed after `ms`. `call` cannot be aborted (@actions/exec has no signal), and cleanup and
   * diagnostics must end even when the container service is wedged.
   */
  callWithin(
    args: string[],
    ms: number,
    o: { show?: boolean; signal?: AbortSignal } = {},
  ): Promise<BoundedResult> {
    if (o.show) core.info(`[command]container ${args.join(" ")}`);
    return new Promise((resolve, reject) => {
      const p = spawn(this.bin, args, { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      let timedOut = false;
      p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const kill = () => p.kill("SIGKILL");
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, ms);
      o.signal?.addEventListener("abort", kill, { once: true });
      const settle = () => {
        clearTimeout(timer);
        o.signal?.removeEventListener("abort", kill);
      };
      p.on("error", (err) => {
        settle();
        reject(err);
      });
      p.on("close", (code) => {
        settle();
        if (timedOut)
          stderr += `${stderr && !stderr.endsWith("\n") ? "\n" : ""}(no answer within ${ms / 1000}s; killed)`;
        if (o.show && (stdout + stderr).trim()) core.info((stdout + stderr).trimEnd());
        resolve({ code: timedOut ? -1 : (code ?? -1), stdout, stderr, timedOut });
      });
    });
  }

  /** `container CLI version 1.2.2 (build: …)` → `1.2.2`; undefined when the CLI is missing. */
  async version(): Promise<string | undefined> {
    try {
      const r = await this.call(["--version"], { allowFailure: true });
      return /version\s+(\d+\.\d+\.\d+)/.exec(r.stdout)?.[1];
    } catch {
      return undefined; // not on PATH
    }
  }

  /**
   * The absolute path of the `container` that PATH resolves to, as @actions/exec will run it, with
   * symlinks resolved (Homebrew links its binaries from its Cellar); undefined when there is none.
   */
  async path(): Promise<string | undefined> {
    const found = await which(this.bin, false);
    return found ? realpath(found).catch(() => found) : undefined;
  }

  async serviceRunning(): Promise<boolean> {
    return (await this.call(["system", "status"], { allowFailure: true })).code === 0;
  }

  /**
   * The service's status in one shape (see parseSystemStatus). A CLI before 0.10.0 has no JSON form:
   * then only `running` is known, from the exit code. Throws a ContainerError when the CLI does not
   * answer within `timeoutMs` (default 30 s): a wedged service is not a stopped one.
   */
  async systemStatus(o: Pick<CallOptions, "timeoutMs"> = {}): Promise<SystemStatus> {
    const args = ["system", "status", "--format", "json"];
    const r = await this.callWithin(args, o.timeoutMs ?? QUERY_TIMEOUT_MS);
    if (r.timedOut) throw new ContainerError(args, r.code, r.stderr);
    try {
      return parseSystemStatus(JSON.parse(r.stdout));
    } catch {
      return {
        ...parseSystemStatus({}),
        status: r.code === 0 ? "running" : "not running",
        running: r.code === 0,
      };
    }
  }

  async inspect(name: string, o: Pick<CallOptions, "timeoutMs"> = {}): Promise<ContainerState | undefined> {
    const r = await this.call(["inspect", name], { ...o, allowFailure: true });
    if (r.code !== 0) {
      if (/not found/i.test(r.stderr)) return undefined;
      throw new ContainerError(["inspect", name], r.code, r.stderr);
    }
    const arr = JSON.parse(r.stdout) as unknown[];
    return arr.length ? parseContainerState(arr[0]) : undefined;
  }

  async list(o: Pick<CallOptions, "timeoutMs"> = {}): Promise<ContainerState[]> {
    const r = await this.call(["list", "--all", "--format", "json"], o);
    return (JSON.parse(r.stdout || "[]") as unknown[]).map(parseContainerState);
  }

  /**
   * Containers that run now; none when the service is down (nothing can run then). Throws a
   * ContainerError on any other failure, or no answer within `timeoutMs` (default 30 s).
   */
  async running(o: Pick<CallOptions, "timeoutMs"> = {}): Promise<ContainerState[]> {
    const args = ["list", "--format", "json"];
    const r = await this.callWithin(args, o.timeoutMs ?? QUERY_TIMEOUT_MS);
    if (r.code !== 0) {
      const err = new ContainerError(args, r.code, r.stderr);
      if (!r.timedOut && err.serviceDown) return [];
      throw err;
    }
    return (JSON.parse(r.stdout || "[]") as unknown[])
      .map(parseContainerState)
      .filter((s) => s.state === "running");
  }

  async exec(name: string, argv: string[], opts: CallOptions = {}): Promise<RunResult> {
    return this.call(["exec", ...(opts.input !== undefined ? ["-i"] : []), name, ...argv], opts);
  }

  /** Runs a shell script in the node. */
  async sh(name: string, script: string, opts: CallOptions = {}): Promise<RunResult> {
    return this.exec(name, ["sh", "-c", script], opts);
  }

  /** Writes a file in the node by streaming it through `exec -i` (`cp` ignores tmpfs targets). */
  /**
   * Writes a file in the node by streaming it through `exec -i` (`cp` ignores tmpfs targets), atomically
   * (temporary file, then rename); `then` runs in the same exec afterwards, saving a round trip.
   */
  async writeFile(
    name: string,
    path: string,
    content: string,
    o: { mode?: string; then?: string; show?: boolean } = {},
  ): Promise<void> {
    const dir = path.slice(0, path.lastIndexOf("/")) || "/";
    const write = `mkdir -p '${dir}' && cat > '${path}.tmp' && chmod ${o.mode ?? "0644"} '${path}.tmp' && mv '${path}.tmp' '${path}'`;
    await this.sh(name, o.then ? `${write} && ${o.then}` : write, { input: content, show: o.show });
  }

  async readFile(name: string, path: string): Promise<string> {
    return (await this.exec(name, ["cat", path])).stdout;
  }

  /** Stops every container and the launchd services (before upgrading the CLI). */
  /** Starts the service without ever prompting: the kernel is installed explicitly elsewhere. */
  async startService(o: Pick<CallOptions, "timeoutMs"> = {}): Promise<void> {
    await this.call(["system", "start", "--disable-kernel-install", "--timeout", "60"], {
      ...o,
      show: true,
      input: "",
    });
  }

  async stopService(o: Pick<CallOptions, "timeoutMs"> = {}): Promise<void> {
    await this.call(["system", "stop"], { ...o, show: true });
  }

  /** Makes the kernel the CLI recommends for its version the default, downloading it. */
  async setRecommendedKernel(): Promise<void> {
    await this.call(["system", "kernel", "set", "--recommended", "--force"], { show: true });
  }

  /** Installs a kernel file as the default; it is copied to `<appRoot>/kernels/<basename>`. */
  async setKernelBinary(file: string): Promise<void> {
    await this.call(["system", "kernel", "set", "--binary", file, "--force"], { show: true });
  }

  async imagePull(ref: string): Promise<void> {
    await this.call(["image", "pull", ref], { show: true });
  }

  /** Writes an OCI archive of the image to `file`. */
  async imageSave(ref: string, file: string): Promise<void> {
    await this.call(["image", "save", "-o", file, ref], { show: true });
  }

  async imageLoad(file: string): Promise<void> {
    await this.call(["image", "load", "-i", file], { show: true });
  }

  /** Host images: their references and, where `image ls` shows it, the index digest. */
  async images(): Promise<ImageRef[]> {
    const r = await this.call(["image", "ls", "--format", "json"]);
    const out: ImageRef[] = [];
    for (const raw of JSON.parse(r.stdout || "[]") as Array<Record<string, unknown>>) {
      // ≤0.x: {reference, descriptor}; 1.x: {id, configuration: {name, descriptor}, variants}.
      const conf = raw.configuration as Record<string, unknown> | undefined;
      const ref = raw.reference ?? conf?.reference ?? conf?.name ?? raw.name;
      const descriptor = (conf?.descriptor ?? raw.descriptor) as { digest?: unknown } | undefined;
      if (typeof ref !== "string") continue;
      out.push({ ref, digest: typeof descriptor?.digest === "string" ? descriptor.digest : undefined });
    }
    return out;
  }

  /** `container image save REF | container exec -i NODE …`, streamed without a temporary file. */
  async pipeImageInto(ref: string, node: string, argv: string[]): Promise<void> {
    const save = spawn(this.bin, ["image", "save", ref], { stdio: ["ignore", "pipe", "pipe"] });
    const load = spawn(this.bin, ["exec", "-i", node, ...argv], { stdio: ["pipe", "pipe", "pipe"] });
    save.stdout.pipe(load.stdin);
    const collect = (p: ReturnType<typeof spawn>) =>
      new Promise<RunResult>((resolve, reject) => {
        let stdout = "";
        let stderr = "";
        p.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
        p.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
        p.on("error", reject);
        p.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
      });
    const [s, l] = await Promise.all([collect(save), collect(load)]);
    if (s.code !== 0) throw new ContainerError(["image", "save", ref], s.code, s.stderr);
    if (l.code !== 0) throw new ContainerError(["exec", "-i", node, ...argv], l.code, l.stderr);
  }
}
