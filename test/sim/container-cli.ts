// The `container` CLI (apple/container 1.x behaviour; error texts and exit codes as the real one prints).
import { randomUUID } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, join, resolve as resolvePath } from "node:path";
import { spawnSync } from "node:child_process";
import { Exit, UsageError, list, parseArgs, str, type OptSpec } from "./args.ts";
import { cliError, cliErrorCause, readAll, readLine, usageError, type Ctx } from "./ctx.ts";
import {
  decodeArchive,
  displayRef,
  encodeArchive,
  KERNEL_TARBALL_BYTES,
  type ImageRecord,
} from "./images.ts";
import { cmpVersion, type PublishPort, type Vm, type VmSpec } from "./vm.ts";

export const CLI_COMMIT = "0190097";

/** The recommended kernel of a CLI version (its `[kernel]` defaults at each release). */
export function recommendedKernel(version: string): {
  kata: string;
  tarball: string;
  file: string;
  url: string;
} {
  const k =
    cmpVersion(version, "1.3.0") >= 0
      ? { kata: "3.32.0", tarball: "kata-static-3.32.0-arm64.tar.zst", file: "vmlinux-6.18.35-197-debug" }
      : cmpVersion(version, "0.12.0") >= 0
        ? { kata: "3.28.0", tarball: "kata-static-3.28.0-arm64.tar.zst", file: "vmlinux-6.18.15-186" }
        : cmpVersion(version, "0.9.0") >= 0
          ? { kata: "3.26.0", tarball: "kata-static-3.26.0-arm64.tar.zst", file: "vmlinux-6.18.5-177" }
          : { kata: "3.17.0", tarball: "kata-static-3.17.0-arm64.tar.xz", file: "vmlinux-6.12.28-153" };
  return {
    ...k,
    url: `https://github.com/kata-containers/kata-containers/releases/download/${k.kata}/${k.tarball}`,
  };
}

const XPC_DOWN =
  'Error: interrupted: "XPC connection error: Connection invalid\nEnsure container system service has been started with `container system start`."\n';

const jsonOut = (v: unknown, pretty = false) => JSON.stringify(v, null, pretty ? 2 : undefined) + "\n";

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2)))
          .join("")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

function parse(ctx: Ctx, argv: string[], spec: OptSpec[], usage: string, passthroughAfter?: number) {
  try {
    return parseArgs(argv, spec, passthroughAfter);
  } catch (e) {
    if (e instanceof UsageError) throw usageError(e.message, usage);
    throw e;
  }
}

function requireService(ctx: Ctx): void {
  if (!ctx.sim.serviceRunning) throw new Exit(1, XPC_DOWN);
  // The API server runs as the user; root's requests are refused.
  if (ctx.sudo)
    throw new Exit(1, "Error: unauthorized request - uid mismatch [client_euid=0] [server_euid=501]\n");
}

/**
 * The version of the `container` binary that was called: Apple's installed one, or another package
 * manager's earlier on PATH (option shadowingCli; its wrapper says which version it is).
 */
export function clientVersion(ctx: Ctx): string {
  return ctx.env.KINA_SIM_CLIENT_VERSION ?? ctx.sim.installedVersion ?? "0.0.0";
}

function atLeast(ctx: Ctx, version: string, what: string, usage: string): void {
  if (cmpVersion(clientVersion(ctx), version) < 0) throw usageError(`Unknown option '${what}'`, usage);
}

export async function containerCli(ctx: Ctx): Promise<number> {
  const [cmd, ...rest] = ctx.argv;
  const v = clientVersion(ctx);
  switch (cmd) {
    case "--version":
      ctx.out(`container CLI version ${v} (build: release, commit: ${CLI_COMMIT})\n`);
      return 0;
    case undefined:
    case "--help":
    case "-h":
    case "help":
      ctx.out("OVERVIEW: A container platform for macOS\n\nUSAGE: container [--debug] <subcommand>\n");
      return 0;
    case "system":
      return system(ctx, rest);
    case "run":
      return run(ctx, rest);
    case "inspect":
      return inspect(ctx, rest);
    case "list":
    case "ls":
      return listCmd(ctx, rest);
    case "stop":
    case "kill":
      return stopOrKill(ctx, cmd, rest);
    case "delete":
    case "rm":
      return deleteCmd(ctx, rest);
    case "start":
      return start(ctx, rest);
    case "exec":
      return exec(ctx, rest);
    case "logs":
      return logs(ctx, rest);
    case "cp":
    case "copy":
      return cp(ctx, rest);
    case "image":
    case "images":
    case "i":
      return image(ctx, rest);
    case "network":
    case "n":
      return network(ctx, rest);
    default:
      throw usageError(`Unexpected argument '${cmd}'`, "container <subcommand>");
  }
}

// ---------------------------------------------------------------- system

async function system(ctx: Ctx, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "start":
      return systemStart(ctx, rest);
    case "stop":
      return systemStop(ctx, rest);
    case "status":
      return systemStatus(ctx, rest);
    case "version":
      return systemVersion(ctx, rest);
    case "kernel":
      if (rest[0] !== "set")
        throw usageError(`Unexpected argument '${rest[0] ?? ""}'`, "container system kernel <subcommand>");
      return kernelSet(ctx, rest.slice(1));
    case "logs":
      requireService(ctx);
      ctx.out("");
      return 0;
    default:
      throw usageError(`Unexpected argument '${sub ?? ""}'`, "container system <subcommand>");
  }
}

function defaultKernelPath(appRoot: string): string {
  return join(appRoot, "kernels", "default.kernel-arm64");
}

export function kernelInstalled(appRoot: string): boolean {
  return existsSync(defaultKernelPath(appRoot)); // follows the symlink
}

/** Puts a kernel file into <appRoot>/kernels and points default.kernel-arm64 at it. */
export function installKernelFile(
  appRoot: string,
  file: string,
  content: Buffer | string,
  force: boolean,
): void {
  const dir = join(appRoot, "kernels");
  mkdirSync(dir, { recursive: true });
  const target = join(dir, file);
  if (existsSync(target) && !force)
    throw cliError("exists", `kernel ${target} already exists, use --force to overwrite`);
  writeFileSync(target, content);
  const link = defaultKernelPath(appRoot);
  rmSync(link, { force: true });
  symlinkSync(target, link);
}

async function downloadRecommendedKernel(ctx: Ctx, force: boolean): Promise<void> {
  const k = recommendedKernel(clientVersion(ctx));
  await ctx.sim.sleep(ctx.sim.latency.kernelDownloadMs, ctx.signal);
  ctx.sim.counters.kernelDownloads++;
  ctx.sim.counters.bytesDownloaded += KERNEL_TARBALL_BYTES;
  installKernelFile(ctx.sim.appRoot, k.file, `kina-sim kernel ${k.file} from ${k.url}\n`, force);
}

