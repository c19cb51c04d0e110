// The macOS host tools the action may call: sw_vers, sysctl, launchctl, sudo, installer, pkgutil,
// and the uninstall script the container package installs.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, resolve as resolvePath } from "node:path";
import type { Ctx } from "./ctx.ts";

export const APPLE_SIGNER = "Developer ID Installer: Apple Inc. - Containerization (UPBK2H6LZM)";

export interface InstallerPkg {
  /** The container CLI version the package installs. */
  container: string;
  /** Certificate subject of the installer signature; "none" (or null) for an unsigned package. */
  signer?: string | null;
}

/** Writes a stand-in installer package (JSON) that `installer` and `pkgutil` of the simulator understand. */
export function makeInstallerPkg(path: string, o: { version: string; signer?: string | null }): string {
  const pkg: InstallerPkg = {
    container: o.version,
    signer: o.signer === undefined ? APPLE_SIGNER : o.signer,
  };
  writeFileSync(path, JSON.stringify(pkg) + "\n");
  return path;
}

function readPkg(path: string): InstallerPkg | undefined {
  try {
    const pkg = JSON.parse(readFileSync(path, "utf8")) as InstallerPkg;
    return typeof pkg.container === "string" && /^\d+\.\d+\.\d+$/.test(pkg.container) ? pkg : undefined;
  } catch {
    return undefined;
  }
}

const BUILDS: Record<string, string> = {
  "26.1": "25B78",
  "26.0": "25A354",
  "15.6": "24G84",
  "15.5": "24F74",
  "14.7": "23H124",
};

export async function swVers(ctx: Ctx): Promise<number> {
  const v = ctx.sim.opts.macos ?? "26.1";
  const build = BUILDS[v] ?? "25B78";
  const [flag] = ctx.argv;
  if (flag === "-productVersion" || flag === "--productVersion") ctx.out(`${v}\n`);
  else if (flag === "-productName" || flag === "--productName") ctx.out("macOS\n");
  else if (flag === "-buildVersion" || flag === "--buildVersion") ctx.out(`${build}\n`);
  else if (flag === undefined)
    ctx.out(`ProductName:\t\tmacOS\nProductVersion:\t\t${v}\nBuildVersion:\t\t${build}\n`);
  else {
    ctx.err("usage: sw_vers [-productName|-productVersion|-productVersionExtra|-buildVersion]\n");
    return 1;
  }
  return 0;
}

export async function sysctl(ctx: Ctx): Promise<number> {
  const o = ctx.sim.opts;
  const values: Record<string, string> = {
    "kern.hv_support": String(o.hvSupport ?? 1),
    "hw.ncpu": String(o.ncpu ?? 8),
    "hw.logicalcpu": String(o.ncpu ?? 8),
    "hw.physicalcpu": String(o.ncpu ?? 8),
    "hw.memsize": String(o.memsize ?? 17_179_869_184),
    "machdep.cpu.brand_string": o.cpuBrand ?? "Apple M2",
    "hw.optional.arm64": "1",
    "sysctl.proc_translated": "0",
    "kern.osproductversion": o.macos ?? "26.1",
  };
  let nameOnly = false;
  const keys: string[] = [];
  for (const a of ctx.argv) {
    if (a === "-n") nameOnly = true;
    else if (a.startsWith("-")) {
      ctx.err(`sysctl: illegal option -- ${a.slice(1)}\nusage: sysctl [-bdehiNnoqx] name[=value] ...\n`);
      return 1;
    } else keys.push(a);
  }
  let code = 0;
  for (const k of keys) {
    if (k.includes("=")) {
      ctx.err(`sysctl: ${k.split("=")[0]}: Operation not permitted\n`);
      code = 1;
      continue;
    }
    const v = values[k];
    if (v === undefined) {
      ctx.err(`sysctl: unknown oid '${k}'\n`);
      code = 1;
      continue;
    }
    ctx.out(nameOnly ? `${v}\n` : `${k}: ${v}\n`);
  }
  return code;
}

