// The simulated host: fake executables, install/sudo/pkgutil, the container CLI's service and errors,
// inspect shapes, the pretend-darwin preload and the runner harness.
import { createServer } from "node:net";
import { spawn } from "node:child_process";
import { existsSync, lstatSync, readlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { it } from "vitest";
import { hostShell, NODE24, type Simulator } from "./simulator.ts";
import { makeInstallerPkg } from "./macos-tools.ts";
import { startDownloadServer } from "./download-server.ts";
import { CLIENT_SCRIPT } from "./simulator.ts";
import { actionDefaults, errors, parseFileCommands, PRETEND_DARWIN, runJob, runStep } from "./runner.ts";
import { freePort } from "../../src/steps/node-vm.js";
import { DEFAULT_IMAGE as NODE_IMAGE, describe, expect, test, type SharedMac } from "../fixtures/mac.ts";
const N = "kina-control-plane";

const sh = hostShell;

describe("fake executables talk to the host", () => {
  const shared = (sharedMac: SharedMac) => sharedMac("tools", { macos: "15.6", hvSupport: 0 });

  test("round-trips argv, stdout, stderr and exit codes, and records the call", async ({ sharedMac }) => {
    const sim = await shared(sharedMac);
    const v = await sh(sim, "container --version");
    expect(v).toMatchObject({
      code: 0,
      stdout: "container CLI version 1.2.2 (build: release, commit: 0190097)\n",
      stderr: "",
    });
    expect((await sh(sim, "sw_vers -productVersion")).stdout).toBe("15.6\n");
    expect((await sh(sim, "sysctl -n kern.hv_support")).stdout).toBe("0\n");
    const bad = await sh(sim, "sysctl -n no.such.oid");
    expect(bad).toMatchObject({ code: 1, stderr: "sysctl: unknown oid 'no.such.oid'\n" });
    expect((await sh(sim, "launchctl managername")).stdout).toBe("Aqua\n");
    expect((await sh(sim, "uname -sm")).stdout).toBe("Darwin arm64\n");
    // A simulated preinstalled kubectl (option `kubectl`), never the Linux host's.
    expect((await sh(sim, "kubectl version --client -o json")).stdout).toContain('"gitVersion":"v1.35.8"');
    expect((await sh(sim, "kubectl get nodes")).code).not.toBe(0);
    expect((await sh(sim, "command -v tar")).code).toBe(0);
    const rec = sim.calls.find((c) => c.tool === "sysctl" && c.argv.includes("no.such.oid"));
    expect(rec).toMatchObject({ argv: ["-n", "no.such.oid"], code: 1 });
    expect(rec!.end).toBeGreaterThanOrEqual(rec!.start);
  });

  test("answers a command that does not read stdin even when stdin stays open", async ({ sharedMac }) => {
    const sim = await shared(sharedMac);
    const r = await sh(sim, "sw_vers -productVersion", { stdin: "idle", timeoutMs: 10_000 });
    expect(r).toMatchObject({ code: 0, stdout: "15.6\n" });
  });

  test("keeps the client fast enough to be called many times", async ({ sharedMac }) => {
    const sim = await shared(sharedMac);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve) =>
        spawn(join(sim.binDir, "sw_vers"), ["-productVersion"], { env: sim.env }).on("close", () =>
          resolve(),
        ),
      );
      times.push(performance.now() - t0);
    }
    const host = sim.calls.filter((c) => c.tool === "sw_vers").map((c) => c.end - c.start);
    console.log(
      `client call: median ${times.sort((a, b) => a - b)[2]!.toFixed(0)} ms; host side max ${Math.max(...host).toFixed(1)} ms`,
    );
    expect(Math.max(...host)).toBeLessThan(100);
  });
});