async function systemStart(ctx: Ctx, argv: string[]): Promise<number> {
  const usage =
    "container system start [--app-root <app-root>] [--install-root <install-root>] [--log-root <log-root>] [--enable-kernel-install] [--disable-kernel-install] [--timeout <timeout>] [--debug]";
  const p = parse(
    ctx,
    argv,
    [
      { names: ["-a", "--app-root"], key: "appRoot", value: true },
      { names: ["--install-root"], key: "installRoot", value: true },
      { names: ["--log-root"], key: "logRoot", value: true },
      { names: ["--enable-kernel-install"], key: "enable" },
      { names: ["--disable-kernel-install"], key: "disable" },
      { names: ["--timeout"], key: "timeout", value: true },
    ],
    usage,
  );
  if (p.positionals.length) throw usageError(`Unexpected argument '${p.positionals[0]}'`, usage);
  const timeout = str(p.opts.timeout);
  if (timeout !== undefined && !Number.isFinite(Number(timeout)))
    throw usageError(`Invalid timeout value: ${timeout}`, usage);
  if (ctx.sudo) {
    // Under sudo the launchd job lands in root's domain and the user's apiserver never answers.
    await ctx.sim.sleep(Math.min(Number(timeout ?? 1) * 1000, 1000), ctx.signal);
    throw cliError(
      "internalError",
      'failed to get a response from apiserver: internalError: "XPC timeout for request to com.apple.container.apiserver/ping"',
    );
  }
  const appRoot = str(p.opts.appRoot)
    ? resolvePath(ctx.cwd, str(p.opts.appRoot)!)
    : ctx.sim.defaultAppRoot(ctx.env);
  const session = ctx.sim.opts.launchdSession ?? "Aqua";
  if (!ctx.sim.serviceRunning && session !== "Aqua" && !(ctx.sim.opts.guiLogin ?? false)) {
    // No GUI login session for the user: launchctl bootstrap fails, the CLI ignores that and then
    // cannot reach the apiserver, and advises the very command that failed (apple/container#2008).
    ctx.out("Launching container-apiserver...\nTesting access to container-apiserver...\n");
    throw new Exit(
      1,
      'Error: internalError: "failed to get a response from apiserver: interrupted: "XPC connection error: Connection invalid""\n' +
        "Ensure container system service has been started with `container system start`.\n",
    );
  }
  if (!ctx.sim.serviceRunning) {
    await ctx.sim.sleep(ctx.sim.latency.serviceStartMs, ctx.signal);
    mkdirSync(join(appRoot, "apiserver"), { recursive: true });
    ctx.sim.appRoot = appRoot;
    ctx.sim.serviceRunning = true;
    ctx.sim.serviceRegistered = true;
    // launchd runs the installed container-apiserver, whichever client asked.
    ctx.sim.serverVersion = ctx.sim.installedVersion ?? clientVersion(ctx);
  }
  if (kernelInstalled(ctx.sim.appRoot)) return 0;
  let install: boolean;
  if (p.opts.enable) install = true;
  else if (p.opts.disable) install = false;
  else {
    const k = recommendedKernel(clientVersion(ctx));
    ctx.out(`Install the recommended default kernel from [${k.url}]? [Y/n]: `);
    const answer = await readLine(ctx.stdin());
    if (answer === undefined) throw cliError("internalError", "failed to read user input");
    install = answer.trim().toLowerCase() === "y" || answer.trim() === "";
    if (!install) {
      ctx.out(
        "Please use the `container system kernel set --recommended` command to configure the default kernel\n",
      );
      return 0;
    }
  }
  if (install) await downloadRecommendedKernel(ctx, true);
  return 0;
}

async function systemStop(ctx: Ctx, _argv: string[]): Promise<number> {
  const ts = () => new Date().toISOString();
  ctx.out(`${ts()} info com.apple.container.cli : checking if APIServer is alive\n`);
  if (ctx.sim.serviceRunning) {
    ctx.out(`${ts()} info com.apple.container.cli : stopping containers\n`);
    for (const vm of ctx.sim.vms.values()) if (vm.state === "running") await vm.halt();
    ctx.sim.serviceRunning = false;
    ctx.sim.serviceRegistered = false;
    ctx.sim.serverVersion = null;
    ctx.out(
      `${ts()} info com.apple.container.cli : stopping service [label=com.apple.container.apiserver]\n`,
    );
  } else {
    ctx.out(`${ts()} info com.apple.container.cli : APIServer health check failed, skipping bootout\n`);
  }
  return 0;
}

/** The flat status of 0.10.0–1.3.x. */
function flatStatus(ctx: Ctx) {
  const v = ctx.sim.serverVersion ?? "";
  return {
    status: "running",
    appRoot: ctx.sim.appRoot + "/",
    installRoot: "/usr/local/",
    logRoot: null,
    apiServerVersion: `container-apiserver version ${v} (build: release, commit: ${CLI_COMMIT})`,
    apiServerCommit: CLI_COMMIT,
    apiServerBuild: "release",
    apiServerAppName: "container-apiserver",
  };
}

/** The nested status of 1.4.1+ (its release notes): both versions, paths, resources, host. */
function nestedStatus(ctx: Ctx) {
  const vms = [...ctx.sim.vms.values()];
  return {
    status: "running",
    client: { appName: "container", build: "release", commit: CLI_COMMIT, version: clientVersion(ctx) },
    server: {
      appName: "container-apiserver",
      build: "release",
      commit: CLI_COMMIT,
      version: ctx.sim.serverVersion ?? "",
    },
    host: {
      architecture: "arm64",
      cpus: ctx.sim.opts.ncpu ?? 8,
      operatingSystem: `macOS ${ctx.sim.opts.macos ?? "26.1"}`,
    },
    paths: { appRoot: ctx.sim.appRoot + "/", installRoot: "/usr/local/" },
    resources: {
      containersRunning: vms.filter((vm) => vm.state === "running").length,
      containersTotal: vms.length,
      images: ctx.sim.images.size,
    },
  };
}