export async function uname(ctx: Ctx): Promise<number> {
  const release = "25.1.0";
  const fields: Record<string, string> = {
    s: "Darwin",
    n: "kina-sim-runner.local",
    r: release,
    v: `Darwin Kernel Version ${release}: Mon Oct 13 2025; root:xnu-12377.41.6~2/RELEASE_ARM64_T8103`,
    m: "arm64",
    p: "arm",
  };
  const flags = ctx.argv.length ? ctx.argv.join("").replace(/-/g, "").split("") : ["s"];
  const order = flags.includes("a")
    ? ["s", "n", "r", "v", "m"]
    : ["s", "n", "r", "v", "m", "p"].filter((f) => flags.includes(f));
  const bad = flags.find((f) => !(f in fields) && f !== "a");
  if (bad) {
    ctx.err(`uname: illegal option -- ${bad}\nusage: uname [-amnoprsv]\n`);
    return 1;
  }
  ctx.out(order.map((f) => fields[f]).join(" ") + "\n");
  return 0;
}

export async function launchctl(ctx: Ctx): Promise<number> {
  const [sub, target] = ctx.argv;
  if (sub === "managername") {
    ctx.out(`${ctx.sim.opts.launchdSession ?? "Aqua"}\n`);
    return 0;
  }
  if (sub === "list") {
    ctx.out("PID\tStatus\tLabel\n");
    if (ctx.sim.serviceRunning) ctx.out("4242\t0\tcom.apple.container.apiserver\n");
    return 0;
  }
  if (sub === "print" && target && /^gui\/\d+$/.test(target)) {
    // The per-user GUI domain exists only while the user has a GUI login session.
    const o = ctx.sim.opts;
    if ((o.launchdSession ?? "Aqua") === "Aqua" || o.guiLogin) {
      ctx.out(`${target} = {\n\ttype = login\n\thandle = 100007\n\tactive count = 12\n}\n`);
      return 0;
    }
    ctx.err(`Bad request.\nCould not find domain for port identifier: ${target}\n`);
    return 113;
  }
  if (sub === "print" && target) {
    if (target.endsWith("/com.apple.container.apiserver") && ctx.sim.serviceRunning) {
      ctx.out(
        `${target} = {\n\tactive count = 1\n\tstate = running\n\tprogram = /usr/local/bin/container-apiserver\n}\n`,
      );
      return 0;
    }
    ctx.err(`Could not find service "${basename(target)}" in domain for port\n`);
    return 113;
  }
  ctx.err(`Unrecognized subcommand: ${sub ?? ""}\nUsage: launchctl <subcommand> ... | help [subcommand]\n`);
  return 1;
}

export async function sudo(ctx: Ctx): Promise<number> {
  let nonInteractive = false;
  let list = false;
  let i = 0;
  for (; i < ctx.argv.length; i++) {
    const a = ctx.argv[i]!;
    if (a === "-n" || a === "--non-interactive") nonInteractive = true;
    else if (a === "-l" || a === "--list") list = true;
    else if (a === "-E" || a === "--preserve-env" || a === "-H") continue;
    else if (a === "--") {
      i++;
      break;
    } else if (a.startsWith("-")) {
      ctx.err(`sudo: unrecognized option '${a}'\n`);
      return 1;
    } else break;
  }
  const cmd = ctx.argv.slice(i);
  if (!cmd.length) {
    ctx.err("usage: sudo -h | -K | -k | -V\n");
    return 1;
  }
  if ((ctx.sim.opts.sudo ?? "passwordless") === "password") {
    if (!nonInteractive) {
      ctx.err(
        "sudo: a terminal is required to read the password; either use the -S option to read from standard input or configure an askpass helper\n",
      );
    }
    ctx.err("sudo: a password is required\n");
    return 1;
  }
  if (list) {
    // sudo(8) -l with a command: its full path and arguments when permitted, exit 0; runs nothing.
    const full = cmd[0]!.includes("/") ? cmd[0]! : `/usr/sbin/${cmd[0]!}`;
    ctx.out(`${[full, ...cmd.slice(1)].join(" ")}\n`);
    return 0;
  }
  return ctx.sim.dispatchAsRoot(ctx, cmd);
}

export async function installer(ctx: Ctx): Promise<number> {
  let pkgPath: string | undefined;
  let target: string | undefined;
  for (let i = 0; i < ctx.argv.length; i++) {
    const a = ctx.argv[i];
    if (a === "-pkg" || a === "-package") pkgPath = ctx.argv[++i];
    else if (a === "-target" || a === "-tgt") target = ctx.argv[++i];
    else if (a === "-verbose" || a === "-verboseR" || a === "-dumplog") continue;
  }
  if (!pkgPath || !target) {
    ctx.err("Usage: installer [-pkg <pathToPackage>] [-target <device>] ...\n");
    return 1;
  }
  if (!ctx.sudo) {
    ctx.err("installer: Must be run as root to install this package.\n");
    return 1;
  }
  const path = resolvePath(ctx.cwd, pkgPath);
  const pkg = existsSync(path) ? readPkg(path) : undefined;
  if (!pkg) {
    ctx.err(`installer: Error the package path specified was invalid: '${pkgPath}'.\n`);
    return 1;
  }
  if (target !== "/" && target !== "LocalSystem") {
    ctx.err(`installer: Error - the target volume specified (${target}) is not valid.\n`);
    return 1;
  }
  ctx.out("installer: Package name is container\ninstaller: Installing at base path /\n");
  ctx.sim.install(pkg.container);
  ctx.out("installer: The install was successful.\n");
  return 0;
}