describe("install, sudo and package signatures", () => {
  test("has no container CLI until the package is installed with sudo installer", async ({ mac }) => {
    const sim = await mac({ installedVersion: null });
    expect((await sh(sim, "command -v container")).code).not.toBe(0);
    const pkg = makeInstallerPkg(join(sim.runnerTemp, "container-1.2.1-installer-signed.pkg"), {
      version: "1.2.1",
    });
    const sig = await sh(sim, `pkgutil --check-signature ${pkg}`);
    expect(sig.code).toBe(0);
    expect(sig.stdout).toContain(
      "Status: signed by a developer certificate issued by Apple for distribution",
    );
    expect(sig.stdout).toContain("1. Developer ID Installer: Apple Inc. - Containerization (UPBK2H6LZM)");
    expect(await sh(sim, `installer -pkg ${pkg} -target /`)).toMatchObject({
      code: 1,
      stderr: "installer: Must be run as root to install this package.\n",
    });
    const inst = await sh(sim, `sudo -n installer -pkg ${pkg} -target /`);
    expect(inst.code).toBe(0);
    expect(inst.stdout).toContain("The install was successful.");
    expect((await sh(sim, "container --version")).stdout).toContain("version 1.2.1 ");
    expect(sim.installedVersion).toBe("1.2.1");
    expect(sim.calls.some((c) => c.tool === "installer" && c.via === "sudo" && c.code === 0)).toBe(true);
  });

  test("reports unsigned packages and password-protected sudo", async ({ mac }) => {
    const sim = await mac({ sudo: "password" });
    const pkg = makeInstallerPkg(join(sim.runnerTemp, "evil.pkg"), { version: "1.2.2", signer: null });
    expect(await sh(sim, `pkgutil --check-signature ${pkg}`)).toMatchObject({
      code: 1,
      stdout: 'Package "evil.pkg":\n   Status: no signature\n',
    });
    expect(await sh(sim, `sudo -n installer -pkg ${pkg} -target /`)).toMatchObject({
      code: 1,
      stderr: "sudo: a password is required\n",
    });
  });
});

describe("the container CLI's service, kernel and errors", () => {
  const shared = (sharedMac: SharedMac) => sharedMac("service", {});

  test("refuses every command while the service is stopped", async ({ sharedMac }) => {
    const sim = await shared(sharedMac);
    const r = await sh(sim, "container list");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("XPC connection error");
    expect(r.stderr).toContain(
      "Ensure container system service has been started with `container system start`.",
    );
    expect(await sh(sim, "container system status")).toMatchObject({
      code: 1,
      stdout: "apiserver is not running and not registered with launchd\n",
    });
  });

  test("fails the kernel prompt on closed stdin, then installs the recommended kernel on request", async ({
    sharedMac,
  }) => {
    const sim = await shared(sharedMac);
    const start = await sh(sim, "container system start");
    expect(start.code).toBe(1);
    expect(start.stdout).toContain(
      "Install the recommended default kernel from [https://github.com/kata-containers/kata-containers/releases/download/3.28.0/kata-static-3.28.0-arm64.tar.zst]? [Y/n]: ",
    );
    expect(start.stderr).toBe('Error: internalError: "failed to read user input"\n');
    expect(sim.serviceRunning).toBe(true);
    const status = JSON.parse((await sh(sim, "container system status --format json")).stdout);
    expect(status).toMatchObject({
      status: "running",
      appRoot: expect.stringContaining(join(sim.home, "Library/Application Support/com.apple.container")),
    });

    const run = await sh(sim, `container run -d --name ${N} ${NODE_IMAGE}`);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("default kernel not configured for architecture arm64");
    expect(sim.counters.pulls).toBe(1);

    expect((await sh(sim, "container system kernel set --recommended --force")).code).toBe(0);
    expect(sim.counters.kernelDownloads).toBe(1);
    const link = join(sim.appRoot, "kernels", "default.kernel-arm64");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(join(sim.appRoot, "kernels", "vmlinux-6.18.15-186"));
  });

  test("runs a node and answers with the real errors for conflicts and unknown ids", async ({
    sharedMac,
  }) => {
    const sim = await shared(sharedMac);
    expect(await sh(sim, `container run -d --name ${N} -l role=cp ${NODE_IMAGE}`)).toMatchObject({
      code: 0,
      stdout: `${N}\n`,
    });
    expect(sim.counters.pulls).toBe(1); // already pulled
    expect((await sh(sim, `container run -d --name ${N} ${NODE_IMAGE}`)).stderr).toBe(
      `Error: exists: "container with id ${N} already exists"\n`,
    );
    const rm = await sh(sim, `container rm ${N}`);
    expect(rm.code).toBe(1);
    expect(rm.stderr).toContain(`container ${N} is running and can not be deleted`);
    expect((await sh(sim, "container inspect nope")).stderr).toBe(
      'Error: notFound: "container not found: nope"\n',
    );
    expect((await sh(sim, "container exec nope true")).stderr).toBe(
      'Error: notFound: "get failed: container nope not found"\n',
    );
    expect((await sh(sim, "container run --bogus x")).code).toBe(64);
    const ls = JSON.parse((await sh(sim, "container list --format json")).stdout);
    expect(ls[0]).toMatchObject({
      id: N,
      configuration: { labels: { role: "cp" } },
      status: { state: "running" },
    });
    expect(sim.containers()).toMatchObject([
      { name: N, state: "running", labels: { role: "cp" }, ip: "127.0.64." + sim.node(N).ip.split(".")[3] },
    ]);
    const images = JSON.parse((await sh(sim, "container image ls --format json")).stdout);
    expect(images[0].configuration.name).toBe(`docker.io/${NODE_IMAGE}`);
  });

  test("fails run when the published host port is taken and leaves no container", async ({ sharedMac }) => {
    const sim = await shared(sharedMac);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await sh(sim, `container run -d --name other -p 127.0.0.1:${port}:6443 ${NODE_IMAGE}`);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("Address already in use");
      expect(sim.containers().map((c) => c.name)).not.toContain("other");
    } finally {
      blocker.close();
    }
  });

  test("stops everything on system stop", async ({ sharedMac }) => {
    const sim = await shared(sharedMac);
    expect((await sh(sim, "container system stop")).code).toBe(0);
    expect(sim.serviceRunning).toBe(false);
    expect(sim.containers().every((c) => c.state === "stopped")).toBe(true);
  });
});