async function systemStatus(ctx: Ctx, argv: string[]): Promise<number> {
  const usage = "container system status [--prefix <prefix>] [--format <format>] [--debug]";
  const p = parse(
    ctx,
    argv,
    [
      { names: ["--format"], key: "format", value: true },
      { names: ["-p", "--prefix"], key: "prefix", value: true },
    ],
    usage,
  );
  const format = str(p.opts.format) ?? "table";
  if (p.opts.format !== undefined) atLeast(ctx, "0.10.0", "--format", usage);
  if (!["json", "table", "yaml", "toml"].includes(format))
    throw usageError(`The value '${format}' is invalid for '--format <format>'`, usage);
  const nested = cmpVersion(clientVersion(ctx), "1.4.1") >= 0;
  // Before 1.4.1 the CLI's JSON encoder escaped every '/'.
  const json = (v: unknown) => (nested ? jsonOut(v) : jsonOut(v).replace(/\//g, "\\/"));
  if (!ctx.sim.serviceRunning) {
    const registered = ctx.sim.serviceRegistered;
    const status = registered ? "not running" : "unregistered";
    if (format === "json") {
      ctx.out(
        json(
          nested
            ? { status }
            : {
                status,
                appRoot: "",
                installRoot: "",
                apiServerVersion: "",
                apiServerCommit: "",
                apiServerBuild: "",
                apiServerAppName: "",
              },
        ),
      );
    } else {
      ctx.out(
        registered
          ? "apiserver is not running\n"
          : "apiserver is not running and not registered with launchd\n",
      );
    }
    return 1;
  }
  if (format === "json") {
    ctx.out(json(nested ? nestedStatus(ctx) : flatStatus(ctx)));
    return 0;
  }
  const s = flatStatus(ctx);
  ctx.out(
    table([
      ["FIELD", "VALUE"],
      ["status", s.status],
      ["appRoot", s.appRoot],
      ["installRoot", s.installRoot],
      ["logRoot", ""],
      ["apiserver.version", s.apiServerVersion],
      ["apiserver.commit", s.apiServerCommit],
      ["apiserver.build", s.apiServerBuild],
      ["apiserver.appName", s.apiServerAppName],
    ]),
  );
  return 0;
}

async function systemVersion(ctx: Ctx, argv: string[]): Promise<number> {
  const usage = "container system version [--format <format>] [--debug]";
  if (cmpVersion(clientVersion(ctx), "0.10.0") < 0)
    throw usageError("Unexpected argument 'version'", "container system <subcommand>");
  const p = parse(ctx, argv, [{ names: ["--format"], key: "format", value: true }], usage);
  const v = clientVersion(ctx);
  const rows = [{ version: v, buildType: "release", commit: CLI_COMMIT, appName: "container" }];
  if (ctx.sim.serviceRunning)
    rows.push({
      version: ctx.sim.serverVersion ?? v,
      buildType: "release",
      commit: CLI_COMMIT,
      appName: "container-apiserver",
    });
  if (str(p.opts.format) === "json") ctx.out(jsonOut(rows));
  else
    ctx.out(
      table([
        ["COMPONENT", "VERSION", "BUILD", "COMMIT"],
        ...rows.map((r) => [r.appName, r.version, r.buildType, r.commit]),
      ]),
    );
  return 0;
}

async function kernelSet(ctx: Ctx, argv: string[]): Promise<number> {
  const usage =
    "container system kernel set [--arch <arch>] [--binary <binary>] [--force] [--recommended] [--tar <tar>] [--digest <digest>] [--debug]";
  const p = parse(
    ctx,
    argv,
    [
      { names: ["--arch"], key: "arch", value: true },
      { names: ["--binary"], key: "binary", value: true },
      { names: ["--force"], key: "force" },
      { names: ["--recommended"], key: "recommended" },
      { names: ["--tar"], key: "tar", value: true },
      { names: ["--digest"], key: "digest", value: true },
    ],
    usage,
  );
  if (p.opts.force) atLeast(ctx, "0.5.0", "--force", usage);
  requireService(ctx);
  const kernels = join(ctx.sim.appRoot, "kernels");
  if (clientVersion(ctx) === "1.5.0" && !existsSync(kernels)) {
    // 1.5.0's known bug: it moves the kernel into <appRoot>/kernels/ without creating the folder.
    throw cliError(
      "internalError",
      `failed to set kernel: Error Domain=NSCocoaErrorDomain Code=4 "“default.kernel-arm64” couldn’t be moved to “kernels” because either the former doesn’t exist, or the folder containing the latter doesn’t exist."`,
    );
  }
  const force = p.opts.force === true;
  if (p.opts.recommended) {
    await downloadRecommendedKernel(ctx, force);
    return 0;
  }
  const binary = str(p.opts.binary);
  const tar = str(p.opts.tar);
  const digest = str(p.opts.digest);
  if (!tar) {
    if (digest) throw usageError("'--digest' can only be used with '--tar'", usage);
    if (!binary) throw usageError("missing argument '--binary'", usage);
    const src = resolvePath(ctx.cwd, binary);
    if (!existsSync(src) || !statSync(src).isFile())
      throw cliError("notFound", `kernel file not found at path ${src}`);
    installKernelFile(ctx.sim.appRoot, basename(src), readFileSync(src), force);
    return 0;
  }
  if (!binary) throw usageError("missing argument '--binary'", usage);
  const remote = /^https?:\/\//i.test(tar);
  if (!remote) {
    const src = resolvePath(ctx.cwd, tar);
    if (!existsSync(src))
      throw cliError(
        "invalidArgument",
        `invalid remote URL '${tar}' for argument '--tar'. Missing protocol?`,
      );
    const r = spawnSync("tar", ["-xOf", src, binary.replace(/^\//, "")], { maxBuffer: 1 << 30 });
    if (r.status !== 0) throw cliError("notFound", `kernel file ${binary} not found in archive ${src}`);
    installKernelFile(ctx.sim.appRoot, basename(binary), r.stdout, force);
    return 0;
  }
  if (!digest && cmpVersion(clientVersion(ctx), "1.2.0") >= 0) {
    throw usageError("'--digest' is required when '--tar' is a remote URL", usage);
  }
  await ctx.sim.sleep(ctx.sim.latency.kernelDownloadMs, ctx.signal);
  ctx.sim.counters.kernelDownloads++;
  ctx.sim.counters.bytesDownloaded += KERNEL_TARBALL_BYTES;
  installKernelFile(
    ctx.sim.appRoot,
    basename(binary),
    `kina-sim kernel ${basename(binary)} from ${tar}\n`,
    force,
  );
  return 0;
}

// ---------------------------------------------------------------- containers

const RUN_USAGE = "container run [<options>] <image> [<arguments> ...]";

function runSpec(): OptSpec[] {
  return [
    { names: ["-e", "--env"], key: "env", value: true, multi: true },
    { names: ["--env-file"], key: "envFile", value: true, multi: true },
    { names: ["--gid"], key: "gid", value: true },
    { names: ["-i", "--interactive"], key: "interactive" },
    { names: ["-t", "--tty"], key: "tty" },
    { names: ["-u", "--user"], key: "user", value: true },
    { names: ["--uid"], key: "uid", value: true },
    { names: ["-w", "--workdir", "--cwd"], key: "workdir", value: true },
    { names: ["--ulimit"], key: "ulimit", value: true, multi: true },
    { names: ["-c", "--cpus"], key: "cpus", value: true },
    { names: ["-m", "--memory"], key: "memory", value: true },
    { names: ["-a", "--arch"], key: "arch", value: true },
    { names: ["--cidfile"], key: "cidfile", value: true },
    { names: ["-d", "--detach"], key: "detach" },
    { names: ["--dns"], key: "dns", value: true, multi: true },
    { names: ["--dns-domain"], key: "dnsDomain", value: true },
    { names: ["--dns-option"], key: "dnsOption", value: true, multi: true },
    { names: ["--dns-search"], key: "dnsSearch", value: true, multi: true },
    { names: ["--no-dns"], key: "noDns" },
    { names: ["--entrypoint"], key: "entrypoint", value: true },
    { names: ["--init"], key: "init" },
    { names: ["--init-image"], key: "initImage", value: true },
    { names: ["-k", "--kernel"], key: "kernel", value: true },
    { names: ["-l", "--label"], key: "label", value: true, multi: true },
    { names: ["--mount"], key: "mount", value: true, multi: true },
    { names: ["--name"], key: "name", value: true },
    { names: ["--network"], key: "network", value: true, multi: true },
    { names: ["--os"], key: "os", value: true },
    { names: ["-p", "--publish"], key: "publish", value: true, multi: true },
    { names: ["--platform"], key: "platform", value: true },
    { names: ["--publish-socket"], key: "publishSocket", value: true, multi: true },
    { names: ["--read-only"], key: "readOnly" },
    { names: ["--rm", "--remove"], key: "rm" },
    { names: ["--rosetta"], key: "rosetta" },
    { names: ["--runtime"], key: "runtime", value: true },
    { names: ["--ssh"], key: "ssh" },
    { names: ["--tmpfs"], key: "tmpfs", value: true, multi: true },
    { names: ["-v", "--volume"], key: "volume", value: true, multi: true },
    { names: ["--virtualization"], key: "virtualization" },
    { names: ["--cap-add"], key: "capAdd", value: true, multi: true },
    { names: ["--cap-drop"], key: "capDrop", value: true, multi: true },
    { names: ["--read-only-path"], key: "readOnlyPath", value: true, multi: true },
    { names: ["--masked-path"], key: "maskedPath", value: true, multi: true },
    { names: ["--shm-size"], key: "shmSize", value: true },
    { names: ["--scheme"], key: "scheme", value: true },
    { names: ["--progress"], key: "progress", value: true },
    { names: ["--max-concurrent-downloads"], key: "maxDownloads", value: true },
  ];
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** `4G`, `4096M`, `2g`, `512MiB`; a bare number is MiB. */
export function parseMemory(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] || "m").toLowerCase();
  const pow = { k: 1, m: 2, g: 3, t: 4, p: 5 }[unit as "k"]!;
  return Math.round(Number(m[1]) * 1024 ** pow);
}

export function parsePublish(text: string): PublishPort {
  const m = /^(?:(?:\[([^\]]*)\]|([^:].*?)):)?([^:]+):([^:/]+)(?:\/(.*))?$/.exec(text);
  const bad = () => cliError("invalidArgument", `invalid publish value: ${text}`);
  if (!m) throw bad();
  const hostAddress = m[1] ?? m[2] ?? "0.0.0.0";
  const range = (s: string) => {
    const r = /^(\d+)(?:-(\d+))?$/.exec(s);
    if (!r) throw bad();
    const a = Number(r[1]);
    const b = r[2] ? Number(r[2]) : a;
    if (a < 1 || b > 65535 || b < a) throw bad();
    return { start: a, count: b - a + 1 };
  };
  const h = range(m[3]!);
  const c = range(m[4]!);
  if (h.count !== c.count) throw bad();
  const proto = (m[5] ?? "tcp").toLowerCase();
  if (proto !== "tcp" && proto !== "udp")
    throw cliError("invalidArgument", `invalid publish protocol: ${proto}`);
  return { hostAddress, hostPort: h.start, containerPort: c.start, proto, count: h.count };
}

async function run(ctx: Ctx, argv: string[]): Promise<number> {
  const p = parse(ctx, argv, runSpec(), RUN_USAGE, 1);
  if (p.opts.capAdd || p.opts.capDrop)
    atLeast(ctx, "0.12.0", p.opts.capAdd ? "--cap-add" : "--cap-drop", RUN_USAGE);
  if (p.opts.readOnlyPath) atLeast(ctx, "1.2.1", "--read-only-path", RUN_USAGE);
  if (p.opts.maskedPath) atLeast(ctx, "1.2.1", "--masked-path", RUN_USAGE);
  const imageRef = p.positionals[0];
  if (!imageRef) throw usageError("Missing expected argument '<image>'", RUN_USAGE);
  requireService(ctx);
  const sim = ctx.sim;
  const id = str(p.opts.name) ?? randomUUID().toLowerCase();
  if (id.length > 63 || !NAME_RE.test(id))
    throw cliError("invalidArgument", `container ID ${id} is not a valid container ID`);
  if (sim.vms.has(id)) throw cliError("exists", `container with id ${id} already exists`);

  const cpus = str(p.opts.cpus) !== undefined ? Number(p.opts.cpus) : 4;
  if (!Number.isInteger(cpus) || cpus < 1)
    throw usageError(`The value '${String(p.opts.cpus)}' is invalid for '-c <cpus>'`, RUN_USAGE);
  const memText = str(p.opts.memory);
  const memoryBytes = memText === undefined ? 1024 * 1024 * 1024 : parseMemory(memText);
  if (memoryBytes === undefined) throw cliError("invalidArgument", `invalid memory value: ${memText}`);
  const publish = list(p.opts.publish).map(parsePublish);
  const env: string[] = [];
  for (const e of list(p.opts.env)) {
    if (e.includes("=")) env.push(e);
    else if (ctx.env[e] !== undefined) env.push(`${e}=${ctx.env[e]}`);
  }
  const labels: Record<string, string> = {};
  for (const l of list(p.opts.label)) {
    const eq = l.indexOf("=");
    labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? "" : l.slice(eq + 1);
  }
  const none = (xs: string[]) => (xs.length === 0 ? undefined : xs.includes("NONE") ? [] : xs);

  // Image first (the CLI fetches it before looking for a kernel), then the kernel.
  const img = sim.findImage(imageRef) ?? (await sim.pull(imageRef, ctx.signal));
  const kernel = str(p.opts.kernel);
  if (kernel !== undefined) {
    const kp = resolvePath(ctx.cwd, kernel);
    if (!existsSync(kp)) throw cliError("notFound", `kernel file not found at path ${kp}`);
  } else if (!kernelInstalled(sim.appRoot)) {
    throw cliError(
      "notFound",
      "default kernel not configured for architecture arm64, please use the `container system kernel set` command to configure it",
    );
  }
  if (memoryBytes < 200 * 1024 * 1024) {
    throw cliErrorCause(
      "internalError",
      "failed to create container",
      "invalidArgument",
      `minimum memory amount allowed is 200 MiB (got ${memoryBytes} bytes)`,
    );
  }
  const spec: VmSpec = {
    name: id,
    image: img.ref,
    imageDigest: img.digest,
    cpus,
    memoryBytes,
    env,
    labels,
    publish,
    capAdd: list(p.opts.capAdd),
    capDrop: list(p.opts.capDrop),
    readOnlyPaths: none(list(p.opts.readOnlyPath)),
    maskedPaths: none(list(p.opts.maskedPath)),
    rosetta: p.opts.rosetta === true,
    dns: p.opts.noDns
      ? null
      : {
          nameservers: list(p.opts.dns).length ? list(p.opts.dns) : ["127.0.64.1"],
          domain: str(p.opts.dnsDomain),
          searchDomains: list(p.opts.dnsSearch),
          options: list(p.opts.dnsOption),
        },
    args: p.rest,
    // /proc/sys and capabilities are the runtime's doing: the running service's version.
    cliVersion: sim.serverVersion ?? clientVersion(ctx),
  };
  try {
    await sim.createVm(spec);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw cliError("unknown", "bind(descriptor:ptr:bytes:): Address already in use (errno: 48)");
    }
    throw e;
  }
  const vm = sim.vms.get(id)!;
  if (p.opts.rm) void vm.waitHalt().then(() => (sim.vms.get(id) === vm ? sim.deleteVm(vm) : undefined));
  if (p.opts.detach) {
    ctx.out(`${id}\n`);
    return 0;
  }
  // Attached: the CLI stays until the container's init exits (a node never does on its own).
  ctx.out(stdioLog(vm));
  await Promise.race([
    vm.waitHalt(),
    new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true })),
  ]);
  return vm.state === "running" ? 130 : 0;
}