export async function pkgutil(ctx: Ctx): Promise<number> {
  const [flag, file] = ctx.argv;
  if (flag === "--pkg-info" && file === "com.apple.container-installer") {
    if (!ctx.sim.installedVersion) {
      ctx.err(`No receipt for '${file}' found at '/'.\n`);
      return 1;
    }
    ctx.out(
      `package-id: ${file}\nversion: ${ctx.sim.installedVersion}\nvolume: /\nlocation: /\ninstall-time: ${Math.floor(Date.now() / 1000)}\n`,
    );
    return 0;
  }
  if (flag !== "--check-signature" || !file) {
    ctx.err("Usage: pkgutil [options] [commands]\n");
    return 1;
  }
  const path = resolvePath(ctx.cwd, file);
  if (!existsSync(path)) {
    ctx.err(`Package "${file}" does not exist.\n`);
    return 1;
  }
  const pkg = readPkg(path);
  const name = basename(file);
  if (!pkg || !pkg.signer || pkg.signer === "none") {
    ctx.out(`Package "${name}":\n   Status: no signature\n`);
    return 1;
  }
  const fp = (seed: string) =>
    Array.from({ length: 32 }, (_, i) =>
      ((seed.charCodeAt(i % seed.length) * (i + 7)) % 256).toString(16).toUpperCase().padStart(2, "0"),
    )
      .join(" ")
      .replace(/((?:\S\S ){15}\S\S) /, "$1\n           ");
  const apple = pkg.signer.startsWith("Developer ID Installer:");
  ctx.out(
    [
      `Package "${name}":`,
      apple
        ? "   Status: signed by a developer certificate issued by Apple for distribution"
        : "   Status: signed by a certificate that is not trusted",
      ...(apple ? ["   Notarization: trusted by the Apple notary service"] : []),
      "   Signed with a trusted timestamp on: 2026-05-12 18:21:07 +0000",
      "   Certificate Chain:",
      `    1. ${pkg.signer}`,
      "       Expires: 2030-02-01 22:12:15 +0000",
      "       SHA256 Fingerprint:",
      `           ${fp(pkg.signer)}`,
      "       ------------------------------------------------------------------------",
      `    2. ${apple ? "Developer ID Certification Authority" : "Self-Signed Root"}`,
      "       Expires: 2031-09-17 00:00:00 +0000",
      "       SHA256 Fingerprint:",
      `           ${fp("Developer ID Certification Authority")}`,
      "       ------------------------------------------------------------------------",
      ...(apple
        ? [
            "    3. Apple Root CA",
            "       Expires: 2035-02-09 21:40:36 +0000",
            "       SHA256 Fingerprint:",
            `           ${fp("Apple Root CA")}`,
          ]
        : []),
      "",
    ].join("\n"),
  );
  return apple ? 0 : 1;
}

/** /usr/local/bin/uninstall-container.sh [-k keep data | -d delete data] */
export async function uninstallContainer(ctx: Ctx): Promise<number> {
  const keep = ctx.argv.includes("-k");
  const del = ctx.argv.includes("-d");
  if (!keep && !del) {
    ctx.err("Usage: uninstall-container.sh [-d | -k]\n  -d  Delete user data\n  -k  Keep user data\n");
    return 1;
  }
  if (!ctx.sudo) {
    ctx.err("This script must be run as root (use sudo).\n");
    return 1;
  }
  if (ctx.sim.serviceRunning) {
    ctx.err(
      "`container` is still running. Please ensure the service is stopped by running `container system stop`\n",
    );
    return 1;
  }
  ctx.sim.uninstall();
  if (del) rmSync(ctx.sim.defaultAppRoot(ctx.env), { recursive: true, force: true });
  ctx.out("Removed container binaries and plugins.\n");
  return 0;
}