describe("container releases 1.3.x, 1.4.1 and 1.5.0", () => {
  const status = async (sim: Simulator) => {
    const r = await sh(sim, "container system status --format json");
    return { code: r.code, raw: r.stdout, json: JSON.parse(r.stdout) };
  };

  test("1.3.x prints the flat status, with the slashes its JSON encoder escaped", async ({ mac }) => {
    const sim = await mac({ installedVersion: "1.3.1", serviceRunning: true });
    const s = await status(sim);
    expect(s.code).toBe(0);
    expect(s.raw).toContain('"installRoot":"\\/usr\\/local\\/"');
    expect(s.json).toMatchObject({
      status: "running",
      appRoot: `${sim.appRoot}/`,
      apiServerVersion: expect.stringMatching(/^container-apiserver version 1\.3\.1 /),
    });
    await sh(sim, "container system stop");
    expect(await status(sim)).toMatchObject({ code: 1, json: { status: "unregistered", appRoot: "" } });
  });

  test("1.4.1+ prints the nested status with both versions, and only the status when down", async ({
    mac,
  }) => {
    const sim = await mac({ installedVersion: "1.4.1", serviceRunning: true, kernelInstalled: true });
    await sh(sim, `container run -d --name ${N} ${NODE_IMAGE}`);
    const s = await status(sim);
    expect(s.raw).not.toContain("\\/");
    expect(s.json).toEqual({
      status: "running",
      client: { appName: "container", build: "release", commit: expect.any(String), version: "1.4.1" },
      server: {
        appName: "container-apiserver",
        build: "release",
        commit: expect.any(String),
        version: "1.4.1",
      },
      host: { architecture: "arm64", cpus: 8, operatingSystem: "macOS 26.1" },
      paths: { appRoot: `${sim.appRoot}/`, installRoot: "/usr/local/" },
      resources: { containersRunning: 1, containersTotal: 1, images: 1 },
    });
    await sh(sim, "container system stop");
    expect(await status(sim)).toEqual({
      code: 1,
      raw: '{"status":"unregistered"}\n',
      json: { status: "unregistered" },
    });
  });

  test("1.3.0+ recommends kata 3.32.0's kernel; 1.5.0 cannot set it before <appRoot>/kernels/ exists", async ({
    mac,
  }) => {
    const sim = await mac({ installedVersion: "1.5.0", serviceRunning: true });
    const bare = await sh(sim, "container system kernel set --recommended --force");
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain("the folder containing the latter doesn’t exist");
    expect(existsSync(join(sim.appRoot, "kernels"))).toBe(false);
    await sh(sim, `mkdir -p '${join(sim.appRoot, "kernels")}'`);
    expect((await sh(sim, "container system kernel set --recommended --force")).code).toBe(0);
    expect(readlinkSync(join(sim.appRoot, "kernels", "default.kernel-arm64"))).toBe(
      join(sim.appRoot, "kernels", "vmlinux-6.18.35-197-debug"),
    );
  });

  test("a .pkg upgrade under a running service leaves the old apiserver running (skew) until a restart", async ({
    mac,
  }) => {
    const sim = await mac({ installedVersion: "1.4.1", serviceRunning: true });
    const pkg = makeInstallerPkg(join(sim.runnerTemp, "container-1.5.0-installer-signed.pkg"), {
      version: "1.5.0",
    });
    expect((await sh(sim, `sudo -n installer -pkg ${pkg} -target /`)).code).toBe(0);
    expect((await status(sim)).json).toMatchObject({
      client: { version: "1.5.0" },
      server: { version: "1.4.1" },
    });
    await sh(sim, "container system stop");
    await sh(sim, "container system start --disable-kernel-install");
    expect((await status(sim)).json).toMatchObject({
      client: { version: "1.5.0" },
      server: { version: "1.5.0" },
    });
  });

  test("1.4.0 was never released: nothing serves its installer", async ({ mac }) => {
    await expect(startDownloadServer({ dir: "/nonexistent", installers: { "1.4.0": {} } })).rejects.toThrow(
      /1\.4\.0 was never released/,
    );
    const sim = await mac({});
    const dl = await startDownloadServer({ dir: sim.runnerTemp, installers: { "1.3.1": {}, "1.4.1": {} } });
    try {
      const get = (v: string) => fetch(dl.installerUrl.replaceAll("{version}", v)).then((r) => r.status);
      expect(await get("1.4.1")).toBe(200);
      expect(await get("1.4.0")).toBe(404);
    } finally {
      await dl.close();
    }
  });

  test("another package manager's CLI earlier on PATH answers as its own version", async ({ mac }) => {
    const sim = await mac({ installedVersion: "1.2.2", shadowingCli: "1.2.0" });
    expect((await sh(sim, "command -v container")).stdout.trim()).toBe(join(sim.shadowDir!, "container"));
    expect((await sh(sim, "container --version")).stdout).toContain("version 1.2.0 ");
    expect((await sh(sim, `${join(sim.installDir, "container")} --version`)).stdout).toContain(
      "version 1.2.2 ",
    );
  });
});