function getVm(ctx: Ctx, id: string): Vm {
  const vm = ctx.sim.vms.get(id);
  if (!vm) throw cliError("notFound", `get failed: container ${id} not found`);
  return vm;
}

function inspectJson(ctx: Ctx, vm: Vm): unknown {
  const shape = ctx.sim.opts.inspectShape ?? "1.x";
  const s = vm.spec;
  const configuration = {
    id: s.name,
    image: {
      reference: s.image,
      descriptor: { mediaType: "application/vnd.oci.image.index.v1+json", digest: s.imageDigest, size: 1609 },
    },
    mounts: [],
    publishedPorts: s.publish,
    publishedSockets: [],
    labels: s.labels,
    sysctls: {},
    networks: [{ network: "default", options: { hostname: s.name } }],
    dns: s.dns,
    rosetta: s.rosetta,
    initProcess: {
      executable: "/usr/local/bin/entrypoint",
      arguments: s.args.length ? s.args : ["/sbin/init"],
      environment: [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "container=docker",
        ...s.env,
      ],
      workingDirectory: "/",
      terminal: false,
      user: { id: { uid: 0, gid: 0 } },
      supplementalGroups: [],
      rlimits: [],
    },
    platform: { os: "linux", architecture: "arm64" },
    resources: { cpus: s.cpus, memoryInBytes: s.memoryBytes, cpuOverhead: 1 },
    runtimeHandler: "container-runtime-linux",
    virtualization: false,
    ssh: false,
    readOnly: false,
    useInit: false,
    capAdd: s.capAdd,
    capDrop: s.capDrop,
    ...(s.maskedPaths ? { maskedPaths: s.maskedPaths } : {}),
    ...(s.readOnlyPaths ? { readonlyPaths: s.readOnlyPaths } : {}),
    creationDate: vm.createdAt.toISOString(),
  };
  const running = vm.state === "running";
  const started = running && vm.startedAt ? vm.startedAt.toISOString() : undefined;
  const net = { network: "default", hostname: s.name };
  if (shape === "0.7") {
    return {
      configuration,
      status: vm.state,
      networks: running
        ? [
            {
              ...net,
              address: `${vm.ip}/${ctx.sim.opts.vmPrefix ?? 24}`,
              gateway: vm.gateway,
              macAddress: vm.mac,
            },
          ]
        : [],
      ...(started ? { startedDate: started } : {}),
    };
  }
  const prefix = ctx.sim.opts.vmPrefix ?? 24;
  const attachment = {
    ...net,
    ipv4Address: `${vm.ip}/${prefix}`,
    ipv4Gateway: vm.gateway,
    macAddress: vm.mac,
  };
  if (shape === "0.8") {
    return {
      configuration,
      status: vm.state,
      networks: running ? [attachment] : [],
      ...(started ? { startedDate: started } : {}),
    };
  }
  return {
    id: s.name,
    configuration,
    status: {
      state: vm.state,
      networks: running ? [{ ...attachment, mtu: 1280 }] : [],
      ...(started ? { startedDate: started } : {}),
    },
  };
}

