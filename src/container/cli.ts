// The only place that spells a `container` command line or reads its output: flags by CLI version, JSON
// shapes across releases, error texts. Every call is bounded by the table in bounds.ts.
import { realpath } from "node:fs/promises";
import { which } from "@actions/io";
import { CommandError, ScriptStepError, TimeoutError } from "../errors.js";
import { runPipe, runProcess, type ProcessResult } from "../process.js";
import { compareVersions } from "../versions.js";
import { BOUNDS, boundSeconds, type Operation } from "./bounds.js";

/** A failed `container` command: the command line, its exit code and what it said. */
export class ContainerError extends CommandError {
  constructor(
    readonly args: readonly string[],
    code: number,
    stderr: string,
  ) {
    super(["container", ...args], code, stderr);
    this.name = "ContainerError";
  }

  /** The container service is not running or not reachable (XPC). */
  get serviceDown(): boolean {
    return /XPC connection error|container system service has been started/i.test(this.stderr);
  }

  get notFound(): boolean {
    return /not found/i.test(this.stderr);
  }

  /** `-p` asked for a host port something else holds (bind: Address already in use). */
  get portInUse(): boolean {
    return /address already in use/i.test(this.stderr);
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
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

/** Whether the reference names a tag (`repo:tag`, `repo:tag@sha256:…`), not only a digest or nothing. */
function hasTag(ref: string): boolean {
  const name = ref.split("@")[0]!;
  return name.lastIndexOf(":") > name.lastIndexOf("/");
}

/**
 * Whether a listed image is the wanted one. A digest-pinned reference matches only that digest, so a
 * tag that moved on the host is not mistaken for the pinned image. A wanted tag (no tag means `latest`)
 * matches only a listed reference with that tag: a digest-only one (`kindest/node@sha256:…`) says
 * nothing about which tag it is.
 */
export function sameImage(wanted: string, listed: ImageRef): boolean {
  const w = splitImageRef(wanted);
  const l = splitImageRef(listed.ref);
  if (w.repo !== l.repo) return false;
  const digest = l.digest ?? listed.digest;
  if (w.digest) return digest === w.digest;
  return hasTag(listed.ref) && w.tag === l.tag;
}

export interface ContainerState {
  id: string;
  /** running | stopped | stopping | unknown */
  state: string;
  labels: Record<string, string>;
  ipv4: string | undefined;
  /** Prefix length of the address on the VM network (`192.168.64.3/24` → 24). */
  ipv4Prefix: number | undefined;
  mtu: number | undefined;
  /** When the container last started (ISO 8601), where the CLI says. */
  startedDate: string | undefined;
}

/** Normalises the 1.x, 0.8–0.12 and ≤0.7 shapes of `container inspect`/`list --format json` elements. */
export function parseContainerState(raw: unknown): ContainerState {
  const o = (raw ?? {}) as Record<string, unknown>;
  const conf = (o.configuration ?? {}) as Record<string, unknown>;
  const status = o.status;
  let state = "unknown";
  let networks: unknown;
  let started: unknown = o.startedDate;
  if (status && typeof status === "object") {
    const s = status as Record<string, unknown>;
    state = String(s.state ?? "unknown");
    networks = s.networks;
    started = s.startedDate ?? started;
  } else {
    if (typeof status === "string") state = status;
    networks = o.networks;
  }
  let ipv4: string | undefined;
  let ipv4Prefix: number | undefined;
  let mtu: number | undefined;
  for (const n of Array.isArray(networks) ? networks : []) {
    const net = (n ?? {}) as Record<string, unknown>;
    const addr = net.ipv4Address ?? net.address;
    if (typeof addr === "string" && addr) {
      const [ip, prefix] = addr.split("/");
      ipv4 = ip;
      ipv4Prefix = prefix !== undefined && /^\d{1,2}$/.test(prefix) ? Number(prefix) : undefined;
      if (typeof net.mtu === "number") mtu = net.mtu;
      break;
    }
  }
  const labels = (conf.labels ?? o.labels ?? {}) as Record<string, string>;
  return {
    id: String(o.id ?? conf.id ?? ""),
    state,
    labels,
    ipv4,
    ipv4Prefix,
    mtu,
    startedDate: typeof started === "string" ? started : undefined,
  };
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

/** A network of the container runtime: its name and IPv4 subnet (CIDR text). */
export interface VmNetwork {
  id: string;
  subnet: string;
  gateway: string | undefined;
}

/**
 * `container network ls --format json` elements (PrintableNetwork {id, state, config, status}): status
 * {ipv4Subnet, ipv4Gateway} in 1.x, {address, gateway} before; networks without a subnet are skipped.
 * Source: apple/container Sources/CLI/Network/NetworkList.swift and
 * Sources/Services/ContainerNetworkService/NetworkState.swift.
 */
export function parseNetworks(raw: unknown): VmNetwork[] {
  const out: VmNetwork[] = [];
  for (const e of Array.isArray(raw) ? raw : []) {
    const o = (e ?? {}) as Record<string, unknown>;
    const config = (o.config ?? o.configuration ?? {}) as Record<string, unknown>;
    const status = (o.status ?? {}) as Record<string, unknown>;
    const subnet = status.ipv4Subnet ?? status.address ?? config.ipv4Subnet ?? config.subnet;
    const gateway = status.ipv4Gateway ?? status.gateway;
    const id = o.id ?? config.id ?? config.name;
    if (typeof subnet !== "string" || !subnet.includes("/")) continue;
    out.push({
      id: typeof id === "string" ? id : "",
      subnet,
      gateway: typeof gateway === "string" ? gateway : undefined,
    });
  }
  return out;
}

/** What to start the node VM with; `runArgs` spells it for the installed CLI. */
export interface RunSpec {
  name: string;
  image: string;
  cpus: number;
  memoryMiB: number;
  labels: Record<string, string>;
  /**
   * Environment for the VM. Passed as `-e NAME` only: the CLI reads the value from its own environment
   * (apple/container Sources/ContainerClient/Parser.swift, env(envList:)), so no value — a proxy
   * password — is on the command line, in the log or in `ps`.
   */
  env: Record<string, string>;
  /** Ports published on the host: `-p host-ip:host-port:container-port`. */
  publish: Array<{ hostIp: string; hostPort: number; containerPort: number }>;
  /** Every capability and a writable /proc/sys, as far as the CLI version allows. */
  privileged: boolean;
}

/** `container run` arguments for `spec` on CLI `cliVersion`. */
export function runArgs(spec: RunSpec, cliVersion: string): string[] {
  const args = ["run", "-d", "--name", spec.name, "-c", String(spec.cpus), "-m", `${spec.memoryMiB}M`];
  for (const [k, v] of Object.entries(spec.labels)) args.push("-l", `${k}=${v}`);
  if (spec.privileged) {
    // --cap-add exists from 0.12.0; 1.2.0 made /proc/sys read-only and 1.2.1 can lift it.
    if (compareVersions(cliVersion, "0.12.0") >= 0) args.push("--cap-add", "ALL");
    if (compareVersions(cliVersion, "1.2.1") >= 0)
      args.push("--read-only-path", "NONE", "--masked-path", "NONE");
  }
  for (const name of Object.keys(spec.env)) args.push("-e", name);
  for (const p of spec.publish) args.push("-p", `${p.hostIp}:${p.hostPort}:${p.containerPort}`);
  args.push(spec.image);
  return args;
}

interface CallOptions {
  /** The operation's row in the bounds table. */
  op: Operation;
  /** How the error names it, without backticks (default: `container` and the first two arguments). */
  name?: string;
  input?: string | Buffer;
  env?: Record<string, string>;
  echo?: boolean;
  /** The command line to echo instead of the real one. */
  display?: string;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  signal?: AbortSignal;
  maxBuffer?: number;
}

export interface ContainerCliOptions {
  /** The `wait` input, in seconds: the bound on the slow creation stages (bounds.ts). */
  waitSeconds?: number;
  /** Cancels every call in flight (diagnostics bound their sections with it). */
  signal?: AbortSignal;
}

/** The Apple `container` CLI, found through PATH. */
export class ContainerCli {
  readonly bin = "container";

  constructor(private readonly o: ContainerCliOptions = {}) {}

  /** Seconds `op` may take with this job's inputs. */
  boundSeconds(op: Operation): number {
    return boundSeconds(op, this.o);
  }

  private async call(args: string[], c: CallOptions): Promise<RunResult> {
    const seconds = this.boundSeconds(c.op);
    const signal =
      c.signal && this.o.signal ? AbortSignal.any([c.signal, this.o.signal]) : (c.signal ?? this.o.signal);
    const r: ProcessResult = await runProcess(this.bin, args, {
      timeoutMs: seconds * 1000,
      ...(c.input !== undefined ? { input: c.input } : {}),
      ...(c.env ? { env: c.env } : {}),
      ...(signal ? { signal } : {}),
      ...(c.echo ? { echo: true } : {}),
      ...(c.display ? { display: c.display } : {}),
      ...(c.maxBuffer ? { maxBuffer: c.maxBuffer } : {}),
    });
    const name = c.name ?? ["container", ...args.slice(0, 2)].join(" ");
    if (r.timedOut) throw new TimeoutError(`\`${name}\``, seconds, BOUNDS[c.op].fix);
    if (r.cancelled) throw new Error(`\`${name}\` was cancelled`);
    if (r.code !== 0 && !c.allowFailure) throw new ContainerError(args, r.code, r.stderr);
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  /**
   * `container CLI version 1.2.2 (build: …)` → `1.2.2`; undefined only when there is no `container` on
   * PATH. A CLI that exits non-zero or prints no version throws: "did not answer" is not "not
   * installed", and taking it for that would install over a running service.
   */
  async version(): Promise<string | undefined> {
    return this.versionOf(this.bin);
  }

  /** The version of the `container` binary at `bin` (a path, or a name looked up on PATH); as version(). */
  async versionOf(bin: string): Promise<string | undefined> {
    let r: ProcessResult;
    const seconds = this.boundSeconds("version");
    try {
      r = await runProcess(bin, ["--version"], { timeoutMs: seconds * 1000 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined; // not on PATH
      throw err;
    }
    if (r.timedOut) throw new TimeoutError(`\`${bin} --version\``, seconds, BOUNDS.version.fix);
    const v = /version\s+(\d+\.\d+\.\d+)/.exec(r.stdout)?.[1];
    if (r.code === 0 && v) return v;
    const said = (r.stdout + r.stderr).trim().split("\n").slice(-2).join(" | ").slice(0, 300);
    throw new Error(
      `'${bin} --version' ${r.code !== 0 ? `exited ${r.code}` : "printed no version"}${said ? ` (${said})` : ""}, so which ` +
        "container CLI this Mac has is unknown; nothing was installed or stopped. Run 'container --version' on the Mac: " +
        "if it fails, reinstall Apple's CLI (or remove a broken one from PATH), then run the job again",
    );
  }

  /** `container system status` exits 0 only while the service runs. */
  async serviceRunning(): Promise<boolean> {
    const r = await this.call(["system", "status"], { op: "system status", allowFailure: true });
    return r.code === 0;
  }

  /**
   * The service's status in one shape (see parseSystemStatus). A CLI before 0.10.0 has no JSON form:
   * then only `running` is known, from the exit code. A service that does not answer within the bound
   * throws a TimeoutError: a wedged service is not a stopped one.
   */
  async systemStatus(): Promise<SystemStatus> {
    const r = await this.call(["system", "status", "--format", "json"], {
      op: "system status",
      name: "container system status",
      allowFailure: true,
    });
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

  /**
   * The absolute path of the `container` that PATH resolves to, as it will be run, with symlinks
   * resolved (Homebrew links its binaries from its Cellar); undefined when there is none.
   */
  async path(): Promise<string | undefined> {
    const found = await which(this.bin, false);
    return found ? realpath(found).catch(() => found) : undefined;
  }

  /**
   * Starts the service without ever prompting (stdin closed, kernel installed explicitly elsewhere);
   * `--timeout` is the CLI's own wait for the apiserver.
   */
  async startService(): Promise<void> {
    await this.call(["system", "start", "--disable-kernel-install", "--timeout", "30"], {
      op: "system start",
      echo: true,
      input: "",
    });
  }

  /** Stops every container of this user and the launchd services. */
  async stopService(): Promise<void> {
    await this.call(["system", "stop"], { op: "system stop", echo: true });
  }

  /** Makes the kernel the CLI recommends for its version the default, downloading it. */
  async setRecommendedKernel(): Promise<void> {
    await this.call(["system", "kernel", "set", "--recommended", "--force"], {
      op: "kernel set --recommended",
      name: "container system kernel set --recommended",
      echo: true,
    });
  }

  /** Installs a kernel file as the default; it is copied to `<appRoot>/kernels/<basename>`. */
  async setKernelBinary(file: string): Promise<void> {
    await this.call(["system", "kernel", "set", "--binary", file, "--force"], {
      op: "kernel set --binary",
      name: "container system kernel set --binary",
      echo: true,
    });
  }

  /**
   * The runtime's networks from `container network ls --format json`; undefined where there is no such
   * listing (macOS 15, older CLIs) or it says nothing usable.
   */
  async networks(): Promise<VmNetwork[] | undefined> {
    const r = await this.call(["network", "ls", "--format", "json"], {
      op: "network ls",
      allowFailure: true,
    });
    if (r.code !== 0) return undefined;
    try {
      const list = parseNetworks(JSON.parse(r.stdout));
      return list.length ? list : undefined;
    } catch {
      return undefined;
    }
  }

  async imagePull(ref: string): Promise<void> {
    await this.call(["image", "pull", ref], { op: "image pull", echo: true });
  }

  /** Writes an OCI archive of the image to `file`. */
  async imageSave(ref: string, file: string): Promise<void> {
    await this.call(["image", "save", "-o", file, ref], { op: "image save", echo: true });
  }

  async imageLoad(file: string): Promise<void> {
    await this.call(["image", "load", "-i", file], { op: "image load", echo: true });
  }

  /** Host images: their references and, where `image ls` shows it, the index digest. */
  async images(): Promise<ImageRef[]> {
    const r = await this.call(["image", "ls", "--format", "json"], { op: "image ls" });
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

  /** Starts a detached container (`container run -d`); the env values travel in the CLI's environment. */
  async run(spec: RunSpec, cliVersion: string): Promise<void> {
    await this.call(runArgs(spec, cliVersion), {
      op: "run",
      // The node's name: with workers, several `run`s are in flight at once.
      name: `container run --name ${spec.name}`,
      env: spec.env,
      echo: true,
    });
  }

  /** The container's state, or undefined when there is none of that name. */
  async inspect(name: string): Promise<ContainerState | undefined> {
    const r = await this.call(["inspect", name], { op: "inspect", allowFailure: true });
    if (r.code !== 0) {
      if (/not found/i.test(r.stderr)) return undefined;
      throw new ContainerError(["inspect", name], r.code, r.stderr);
    }
    const arr = JSON.parse(r.stdout) as unknown[];
    return arr.length ? parseContainerState(arr[0]) : undefined;
  }

  /** Every container of this user, stopped ones too. */
  async list(): Promise<ContainerState[]> {
    const r = await this.call(["list", "--all", "--format", "json"], { op: "list" });
    return (JSON.parse(r.stdout || "[]") as unknown[]).map(parseContainerState);
  }

  /**
   * Containers that run now; none when the service is down (nothing can run then). Throws a
   * ContainerError on any other failure, or a TimeoutError when the service does not answer.
   */
  async running(): Promise<ContainerState[]> {
    const args = ["list", "--format", "json"];
    const r = await this.call(args, { op: "list", allowFailure: true });
    if (r.code !== 0) {
      const err = new ContainerError(args, r.code, r.stderr);
      if (err.serviceDown) return [];
      throw err;
    }
    return (JSON.parse(r.stdout || "[]") as unknown[])
      .map(parseContainerState)
      .filter((s) => s.state === "running");
  }

  /**
   * Deletes the container at once (`delete --force`: a CI node holds nothing worth a graceful stop).
   * Returns false when there was none of that name.
   */
  async remove(name: string): Promise<boolean> {
    const args = ["delete", "--force", name];
    const r = await this.call(args, {
      op: "delete",
      name: `container delete --force ${name}`,
      echo: true,
      allowFailure: true,
    });
    if (r.code === 0) return true;
    if (/not found/i.test(r.stderr)) return false;
    throw new ContainerError(args, r.code, r.stderr);
  }

  /** Text for diagnostics: what the command printed, or why it could not. */
  private async text(args: string[], op: Operation, signal?: AbortSignal): Promise<string> {
    const r = await this.call(args, { op, allowFailure: true, ...(signal ? { signal } : {}) });
    return r.stdout + (r.code !== 0 ? `\n(exit ${r.code}) ${r.stderr}` : r.stderr);
  }

  /** `container list --all` as the CLI's table. */
  listText(signal?: AbortSignal): Promise<string> {
    return this.text(["list", "--all"], "list", signal);
  }

  /** `container inspect NAME` as the CLI prints it (JSON). */
  inspectText(name: string, signal?: AbortSignal): Promise<string> {
    return this.text(["inspect", name], "inspect", signal);
  }

  /** The container's console output (`--boot`: the VM's boot log), the last `lines` lines. */
  logs(name: string, o: { boot?: boolean; lines?: number; signal?: AbortSignal } = {}): Promise<string> {
    const args = ["logs", ...(o.boot ? ["--boot"] : []), ...(o.lines ? ["-n", String(o.lines)] : []), name];
    return this.text(args, "logs", o.signal);
  }

  /** A systemd unit's journal in the node. */
  journal(node: string, unit: string, lines: number, signal?: AbortSignal): Promise<string> {
    return this.text(
      ["exec", node, "journalctl", "-u", unit, "--no-pager", "-n", String(lines)],
      "exec",
      signal,
    );
  }

  /**
   * Runs argv in the node (`container exec`; `-i` when there is input). The bound is `op`'s: plain
   * `exec` unless the command is one of the table's long ones. Errors name the node and `command`
   * (default: argv's first two words; a wrapper such as `sh -c` should name what it wraps).
   */
  async exec(
    node: string,
    argv: string[],
    o: Omit<CallOptions, "op" | "name"> & { op?: Operation; command?: string } = {},
  ): Promise<RunResult> {
    const args = ["exec", ...(o.input !== undefined ? ["-i"] : []), node, ...argv];
    const { op = "exec", command = argv.slice(0, 2).join(" "), ...rest } = o;
    return this.call(args, { ...rest, op, name: `container exec ${node} ${command}` });
  }

  /** Runs a shell script in the node. */
  async sh(
    node: string,
    script: string,
    o: Omit<CallOptions, "op" | "name"> & { op?: Operation; command?: string } = {},
  ): Promise<RunResult> {
    return this.exec(node, ["sh", "-c", script], o);
  }

  /**
   * Runs `steps` in the node as one shell script (one round trip) that stops at the first failing step.
   * A failure names that step, its exit code and its own output, not the whole script.
   */
  async script(
    node: string,
    steps: string[],
    o: { op: Operation; what: string; echo?: boolean },
  ): Promise<void> {
    const total = steps.length;
    const marker = (i: number) => `[kina step ${i}/${total}]`;
    const script = [
      "set -e",
      "exec 2>&1",
      ...steps.flatMap((s, i) => [`printf '%s\\n' ${shQuote(`${marker(i + 1)} ${s.split("\n")[0]}`)}`, s]),
    ].join("\n");
    const display = `container exec ${node} sh -c '<${o.what}: ${total} steps>'`;
    const r = await this.exec(node, ["sh", "-c", script], {
      op: o.op,
      command: `sh -c '<${o.what}>'`,
      allowFailure: true,
      display,
      ...(o.echo ? { echo: true } : {}),
    });
    if (r.code === 0) return;
    const out = r.stdout + r.stderr;
    let index = 0;
    let at = 0;
    for (let i = total; i >= 1; i--) {
      const pos = out.lastIndexOf(`${marker(i)} `);
      if (pos >= 0) {
        index = i;
        at = out.indexOf("\n", pos) + 1;
        break;
      }
    }
    const command = ["container", "exec", node, "sh", "-c", `<${o.what}>`];
    if (!index) throw new ContainerError(["exec", node, "sh", "-c", `<${o.what}>`], r.code, out);
    throw new ScriptStepError(command, steps[index - 1]!, index, total, r.code, at > 0 ? out.slice(at) : "");
  }

  /**
   * Writes a file in the node by streaming it through `exec -i` (`cp` ignores tmpfs targets), atomically
   * (temporary file, then rename); `then` runs in the same exec afterwards, saving a round trip.
   */
  async writeFile(
    node: string,
    path: string,
    content: string,
    o: { mode?: string; then?: string; echo?: boolean } = {},
  ): Promise<void> {
    const dir = path.slice(0, path.lastIndexOf("/")) || "/";
    const write = `mkdir -p '${dir}' && cat > '${path}.tmp' && chmod ${o.mode ?? "0644"} '${path}.tmp' && mv '${path}.tmp' '${path}'`;
    await this.sh(node, o.then ? `${write} && ${o.then}` : write, {
      command: `sh -c '<write ${path}>'`,
      input: content,
      ...(o.echo ? { echo: true } : {}),
    });
  }

  /** A file of the node, at most `maxBytes` of it (what comes out of the node is untrusted). */
  async readFile(node: string, path: string, maxBytes = 1024 * 1024): Promise<string> {
    const r = await this.exec(node, ["cat", path], { maxBuffer: maxBytes + 1 });
    if (Buffer.byteLength(r.stdout) > maxBytes)
      throw new Error(`${path} in ${node} is larger than ${maxBytes} bytes`);
    return r.stdout;
  }

  /** `container image save REF | container exec -i NODE argv…`, streamed without a temporary file. */
  async pipeImageInto(ref: string, node: string, argv: string[]): Promise<void> {
    const save = ["image", "save", ref];
    const load = ["exec", "-i", node, ...argv];
    const seconds = this.boundSeconds("image import");
    const [s, l] = await runPipe(
      { cmd: this.bin, args: save },
      { cmd: this.bin, args: load },
      { timeoutMs: seconds * 1000, echo: true, ...(this.o.signal ? { signal: this.o.signal } : {}) },
    );
    if (s.timedOut || l.timedOut)
      throw new TimeoutError(
        `\`container image save ${ref} | container exec -i ${node} ${argv.slice(0, 2).join(" ")}\``,
        seconds,
        BOUNDS["image import"].fix,
      );
    if (l.code !== 0) throw new ContainerError(load, l.code, l.stderr);
    if (s.code !== 0) throw new ContainerError(save, s.code, s.stderr);
  }
}

/** Single-quotes `s` for sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
