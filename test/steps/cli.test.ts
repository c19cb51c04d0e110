// ensureCli against the simulated runner (fake container, pkgutil, sudo, installer on PATH) and a
// loopback release server; the real @actions/tool-cache downloads and keeps the installer.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as tc from "@actions/tool-cache";
import { afterAll, beforeAll, it } from "vitest";
import { ContainerCli } from "../../src/container/cli.js";
import {
  ensureCli,
  INSTALL_PATH,
  INSTALLER_SHA256,
  installerAsset,
  installerUrl,
  INSTALLER_SIGNER,
  planCli,
  signatureProblem,
  type CliOptions,
} from "../../src/steps/cli.js";
import { CREATED_BY, LABEL } from "../../src/steps/node-vm.js";
import { runnerId } from "../../src/ownership.js";
import { makeInstallerPkg } from "../sim/macos-tools.ts";
import { startDownloadServer, type DownloadServer } from "../sim/download-server.ts";
import { hostShell, type Simulator, type SimulatorOptions } from "../sim/simulator.ts";
import { runProcess } from "../../src/process.js";
import { describe, expect, test, vi, type MacFixtures } from "../fixtures/mac.ts";

const OTHER = "Developer ID Installer: Someone Else (ABCDE12345)";
let dl: DownloadServer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kina-cli-test-"));
  dl = await startDownloadServer({
    dir,
    installers: {
      "1.2.2": {},
      "1.2.1": { signer: null },
      "1.3.0": { signer: OTHER },
      "1.5.0": {},
    },
  });
});
afterAll(async () => {
  await dl.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A simulated runner whose environment this process (the action) uses, with its own tool cache. */
async function runner(
  onMac: MacFixtures["onMac"],
  opts: SimulatorOptions,
  toolCache?: string,
): Promise<Simulator> {
  const sim = await onMac(opts);
  if (toolCache) vi.stubEnv("RUNNER_TOOL_CACHE", toolCache);
  return sim;
}

const installs = (s: Simulator) => s.calls.filter((c) => c.tool === "installer");
const stops = (s: Simulator) =>
  s.calls.filter((c) => c.tool === "container" && c.argv[0] === "system" && c.argv[1] === "stop");

/** ensureCli as main calls it, with the simulator's install folder standing in for /usr/local/bin. */
function ensure(s: Simulator, opts: CliOptions) {
  return ensureCli(new ContainerCli(), {
    installPath: join(s.installDir, "container"),
    env: { RUNNER_NAME: "this-runner" },
    ...opts,
  });
}

/**
 * A running node VM of some job; `runner` labels it as this action's node of that runner (its install:
 * `runnerEnv`, by default a runner of that name with no folder, as `ensure` runs; null: no runner-id label).
 */
async function runningContainer(
  s: Simulator,
  name: string,
  runner?: string,
  runnerEnv: NodeJS.ProcessEnv | null = { RUNNER_NAME: runner },
): Promise<void> {
  const id = runnerEnv ? ` -l ${LABEL.runnerId}=${runnerId(runnerEnv)}` : "";
  const labels = runner
    ? `-l ${LABEL.createdBy}=${CREATED_BY} -l ${LABEL.runner}=${runner}${id} -l ${LABEL.job}=org/repo/1/e2e`
    : "";
  const r = await hostShell(s, `container run -d --name ${name} ${labels} docker.io/library/nginx:1.27`);
  expect(r.code, r.stderr).toBe(0);
}

/** The sha256 of what the loopback release server serves for `version`. */
const servedSha256 = (version: string) =>
  createHash("sha256")
    .update(
      dl.file(`/apple/container/releases/download/${version}/container-${version}-installer-signed.pkg`)!,
    )
    .digest("hex");
const sudoCalls = (s: Simulator) => s.calls.filter((c) => c.tool === "sudo");

describe("installer naming", () => {
  it.each([
    ["0.5.0", "container-0.5.0-installer-signed.pkg"],
    ["0.6.0", "container-0.6.0-installer-signed.pkg"],
    ["0.7.0", "container-installer-signed.pkg"],
    ["0.8.0", "container-installer-signed.pkg"],
    ["0.9.0", "container-installer-signed.pkg"],
    ["0.10.0", "container-0.10.0-installer-signed.pkg"],
    ["1.2.2", "container-1.2.2-installer-signed.pkg"],
  ])("%s → %s", (v, asset) => {
    expect(installerAsset(v)).toBe(asset);
    expect(installerUrl(v)).toBe(`https://github.com/apple/container/releases/download/${v}/${asset}`);
  });

  it("fills every {version} of a mirror template", () => {
    expect(installerUrl("1.2.2", "https://m.example/{version}/c-{version}.pkg")).toBe(
      "https://m.example/1.2.2/c-1.2.2.pkg",
    );
  });
});

describe("signatureProblem", () => {
  async function check(onMac: MacFixtures["onMac"], signer: string | null): Promise<string | undefined> {
    await runner(onMac, {});
    const pkg = makeInstallerPkg(join(dir, `sig-${Math.random()}.pkg`), { version: "1.2.2", signer });
    const r = await runProcess("pkgutil", ["--check-signature", pkg], { timeoutMs: 10_000 });
    return signatureProblem(r.stdout + r.stderr, r.code);
  }

  test("accepts Apple's Containerization certificate", async ({ onMac }) => {
    expect(await check(onMac, INSTALLER_SIGNER)).toBeUndefined();
  });
  test("refuses another Developer ID", async ({ onMac }) => {
    expect(await check(onMac, OTHER)).toContain("Someone Else");
  });
  test("refuses an unsigned package", async ({ onMac }) => {
    expect(await check(onMac, null)).toMatch(/exited 1.*no signature/);
  });
  it("refuses a certificate chain that is not trusted, even with the right name", () => {
    const out = `Package "x.pkg":\n   Status: signed by untrusted certificate\n   Certificate Chain:\n    1. ${INSTALLER_SIGNER}\n`;
    expect(signatureProblem(out, 0)).toContain("untrusted");
  });
});

describe("planCli (the container-version policy)", () => {
  it.each([
    // default: keep any supported CLI, never downgrade; install the newest tested when it cannot work
    ["supported", "1.5.0", { use: "1.5.0" }],
    ["supported", "1.2.1", { use: "1.2.1" }],
    ["supported", "1.6.0", { use: "1.6.0" }],
    ["supported", undefined, { install: "1.5.0", because: "no container CLI is installed" }],
    [
      "supported",
      "1.2.0",
      { install: "1.5.0", because: expect.stringMatching(/cannot work: 1\.2\.0 mounts \/proc\/sys/) },
    ],
    ["supported", "1.1.0", { install: "1.5.0", because: expect.stringMatching(/older than .* 1\.2\.1/) }],
    // an exact pin installs that release, up or down
    ["1.3.1", "1.3.1", { use: "1.3.1" }],
    ["1.3.1", "1.5.0", { install: "1.3.1", because: "container-version pins 1.3.1 and 1.5.0 is installed" }],
    ["1.5.0", undefined, { install: "1.5.0", because: "container-version pins 1.5.0 and none is installed" }],
    ["installed", "1.4.1", { use: "1.4.1" }],
  ] as const)("%s with %s installed → %o", (policy, have, plan) => {
    expect(planCli(policy, have)).toEqual(plan);
  });

  it.each([
    [undefined, /not installed \(container-version: installed\); install container 1\.5\.0/],
    [
      "1.2.0",
      /cannot run this action: 1\.2\.0 mounts \/proc\/sys read-only.*; install container 1\.5\.0.*or set container-version/,
    ],
    ["0.12.0", /older than the oldest supported release, 1\.2\.1/],
  ])("'installed' refuses %s, saying why and what to do", (have, message) => {
    expect(() => planCli("installed", have)).toThrow(message);
  });
});

describe("ensureCli", () => {
  test("does nothing when the requested version is installed", async ({ onMac }) => {
    const s = await runner(onMac, { installedVersion: "1.2.2" });
    const r = await ensure(s, { version: "1.2.2", installerUrl: dl.installerUrl });
    expect(r).toEqual({ version: "1.2.2", stoppedService: false });
    expect(s.calls.map((c) => c.tool)).toEqual(["container"]);
    expect(dl.log).toEqual([]);
  });

  test("container-version: installed takes what is there, and refuses what cannot work before touching anything", async ({
    onMac,
  }) => {
    let s = await runner(onMac, { installedVersion: "1.2.1" });
    expect((await ensure(s, { version: "installed" })).version).toBe("1.2.1");
    s = await runner(onMac, { installedVersion: "1.2.0", serviceRunning: true });
    await expect(ensure(s, { version: "installed" })).rejects.toThrow(/1\.2\.0 mounts \/proc\/sys read-only/);
    expect(s.calls.map((c) => [c.tool, ...c.argv].join(" "))).toEqual(["container --version"]);
    s = await runner(onMac, { installedVersion: null });
    await expect(ensure(s, { version: "installed" })).rejects.toThrow(/not installed.*container-version/);
  });

  test("the default keeps a newer CLI than the newest tested, with a notice, and never downgrades", async ({
    onMac,
  }) => {
    const s = await runner(onMac, { installedVersion: "1.6.0", serviceRunning: true });
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (
      out.push(String(chunk)),
      true
    )) as typeof process.stdout.write;
    try {
      expect(await ensure(s, { version: "supported", installerUrl: dl.installerUrl })).toEqual({
        version: "1.6.0",
        stoppedService: false,
      });
    } finally {
      process.stdout.write = write;
    }
    expect(out.join("")).toMatch(
      /::notice::container 1\.6\.0 is newer than the newest release this action is tested with \(1\.5\.0\)/,
    );
    expect(dl.log).toEqual([]);
    expect(stops(s)).toEqual([]);
  });

  test("upgrades: downloads, verifies, stops the running service, installs with sudo -n, keeps the installer", async ({
    onMac,
  }) => {
    const toolCache = mkdtempSync(join(dir, "tc-"));
    const before = dl.counters.installer;
    let s = await runner(onMac, { installedVersion: "1.1.0", serviceRunning: true }, toolCache);
    const r = await ensure(s, { version: "1.2.2", installerUrl: dl.installerUrl });
    expect(r).toEqual({ version: "1.2.2", stoppedService: true });
    expect(s.installedVersion).toBe("1.2.2");
    expect(s.serviceRunning).toBe(false);
    expect(dl.counters.installer - before).toBe(1);
    const order = s.calls.map((c) => [c.tool, ...c.argv.slice(0, 2)].join(" "));
    const at = (prefix: string) => order.findIndex((l) => l.startsWith(prefix));
    expect(at("pkgutil --check-signature")).toBeGreaterThan(-1);
    expect(at("pkgutil")).toBeLessThan(at("container system stop"));
    expect(at("container system stop")).toBeLessThan(at("sudo -n installer"));
    expect(installs(s)).toHaveLength(1);
    expect(installs(s)[0]!.argv).toEqual([
      "-pkg",
      expect.stringMatching(/container-1\.2\.2-installer-signed\.pkg$/),
      "-target",
      "/",
    ]);
    expect(installs(s)[0]!.via).toBe("sudo");
    const kept = tc.find("container-installer", "1.2.2", "arm64");
    expect(readFileSync(join(kept, "container-1.2.2-installer-signed.pkg"))).toEqual(
      dl.file("/apple/container/releases/download/1.2.2/container-1.2.2-installer-signed.pkg"),
    );

    // The next job on this runner takes it from the tool cache, and still checks the signature.
    await s.stop();
    s = await runner(onMac, { installedVersion: null }, toolCache);
    expect(await ensure(s, { version: "1.2.2", installerUrl: dl.installerUrl })).toEqual({
      version: "1.2.2",
      stoppedService: false,
    });
    expect(dl.counters.installer - before).toBe(1);
    expect(s.calls.filter((c) => c.tool === "pkgutil")).toHaveLength(1);
    expect(s.calls.some((c) => c.tool === "container" && c.argv[0] === "system")).toBe(false); // nothing to stop
  });

  test("the default installs the newest tested release where the installed one cannot work", async ({
    onMac,
  }) => {
    const s = await runner(onMac, { installedVersion: "1.2.0" }, mkdtempSync(join(dir, "tc-")));
    const pins = { "1.5.0": servedSha256("1.5.0") };
    expect(await ensure(s, { version: "supported", installerUrl: dl.installerUrl, pins })).toEqual({
      version: "1.5.0",
      stoppedService: false,
    });
    expect(s.installedVersion).toBe("1.5.0");
  });

  test("pins the published SHA-256 of 1.3.1, 1.4.1 and 1.5.0, and refuses an Apple-signed package that differs", async ({
    onMac,
  }) => {
    // https://github.com/apple/container/releases (checksums published with each release)
    expect(INSTALLER_SHA256).toEqual({
      "1.3.1": "a7c1b9d7927d30875f2f6c7bd1d0cb06c2daa6ca57ce9e90a5144e898fdf54a8",
      "1.4.1": "c0d2716afefbb194c93fae662e9cae7cc186bcbcf746816608ec673dd648a6a4",
      "1.5.0": "a24808cb202318fa1c3bbee0c6c6887fe1225fe899d7b687a0ddd939bd6573f8",
    });
    // The loopback server's 1.5.0 is signed with Apple's certificate name but is not Apple's package.
    const s = await runner(onMac, { installedVersion: null }, mkdtempSync(join(dir, "tc-")));
    await expect(ensure(s, { version: "supported", installerUrl: dl.installerUrl })).rejects.toThrow(
      /the container 1\.5\.0 installer failed its checksum: expected sha256 a24808cb.*, got [0-9a-f]{64}/,
    );
    expect(sudoCalls(s)).toEqual([]);
    expect(tc.find("container-installer", "1.5.0", "arm64")).toBe("");
  });

  test.for([
    ["another Developer ID", "1.3.0", /signed by 'Developer ID Installer: Someone Else/],
    ["no signature", "1.2.1", /no signature/],
  ] as Array<[string, "1.3.0" | "1.2.1", RegExp]>)(
    "stops before installing a package with %s, and does not keep it",
    async ([, version, reason], { onMac }) => {
      const toolCache = mkdtempSync(join(dir, "tc-"));
      const s = await runner(onMac, { installedVersion: "1.2.2", serviceRunning: true }, toolCache);
      const err = await ensure(s, { version, installerUrl: dl.installerUrl }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/failed verification, not installing/);
      expect((err as Error).message).toMatch(reason);
      expect(sudoCalls(s)).toEqual([]);
      expect(s.serviceRunning).toBe(true);
      expect(s.installedVersion).toBe("1.2.2");
      expect(tc.find("container-installer", version, "arm64")).toBe("");
    },
  );

  test("checks a pinned sha256 on top of the signature", async ({ onMac }) => {
    const toolCache = mkdtempSync(join(dir, "tc-"));
    const s = await runner(onMac, { installedVersion: "1.1.0" }, toolCache);
    const wrong = { "1.2.2": "0".repeat(64) };
    await expect(ensure(s, { version: "1.2.2", installerUrl: dl.installerUrl, pins: wrong })).rejects.toThrow(
      /checksum: expected sha256 0{64}, got [0-9a-f]{64}/,
    );
    expect(sudoCalls(s)).toEqual([]);
    const right = { "1.2.2": servedSha256("1.2.2").toUpperCase() };
    expect((await ensure(s, { version: "1.2.2", installerUrl: dl.installerUrl, pins: right })).version).toBe(
      "1.2.2",
    );
  });

  // Behaviour change (defect 7): sudo is asked (`sudo -n -l`) before the stop, not found out after it.
  test("explains what to do when sudo wants a password, before stopping anything", async ({ onMac }) => {
    const s = await runner(
      onMac,
      { installedVersion: "1.1.0", serviceRunning: true, sudo: "password" },
      mkdtempSync(join(dir, "tc-")),
    );
    await expect(ensure(s, { version: "1.2.2", installerUrl: dl.installerUrl })).rejects.toThrow(
      /needs 'sudo -n installer', and sudo does not allow it without a password \(sudo: a password is required\); nothing was stopped or installed\. .*passwordless sudo for \/usr\/sbin\/installer.*container-version: installed/,
    );
    expect(sudoCalls(s).map((c) => c.argv.slice(0, 3).join(" "))).toEqual(["-n -l installer"]);
    expect(stops(s)).toEqual([]);
    expect(installs(s)).toEqual([]);
    expect(s.installedVersion).toBe("1.1.0");
    expect(s.serviceRunning).toBe(true);
  });

  test("starts the service again when the installed version does not answer after the install", async ({
    onMac,
  }) => {
    const s = await runner(
      onMac,
      {
        installedVersion: "1.1.0",
        serviceRunning: true,
        // The package "installs" but leaves the old CLI in place.
        faults: [
          { when: /^sudo -n installer /, code: 0, stdout: "installer: The install was successful.\n" },
        ],
      },
      mkdtempSync(join(dir, "tc-")),
    );
    await expect(ensure(s, { version: "1.2.2", installerUrl: dl.installerUrl })).rejects.toThrow(
      /installed container 1\.2\.2, but 'container --version' reports 1\.1\.0/,
    );
    expect(stops(s)).toHaveLength(1);
    expect(s.serviceRunning).toBe(true);
  });

  test("installs where no CLI is installed yet, from a file:// mirror", async ({ onMac }) => {
    const s = await runner(onMac, { installedVersion: null }, mkdtempSync(join(dir, "tc-")));
    const pkg = makeInstallerPkg(join(dir, "mirror-1.2.1.pkg"), { version: "1.2.1" });
    const r = await ensure(s, {
      version: "1.2.1",
      installerUrl: pathToFileURL(pkg).href.replace("1.2.1", "{version}"),
    });
    expect(r).toEqual({ version: "1.2.1", stoppedService: false });
    expect(s.installedVersion).toBe("1.2.1");
  });

  // Behaviour change (defect 12): a 404 says the release may not exist and names the tested ones.
  test("names the URL when a release has no installer", async ({ onMac }) => {
    const s = await runner(onMac, { installedVersion: "1.2.2" }, mkdtempSync(join(dir, "tc-")));
    await expect(ensure(s, { version: "9.9.9", installerUrl: dl.installerUrl })).rejects.toThrow(
      /the container 9\.9\.9 installer is not at http:\/\/127\.0\.0\.1:\d+\/apple\/container\/releases\/download\/9\.9\.9\/container-9\.9\.9-installer-signed\.pkg \(HTTP 404\): release 9\.9\.9 may not exist on this mirror\. This action is tested with 1\.2\.1, 1\.2\.2, 1\.3\.1, 1\.4\.1, 1\.5\.0/,
    );
  });

  it("installs from Apple's package path by default", () => {
    expect(INSTALL_PATH).toBe("/usr/local/bin/container");
  });
});

describe("ensureCli on a shared Mac", () => {
  test("never stops the service for an upgrade while another runner's containers run", async ({ onMac }) => {
    const s = await runner(onMac, { installedVersion: "1.1.0", serviceRunning: true, kernelInstalled: true });
    await runningContainer(s, "other-control-plane", "other-runner");
    await runningContainer(s, "someones-db");
    const before = dl.counters.installer;
    const err = await ensure(s, { version: "supported", installerUrl: dl.installerUrl }).catch(
      (e: Error) => e,
    );
    expect((err as Error).message).toMatch(
      /installing container 1\.5\.0 \(the installed one cannot work: .*\) needs 'container system stop', which stops every container of this user, and other containers run on this Mac: (other-control-plane \(runner other-runner, job org\/repo\/1\/e2e\), someones-db|someones-db, other-control-plane \(runner other-runner, job org\/repo\/1\/e2e\)); nothing was stopped or installed\. Install container 1\.5\.0 on this Mac beforehand/,
    );
    expect(stops(s)).toEqual([]);
    expect(dl.counters.installer).toBe(before); // refused before downloading 118 MB
    expect(s.containers().map((c) => [c.name, c.state])).toEqual(
      expect.arrayContaining([
        ["other-control-plane", "running"],
        ["someones-db", "running"],
      ]),
    );
    expect(s.installedVersion).toBe("1.1.0");
  });

  test("checks again right before the stop: a container started while the installer downloaded", async ({
    onMac,
  }) => {
    const s = await runner(
      onMac,
      { installedVersion: "1.1.0", serviceRunning: true, kernelInstalled: true },
      mkdtempSync(join(dir, "tc-")),
    );
    // Another job starts its node while this one verifies the downloaded package.
    s.faults.push({
      when: "pkgutil --check-signature",
      times: 1,
      passThrough: true,
      run: () => runningContainer(s, "late-control-plane", "other-runner"),
    });
    await expect(ensure(s, { version: "1.2.2", installerUrl: dl.installerUrl })).rejects.toThrow(
      /other containers run on this Mac: late-control-plane \(runner other-runner, .*\); nothing was stopped or installed/,
    );
    expect(stops(s)).toEqual([]);
    expect(s.containers().map((c) => [c.name, c.state])).toEqual([["late-control-plane", "running"]]);
  });

  test("does not count this runner's own leftover node as another job's", async ({ onMac }) => {
    const s = await runner(
      onMac,
      { installedVersion: "1.1.0", serviceRunning: true, kernelInstalled: true },
      mkdtempSync(join(dir, "tc-")),
    );
    await runningContainer(s, "kina-control-plane", "this-runner");
    expect(await ensure(s, { version: "1.2.2", installerUrl: dl.installerUrl })).toEqual({
      version: "1.2.2",
      stoppedService: true,
    });
  });

  test.for([
    [
      "another install of the same runner name",
      { RUNNER_NAME: "this-runner", RUNNER_TEMP: "/Users/b/_work/_temp" },
    ],
    ["a node labelled by the runner name only (older labels)", null],
  ] as const)("counts %s as another job's", async ([, other], { onMac }) => {
    // Defect 2: RUNNER_NAME is not unique on a Mac; only the runner-id label proves a leftover is ours.
    const s = await runner(
      onMac,
      { installedVersion: "1.1.0", serviceRunning: true, kernelInstalled: true },
      mkdtempSync(join(dir, "tc-")),
    );
    await runningContainer(s, "kina-control-plane", "this-runner", other);
    await expect(ensure(s, { version: "1.2.2", installerUrl: dl.installerUrl })).rejects.toThrow(
      /needs 'container system stop'.*kina-control-plane \(runner this-runner/,
    );
    expect(stops(s)).toEqual([]);
    expect(installs(s)).toEqual([]);
  });

  test("refuses an install that a CLI earlier on PATH would shadow, naming both, before stopping anything", async ({
    onMac,
  }) => {
    // The new user's example: 1.2.0 from another package manager first on PATH, the signed one in
    // /usr/local/bin, container-version 1.2.2.
    const s = await runner(onMac, {
      installedVersion: "1.2.2",
      shadowingCli: "1.2.0",
      serviceRunning: true,
      kernelInstalled: true,
    });
    await runningContainer(s, "unrelated");
    const shadow = join(s.shadowDir!, "container");
    const err = await ensure(s, { version: "1.2.2", installerUrl: dl.installerUrl }).catch((e: Error) => e);
    expect((err as Error).message).toBe(
      `installing container 1.2.2 would not take effect: 'container' on PATH is ${shadow} (1.2.0), which comes before ` +
        `${join(s.installDir, "container")} that Apple's installer writes, so nothing was stopped or installed. ` +
        `Remove ${shadow} (for example 'brew uninstall container') or put ${s.installDir} first on the runner's PATH; ` +
        "or install the CLI you want there yourself and set container-version: installed",
    );
    expect(stops(s)).toEqual([]);
    expect(sudoCalls(s)).toEqual([]);
    expect(s.serviceRunning).toBe(true);
    expect(s.containers().map((c) => c.state)).toEqual(["running"]);
  });

  test("refuses an install its folder is not on PATH for", async ({ onMac }) => {
    const s = await runner(onMac, { installedVersion: null });
    const before = dl.log.length;
    vi.stubEnv(
      "PATH",
      process.env
        .PATH!.split(":")
        .filter((d) => d !== s.installDir)
        .join(":"),
    );
    await expect(ensure(s, { version: "supported", installerUrl: dl.installerUrl })).rejects.toThrow(
      `installing container 1.5.0 puts it in ${join(s.installDir, "container")}, but ${s.installDir} is not on PATH`,
    );
    expect(dl.log.length).toBe(before);
  });
});