async function inspect(ctx: Ctx, argv: string[]): Promise<number> {
  const usage = "container inspect [--debug] <container-ids> ...";
  const p = parse(ctx, argv, [], usage);
  if (!p.positionals.length) throw usageError("Missing expected argument '<container-ids> ...'", usage);
  requireService(ctx);
  const ids = [...new Set(p.positionals)];
  const missing = ids.filter((i) => !ctx.sim.vms.has(i)).sort();
  if (missing.length) throw cliError("notFound", `container not found: ${missing.join(", ")}`);
  ctx.out(
    jsonOut(
      [...ctx.sim.vms.values()].filter((vm) => ids.includes(vm.name)).map((vm) => inspectJson(ctx, vm)),
      true,
    ),
  );
  return 0;
}

async function listCmd(ctx: Ctx, argv: string[]): Promise<number> {
  const usage = "container list [--all] [--format <format>] [--quiet] [--debug]";
  const p = parse(
    ctx,
    argv,
    [
      { names: ["-a", "--all"], key: "all" },
      { names: ["-q", "--quiet"], key: "quiet" },
      { names: ["--format"], key: "format", value: true },
    ],
    usage,
  );
  requireService(ctx);
  const vms = [...ctx.sim.vms.values()].filter((vm) => p.opts.all || vm.state === "running");
  const format = str(p.opts.format) ?? "table";
  if (format === "json") {
    ctx.out(jsonOut(vms.map((vm) => inspectJson(ctx, vm))));
    return 0;
  }
  if (p.opts.quiet) {
    if (vms.length) ctx.out(vms.map((vm) => vm.name).join("\n") + "\n");
    return 0;
  }
  ctx.out(
    table([
      ["ID", "IMAGE", "OS", "ARCH", "STATE", "IP", "CPUS", "MEMORY", "STARTED"],
      ...vms.map((vm) => [
        vm.name,
        vm.spec.image,
        "linux",
        "arm64",
        vm.state,
        vm.state === "running" ? `${vm.ip}/24` : "",
        String(vm.spec.cpus),
        `${Math.floor(vm.spec.memoryBytes / 1048576)} MB`,
        vm.state === "running" && vm.startedAt ? vm.startedAt.toISOString().replace(/\.\d+Z$/, "Z") : "",
      ]),
    ]),
  );
  return 0;
}