describe("inspect shapes", () => {
  for (const shape of ["1.x", "0.8", "0.7"] as const) {
    test(`prints the ${shape} shape`, async ({ mac }) => {
      const sim = await mac({ serviceRunning: true, kernelInstalled: true, inspectShape: shape });
      await sh(sim, `container run -d --name ${N} -p 127.0.0.1:${await freePort()}:6443 ${NODE_IMAGE}`);
      const [c] = JSON.parse((await sh(sim, `container inspect ${N}`)).stdout);
      const ip = sim.node(N).ip;
      expect(ip).toMatch(/^127\.0\.64\.\d+$/);
      if (shape === "1.x") {
        expect(c.status.state).toBe("running");
        expect(c.status.networks[0]).toMatchObject({
          network: "default",
          hostname: N,
          ipv4Address: `${ip}/24`,
          ipv4Gateway: "127.0.64.1",
          mtu: 1280,
        });
        expect(c.configuration.publishedPorts[0]).toMatchObject({
          hostAddress: "127.0.0.1",
          containerPort: 6443,
          proto: "tcp",
        });
      } else {
        expect(c.status).toBe("running");
        const key = shape === "0.8" ? "ipv4Address" : "address";
        expect(c.networks[0][key]).toBe(`${ip}/24`);
      }
    });
  }
});