async function stopOrKill(ctx: Ctx, cmd: string, argv: string[]): Promise<number> {
  const usage = `container ${cmd} [--all] [--signal <signal>]${cmd === "stop" ? " [--time <time>]" : ""} [<container-ids> ...]`;
  const spec: OptSpec[] = [
    { names: ["-a", "--all"], key: "all" },
    { names: ["-s", "--signal"], key: "signal", value: true },
  ];
  if (cmd === "stop") spec.push({ names: ["-t", "--time"], key: "time", value: true });
  const p = parse(ctx, argv, spec, usage);
  if (!p.positionals.length && !p.opts.all)
    throw cliError("invalidArgument", "no containers specified and --all not supplied");
  if (p.positionals.length && p.opts.all)
    throw cliError("invalidArgument", `explicitly supplied container IDs conflict with the --all flag`);
  requireService(ctx);
  const ids = p.opts.all
    ? [...ctx.sim.vms.values()].filter((v) => v.state === "running").map((v) => v.name)
    : p.positionals;
  const errors: string[] = [];
  for (const id of ids) {
    const vm = ctx.sim.vms.get(id);
    if (!vm) {
      errors.push(
        `internalError: "failed to ${cmd} container" (cause: "notFound: "container with ID ${id} not found"")`,
      );
      continue;
    }
    if (cmd === "kill" && vm.state !== "running") {
      errors.push(
        `internalError: "failed to kill container" (cause: "invalidState: "container ${id} is not running"")`,
      );
      continue;
    }
    await vm.halt();
    ctx.out(`${id}\n`);
  }
  if (errors.length) throw new Exit(1, `Error: ${errors.join("\n")}\n`);
  return 0;
}

async function deleteCmd(ctx: Ctx, argv: string[]): Promise<number> {
  const usage = "container delete [--all] [--force] [<container-ids> ...]";
  const p = parse(
    ctx,
    argv,
    [
      { names: ["-a", "--all"], key: "all" },
      { names: ["-f", "--force"], key: "force" },
    ],
    usage,
  );
  if (!p.positionals.length && !p.opts.all)
    throw cliError("invalidArgument", "no containers specified and --all not supplied");
  if (p.positionals.length && p.opts.all)
    throw cliError("invalidArgument", "explicitly supplied container ID(s) conflict with the --all flag");
  requireService(ctx);
  const force = p.opts.force === true;
  const ids = p.opts.all
    ? [...ctx.sim.vms.values()].filter((v) => force || v.state !== "running").map((v) => v.name)
    : [...new Set(p.positionals)];
  const errors: string[] = [];
  for (const id of ids) {
    const vm = ctx.sim.vms.get(id);
    if (!vm) {
      errors.push(
        `internalError: "failed to delete container" (cause: "notFound: "container with ID ${id} not found"")`,
      );
      continue;
    }
    if (vm.state !== "stopped" && !force) {
      errors.push(
        `internalError: "failed to delete container" (cause: "invalidState: "container ${id} is ${vm.state} and can not be deleted"")`,
      );
      continue;
    }
    await ctx.sim.deleteVm(vm);
    ctx.out(`${id}\n`);
  }
  if (errors.length) throw new Exit(1, `Error: ${errors.join("\n")}\n`);
  return 0;
}

async function start(ctx: Ctx, argv: string[]): Promise<number> {
  const usage = "container start [--attach] [--interactive] <container-id>";
  const p = parse(
    ctx,
    argv,
    [
      { names: ["-a", "--attach"], key: "attach" },
      { names: ["-i", "--interactive"], key: "interactive" },
    ],
    usage,
  );
  const id = p.positionals[0];
  if (!id) throw usageError("Missing expected argument '<container-id>'", usage);
  requireService(ctx);
  const vm = getVm(ctx, id);
  if (vm.state !== "running") {
    if (!kernelInstalled(ctx.sim.appRoot)) {
      throw cliError(
        "notFound",
        "default kernel not configured for architecture arm64, please use the `container system kernel set` command to configure it",
      );
    }
    try {
      await vm.boot();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") {
        throw cliError("unknown", "bind(descriptor:ptr:bytes:): Address already in use (errno: 48)");
      }
      throw e;
    }
  }
  ctx.out(`${id}\n`);
  return 0;
}

async function exec(ctx: Ctx, argv: string[]): Promise<number> {
  const usage = "container exec [<options>] <container-id> <arguments> ...";
  const p = parse(
    ctx,
    argv,
    [
      { names: ["-e", "--env"], key: "env", value: true, multi: true },
      { names: ["--env-file"], key: "envFile", value: true, multi: true },
      { names: ["--gid"], key: "gid", value: true },
      { names: ["-i", "--interactive"], key: "interactive" },
      { names: ["-t", "--tty"], key: "tty" },
      { names: ["-u", "--user"], key: "user", value: true },
      { names: ["--uid"], key: "uid", value: true },
      { names: ["-w", "--workdir", "--cwd"], key: "workdir", value: true },
      { names: ["--ulimit"], key: "ulimit", value: true, multi: true },
      { names: ["-d", "--detach"], key: "detach" },
    ],
    usage,
    1,
  );
  const id = p.positionals[0];
  if (!id) throw usageError("Missing expected argument '<container-id>'", usage);
  requireService(ctx);
  const vm = getVm(ctx, id);
  if (vm.state !== "running") throw cliError("invalidState", `container ${id} is not running`);
  if (!p.rest.length) throw cliError("invalidArgument", "no command specified for exec");
  const env: Record<string, string> = {};
  for (const e of [...vm.spec.env, ...list(p.opts.env)]) {
    const eq = e.indexOf("=");
    if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
    else if (ctx.env[e] !== undefined) env[e] = ctx.env[e]!;
  }
  // bwrap reports a missing executable on stderr before anything else runs; hold the first line to see.
  const PREFIX = "bwrap: execvp ";
  let head = "";
  let decided = false;
  let notFound = "";
  const code = await vm.exec(p.rest, {
    env,
    workdir: str(p.opts.workdir),
    stdin: p.opts.interactive ? ctx.stdin() : undefined,
    stdout: (d) => ctx.out(d),
    stderr: (d) => {
      if (decided) return ctx.err(d);
      head += d.toString("latin1");
      const sure = head.length >= PREFIX.length ? head.startsWith(PREFIX) : PREFIX.startsWith(head);
      if (sure && !head.includes("\n")) return;
      decided = true;
      const m = /^bwrap: execvp ([^:]+): No such file or directory\n/.exec(head);
      if (m) {
        notFound = m[1]!;
        head = head.slice(m[0].length);
      }
      if (head) ctx.err(Buffer.from(head, "latin1"));
    },
    signal: ctx.signal,
  });
  if (!decided && head) ctx.err(Buffer.from(head, "latin1"));
  if (notFound) {
    throw cliErrorCause(
      "internalError",
      "failed to create process in container",
      "notFound",
      `executable file not found in $PATH: ${notFound}`,
    );
  }
  return code;
}

async function logs(ctx: Ctx, argv: string[]): Promise<number> {
  const usage = "container logs [--boot] [--follow] [-n <n>] <container-id>";
  const p = parse(
    ctx,
    argv,
    [
      { names: ["--boot"], key: "boot" },
      { names: ["-f", "--follow"], key: "follow" },
      { names: ["-n"], key: "n", value: true },
    ],
    usage,
  );
  const id = p.positionals[0];
  if (!id) throw usageError("Missing expected argument '<container-id>'", usage);
  requireService(ctx);
  const vm = getVm(ctx, id);
  const text = p.opts.boot ? vm.bootLog : stdioLog(vm);
  let lines = text.split("\n").filter((l) => l !== "");
  const n = str(p.opts.n);
  if (n !== undefined) lines = lines.slice(-Number(n));
  if (lines.length) ctx.out(lines.join("\n") + "\n");
  return 0;
}

function stdioLog(vm: Vm): string {
  if (!vm.startedAt) return "";
  return [
    "INFO: ensuring we can execute mount/umount even with userns-remap",
    "INFO: remounting /sys read-only",
    "INFO: making mounts shared",
    "INFO: detected cgroup v2",
    "INFO: clearing and regenerating /etc/machine-id",
    `INFO: setting iptables to detected mode: ${vm.host.iptablesMode()}`,
    "INFO: detected IPv4 address: " + vm.ip,
    "INFO: starting init",
    "systemd 252.38-1~deb12u1 running in system mode",
    `Set hostname to <${vm.name}>.`,
    "",
  ].join("\n");
}

/** `cp SRC ID:DEST` / `cp ID:SRC DEST` (1.0+). Only the node's own directories are writable here. */
async function cp(ctx: Ctx, argv: string[]): Promise<number> {
  const usage = "container cp <source> <destination>";
  if (cmpVersion(clientVersion(ctx), "1.0.0") < 0)
    throw usageError("Unexpected argument 'cp'", "container <subcommand>");
  const p = parse(ctx, argv, [], usage);
  const [src, dst] = p.positionals;
  if (!src || !dst) throw usageError("Missing expected argument '<destination>'", usage);
  requireService(ctx);
  const split = (x: string) => {
    const m = /^([a-zA-Z0-9][a-zA-Z0-9_.-]+):(\/.*)$/.exec(x);
    return m ? { id: m[1]!, path: m[2]! } : undefined;
  };
  const into = split(dst);
  const from = split(src);
  if (!!into === !!from)
    throw cliError(
      "invalidArgument",
      "exactly one of source and destination must be a container path (ID:/path)",
    );
  const vm = getVm(ctx, (into ?? from)!.id);
  if (vm.state !== "running") throw cliError("invalidState", `container ${vm.name} is not running`);
  const nodePath = (into ?? from)!.path;
  const top = nodePath.split("/")[1] ?? "";
  if (top === "tmp") return 0; // a tmpfs in the VM: the copy silently goes nowhere
  if (!["etc", "run", "var", "opt", "root", "kind"].includes(top)) {
    throw cliErrorCause(
      "internalError",
      `failed to copy ${into ? "into" : "from"} container ${vm.name}`,
      "unsupported",
      `${nodePath} is not writable in the simulated node`,
    );
  }
  const inNode = join(vm.rootfs, nodePath);
  const hostPath = resolvePath(ctx.cwd, into ? src : dst);
  const [from_, to] = into ? [hostPath, inNode] : [inNode, hostPath];
  if (!existsSync(from_)) throw cliError("notFound", `${into ? src : nodePath}: no such file or directory`);
  const target = existsSync(to) && statSync(to).isDirectory() ? join(to, basename(from_)) : to;
  cpSync(from_, target, { recursive: true });
  return 0;
}

// ---------------------------------------------------------------- images