describe("pretend-darwin preload", () => {
  it("makes process.platform and node:os named imports read darwin/arm64", async () => {
    const code = `import { platform, arch, type } from "node:os"; import os from "node:os";
      console.log(JSON.stringify([process.platform, process.arch, platform(), arch(), type(), os.platform(), os.release()]));`;
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(NODE24, ["--import", PRETEND_DARWIN, "--input-type=module", "-e", code], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let s = "";
      p.stdout.on("data", (d: Buffer) => (s += d.toString()));
      p.on("error", reject);
      p.on("close", () => resolve(s));
    });
    expect(JSON.parse(out)).toEqual(["darwin", "arm64", "darwin", "arm64", "Darwin", "darwin", "25.1.0"]);
  });

  test("reports the simulated Mac's CPUs and memory when the simulator passes them, the host's otherwise", async ({
    mac,
  }) => {
    const code = `import { cpus, totalmem, availableParallelism } from "node:os";
      console.log(JSON.stringify([cpus().length, availableParallelism(), totalmem()]));`;
    const run = (env: Record<string, string>) =>
      new Promise<number[]>((resolve, reject) => {
        const p = spawn(NODE24, ["--import", PRETEND_DARWIN, "--input-type=module", "-e", code], {
          stdio: ["ignore", "pipe", "inherit"],
          env: { PATH: process.env.PATH, ...env },
        });
        let s = "";
        p.stdout.on("data", (d: Buffer) => (s += d.toString()));
        p.on("error", reject);
        p.on("close", () => resolve(JSON.parse(s) as number[]));
      });
    const sim = await mac({ ncpu: 12, memsize: 34_359_738_368 });
    expect(
      await run({ KINA_SIM_NCPU: sim.env.KINA_SIM_NCPU!, KINA_SIM_MEMSIZE: sim.env.KINA_SIM_MEMSIZE! }),
    ).toEqual([12, 12, 34_359_738_368]);
    expect(await run({})).toEqual([os.cpus().length, os.availableParallelism(), os.totalmem()]);
  });
});

describe("runner harness", () => {
  const entry = join(import.meta.dirname, "fixtures", "echo-action.mjs");

  it("passes inputs as INPUT_<NAME> with hyphens kept, and carries state, env and path to post", async () => {
    const { main, post } = await runJob({ inputs: { "pod-subnet": "10.9.0.0/16" }, entry });
    expect(main.stderr).toBe("");
    expect(main.code).toBe(0);
    expect(main.outputs).toMatchObject({
      "pod-subnet": "10.9.0.0/16",
      multi: "line one\nline two",
      platform: "darwin",
    });
    expect(main.outputs["cluster-name"]).toBe(actionDefaults()["cluster-name"] ?? "");
    expect(main.state).toEqual({ saved: "10.9.0.0/16|darwin" });
    expect(main.exportedEnv).toEqual({ KINA_EXPORTED: "yes" });
    expect(main.path).toEqual(["/opt/kina-extra/bin"]);
    expect(main.summary).toContain("summary from main");
    expect(post.outputs).toEqual({
      "post-saw-state": "10.9.0.0/16|darwin",
      "post-saw-env": "yes",
      "post-saw-path": "/opt/kina-extra/bin",
    });
  });

  it("extracts ::error:: lines and still runs post after a failed main", async () => {
    const { main, post } = await runJob({ inputs: { "pod-subnet": "10.9.0.0/16", fail: "true" }, entry });
    expect(main.code).toBe(1);
    expect(errors(main.stdout)).toEqual(["it broke\non two lines"]);
    expect(post.code).toBe(0);
  });

  it("fails a required input that is not given", async () => {
    const r = await runStep("main", { entry, inputs: { "pod-subnet": "" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Input required and not supplied: pod-subnet");
  });

  test("runs a step where the simulator's install folder is /usr/local/bin, and PATH says so", async ({
    mac,
  }) => {
    const sim = await mac({ installedVersion: "1.4.1" });
    const probe = join(sim.runnerTemp, "probe.mjs");
    writeFileSync(
      probe,
      [
        'import { execFileSync } from "node:child_process";',
        'import { appendFileSync, realpathSync } from "node:fs";',
        'const which = execFileSync("/bin/sh", ["-c", "command -v container"]).toString().trim();',
        'const version = execFileSync("container", ["--version"]).toString().trim();',
        'appendFileSync(process.env.GITHUB_OUTPUT, `which=${which}\\nreal=${realpathSync(which)}\\nversion=${version}\\ninput=${process.env["INPUT_POD-SUBNET"]}\\n`);',
      ].join("\n"),
    );
    const r = await runStep("main", { sim, entry: probe, inputs: { "pod-subnet": "10.9.0.0/16" } });
    expect(r.stderr).toBe("");
    expect(r.outputs).toEqual({
      which: "/usr/local/bin/container",
      real: CLIENT_SCRIPT,
      version: "container CLI version 1.4.1 (build: release, commit: 0190097)",
      input: "10.9.0.0/16",
    });
    // The machine's own /usr/local/bin is untouched.
    expect(existsSync("/usr/local/bin/.sim.sock")).toBe(false);
  });

  it("parses both file command forms", () => {
    expect(parseFileCommands("a=1\nb<<EOF_X\nx\ny\nEOF_X\nc=\n")).toEqual({ a: "1", b: "x\ny", c: "" });
  });
});