async function image(ctx: Ctx, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const sim = ctx.sim;
  switch (sub) {
    case "pull": {
      const usage = "container image pull [<options>] <reference>";
      const p = parse(
        ctx,
        rest,
        [
          { names: ["-a", "--arch"], key: "arch", value: true },
          { names: ["--os"], key: "os", value: true },
          { names: ["--platform"], key: "platform", value: true },
          { names: ["--scheme"], key: "scheme", value: true },
          { names: ["--progress"], key: "progress", value: true },
          { names: ["--max-concurrent-downloads"], key: "maxDownloads", value: true },
        ],
        usage,
      );
      const ref = p.positionals[0];
      if (!ref) throw usageError("Missing expected argument '<reference>'", usage);
      requireService(ctx);
      await sim.pull(ref, ctx.signal);
      return 0;
    }
    case "list":
    case "ls": {
      const usage = "container image list [--format <format>] [--quiet] [--verbose]";
      const p = parse(
        ctx,
        rest,
        [
          { names: ["--format"], key: "format", value: true },
          { names: ["-q", "--quiet"], key: "quiet" },
          { names: ["-v", "--verbose"], key: "verbose" },
        ],
        usage,
      );
      requireService(ctx);
      const imgs = [...sim.images.values()].sort((a, b) => a.ref.localeCompare(b.ref));
      if (str(p.opts.format) === "json") {
        ctx.out(jsonOut(imgs.map(imageResource)));
      } else if (p.opts.quiet) {
        if (imgs.length) ctx.out(imgs.map((i) => displayRef(i.ref)).join("\n") + "\n");
      } else {
        ctx.out(
          table([
            ["NAME", "TAG", "DIGEST"],
            ...imgs.map((i) => {
              const d = displayRef(i.ref).replace(/@.*$/, "");
              const colon = d.lastIndexOf(":");
              return [
                d.slice(0, colon),
                d.slice(colon + 1),
                i.digest.replace(/^sha256:/, "").slice(0, 24) + "...",
              ];
            }),
          ]),
        );
      }
      return 0;
    }
    case "inspect": {
      const usage = "container image inspect <images> ...";
      const p = parse(ctx, rest, [], usage);
      if (!p.positionals.length) throw usageError("Missing expected argument '<images> ...'", usage);
      requireService(ctx);
      const found: ImageRecord[] = [];
      const missing: string[] = [];
      for (const r of new Set(p.positionals)) {
        const i = sim.findImage(r);
        if (i) found.push(i);
        else missing.push(r);
      }
      if (missing.length) throw cliError("notFound", `image not found: ${missing.sort().join(", ")}`);
      ctx.out(jsonOut(found.map(imageResource), true));
      return 0;
    }
    case "save": {
      const usage =
        "container image save [--arch <arch>] [--os <os>] [--output <output>] [--platform <platform>] <references> ...";
      const p = parse(
        ctx,
        rest,
        [
          { names: ["-a", "--arch"], key: "arch", value: true },
          { names: ["--os"], key: "os", value: true },
          { names: ["-o", "--output"], key: "output", value: true },
          { names: ["--platform"], key: "platform", value: true },
        ],
        usage,
      );
      if (!p.positionals.length) throw usageError("Missing expected argument '<references> ...'", usage);
      requireService(ctx);
      const imgs: ImageRecord[] = [];
      for (const r of p.positionals) {
        const i = sim.findImage(r);
        if (!i) {
          ctx.err(
            `${new Date().toISOString()} error com.apple.container: failed to get image for reference ${r}: notFound: "image not found: ${r}"\n`,
          );
          throw cliError("invalidArgument", "failed to save image(s)");
        }
        imgs.push(i);
      }
      const data = encodeArchive(imgs);
      const output = str(p.opts.output);
      if (output) {
        writeFileSync(resolvePath(ctx.cwd, output), data);
        ctx.out(p.positionals.join("\n") + "\n");
      } else {
        ctx.out(data);
      }
      return 0;
    }
    case "load": {
      const usage = "container image load [--input <input>] [--force]";
      const p = parse(
        ctx,
        rest,
        [
          { names: ["-i", "--input"], key: "input", value: true },
          { names: ["-f", "--force"], key: "force" },
        ],
        usage,
      );
      requireService(ctx);
      const input = str(p.opts.input);
      let data: Buffer;
      if (input) {
        const path = resolvePath(ctx.cwd, input);
        if (!existsSync(path)) {
          ctx.err(
            `${new Date().toISOString()} error com.apple.container: file does not exist [path=${path}]\n`,
          );
          return 1;
        }
        data = readFileSync(path);
      } else {
        data = await readAll(ctx.stdin());
      }
      const imgs = decodeArchive(data);
      if (!imgs)
        throw cliError("internalError", "failed to load image archive: not a valid OCI image layout");
      for (const i of imgs) sim.images.set(i.ref, { ...i });
      ctx.out(imgs.map((i) => i.ref).join("\n") + "\n");
      return 0;
    }
    case "delete":
    case "rm": {
      const usage = "container image delete [--all] [--force] [<images> ...]";
      const p = parse(
        ctx,
        rest,
        [
          { names: ["-a", "--all"], key: "all" },
          { names: ["-f", "--force"], key: "force" },
        ],
        usage,
      );
      if (!p.positionals.length && !p.opts.all)
        throw cliError("invalidArgument", "no images specified and --all not supplied");
      requireService(ctx);
      const targets = p.opts.all ? [...sim.images.values()] : [];
      const failures: string[] = [];
      if (!p.opts.all) {
        for (const r of p.positionals) {
          const i = sim.findImage(r);
          if (i) targets.push(i);
          else if (!p.opts.force) failures.push(r);
        }
      }
      for (const i of targets) {
        sim.images.delete(i.ref);
        ctx.out(`${i.ref}\n`);
      }
      if (failures.length)
        throw cliError(
          "internalError",
          `failed to delete one or more images: ${JSON.stringify(failures).replace(/,/g, ", ")}`,
        );
      return 0;
    }
    default:
      throw usageError(`Unexpected argument '${sub ?? ""}'`, "container image <subcommand>");
  }
}

// ---------------------------------------------------------------- networks

/**
 * `network list|ls [--format json] [-q]` and `network inspect NAME…`: the built-in default network only.
 * JSON elements are the CLI's PrintableNetwork {id, state, config, status}; status is {ipv4Subnet,
 * ipv4Gateway} in 1.x and {address, gateway} before (apple/container
 * Sources/CLI/Network/NetworkList.swift, Sources/Services/ContainerNetworkService/NetworkState.swift).
 * macOS 15 has no network commands here (Apple's "macOS 15 limitations").
 */
async function network(ctx: Ctx, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const macos = Number((ctx.sim.opts.macos ?? "26.1").split(".")[0]);
  const usage =
    sub === "inspect"
      ? "container network inspect <networks> ..."
      : "container network list [--format <format>] [--quiet]";
  const p = parse(
    ctx,
    rest,
    sub === "inspect"
      ? []
      : [
          { names: ["--format"], key: "format", value: true },
          { names: ["-q", "--quiet"], key: "quiet" },
        ],
    usage,
  );
  if (sub !== "list" && sub !== "ls" && sub !== "inspect")
    throw usageError(`Unexpected argument '${sub ?? ""}'`, "container network <subcommand>");
  requireService(ctx);
  if (macos < 26) throw cliError("unsupported", "networks are not supported on macOS 15");
  const subnet = ctx.sim.opts.vmNetwork ?? "127.0.64.0/24";
  const gateway = subnet.replace(/\.\d+\/\d+$/, ".1");
  const legacy = cmpVersion(ctx.sim.installedVersion ?? "0.0.0", "1.0.0") < 0;
  const entry = {
    id: "default",
    state: "running",
    config: {
      id: "default",
      mode: "nat",
      labels: { "com.apple.container.resource.role": "builtin" },
    },
    status: legacy ? { address: subnet, gateway } : { ipv4Subnet: subnet, ipv4Gateway: gateway },
  };
  if (sub === "inspect") {
    if (!p.positionals.length) throw usageError("Missing expected argument '<networks> ...'", usage);
    ctx.out(jsonOut(p.positionals.includes("default") ? [entry] : [], true));
    return 0;
  }
  if (str(p.opts.format) === "json") ctx.out(jsonOut([entry]));
  else if (p.opts.quiet) ctx.out("default\n");
  else
    ctx.out(
      table([
        ["NETWORK", "STATE", "SUBNET"],
        ["default", "running", subnet],
      ]),
    );
  return 0;
}

function imageResource(i: ImageRecord) {
  const digest = i.digest;
  return {
    id: digest.replace(/^sha256:/, ""),
    configuration: {
      creationDate: i.created,
      name: i.ref,
      descriptor: { mediaType: "application/vnd.oci.image.index.v1+json", digest, size: 1609 },
    },
    variants: [
      {
        platform: { os: "linux", architecture: "arm64" },
        digest: `sha256:${digest.slice(7, 71).split("").reverse().join("")}`,
        size: i.size,
        config: { created: i.created, architecture: "arm64", os: "linux" },
      },
    ],
  };
}
