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
  installerAsset,
  installerUrl,
  INSTALLER_SIGNER,
  signatureProblem,
} from "../../src/steps/cli.js";
import { makeInstallerPkg } from "../sim/macos-tools.ts";
import { startDownloadServer, type DownloadServer } from "../sim/download-server.ts";
import type { Simulator, SimulatorOptions } from "../sim/simulator.ts";
import { runProcess } from "../../src/process.js";
import { describe, expect, test, vi, type MacFixtures } from "../fixtures/mac.ts";

const OTHER = "Developer ID Installer: Someone Else (ABCDE12345)";
let dl: DownloadServer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kina-cli-test-"));
  dl = await startDownloadServer({
    dir,
    installers: { "1.2.2": {}, "1.1.0": {}, "1.0.0": { signer: OTHER }, "0.12.0": { signer: null } },
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

describe("ensureCli", () => {
  test("does nothing when the requested version is installed", async ({ onMac }) => {
    const s = await runner(onMac, { installedVersion: "1.2.2" });
    const r = await ensureCli(new ContainerCli(), { version: "1.2.2", installerUrl: dl.installerUrl });
    expect(r).toEqual({ version: "1.2.2", stoppedService: false });
    expect(s.calls.map((c) => c.tool)).toEqual(["container"]);
    expect(dl.log).toEqual([]);
  });

  test("container-version: installed takes what is there, and says what to do when nothing is", async ({
    onMac,
  }) => {
    const first = await runner(onMac, { installedVersion: "0.12.0" });
    expect((await ensureCli(new ContainerCli(), { version: "installed" })).version).toBe("0.12.0");
    await first.stop();
    await runner(onMac, { installedVersion: null });
    await expect(ensureCli(new ContainerCli(), { version: "installed" })).rejects.toThrow(
      /not installed.*set container-version/,
    );
  });

  test("upgrades: downloads, verifies, stops the running service, installs with sudo -n, keeps the installer", async ({
    onMac,
  }) => {
    const toolCache = mkdtempSync(join(dir, "tc-"));
    const before = dl.counters.installer;
    let s = await runner(onMac, { installedVersion: "1.1.0", serviceRunning: true }, toolCache);
    const r = await ensureCli(new ContainerCli(), { version: "1.2.2", installerUrl: dl.installerUrl });
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
    expect(await ensureCli(new ContainerCli(), { version: "1.2.2", installerUrl: dl.installerUrl })).toEqual({
      version: "1.2.2",
      stoppedService: false,
    });
    expect(dl.counters.installer - before).toBe(1);
    expect(s.calls.filter((c) => c.tool === "pkgutil")).toHaveLength(1);
    expect(s.calls.some((c) => c.tool === "container" && c.argv[0] === "system")).toBe(false); // nothing to stop
  });

  test.for([
    ["another Developer ID", "1.0.0", /signed by 'Developer ID Installer: Someone Else/],
    ["no signature", "0.12.0", /no signature/],
  ] as Array<[string, string, RegExp]>)(
    "stops before installing a package with %s, and does not keep it",
    async ([, version, reason], { onMac }) => {
      const toolCache = mkdtempSync(join(dir, "tc-"));
      const s = await runner(onMac, { installedVersion: "1.2.2", serviceRunning: true }, toolCache);
      const err = await ensureCli(new ContainerCli(), { version, installerUrl: dl.installerUrl }).catch(
        (e: Error) => e,
      );
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
    await expect(
      ensureCli(new ContainerCli(), { version: "1.2.2", installerUrl: dl.installerUrl, pins: wrong }),
    ).rejects.toThrow(/checksum: expected sha256 0{64}, got [0-9a-f]{64}/);
    expect(sudoCalls(s)).toEqual([]);
    const bytes = dl.file("/apple/container/releases/download/1.2.2/container-1.2.2-installer-signed.pkg")!;
    const right = { "1.2.2": createHash("sha256").update(bytes).digest("hex").toUpperCase() };
    expect(
      (await ensureCli(new ContainerCli(), { version: "1.2.2", installerUrl: dl.installerUrl, pins: right }))
        .version,
    ).toBe("1.2.2");
  });

  test("explains what to do when sudo wants a password, and restarts the service it stopped", async ({
    onMac,
  }) => {
    const s = await runner(
      onMac,
      { installedVersion: "1.1.0", serviceRunning: true, sudo: "password" },
      mkdtempSync(join(dir, "tc-")),
    );
    await expect(
      ensureCli(new ContainerCli(), { version: "1.2.2", installerUrl: dl.installerUrl }),
    ).rejects.toThrow(
      /needs sudo without a password.*passwordless sudo for \/usr\/sbin\/installer.*container-version: installed/,
    );
    expect(installs(s)).toEqual([]);
    expect(s.installedVersion).toBe("1.1.0");
    expect(s.serviceRunning).toBe(true);
  });

  test("installs where no CLI is installed yet, from a file:// mirror", async ({ onMac }) => {
    const s = await runner(onMac, { installedVersion: null }, mkdtempSync(join(dir, "tc-")));
    const pkg = makeInstallerPkg(join(dir, "mirror-1.1.0.pkg"), { version: "1.1.0" });
    const r = await ensureCli(new ContainerCli(), {
      version: "1.1.0",
      installerUrl: pathToFileURL(pkg).href.replace("1.1.0", "{version}"),
    });
    expect(r).toEqual({ version: "1.1.0", stoppedService: false });
    expect(s.installedVersion).toBe("1.1.0");
  });

  test("names the URL when a release has no installer", async ({ onMac }) => {
    await runner(onMac, { installedVersion: "1.2.2" }, mkdtempSync(join(dir, "tc-")));
    await expect(
      ensureCli(new ContainerCli(), { version: "9.9.9", installerUrl: dl.installerUrl }),
    ).rejects.toThrow(
      /could not download http:\/\/127\.0\.0\.1:\d+\/apple\/container\/releases\/download\/9\.9\.9\/container-9\.9\.9-installer-signed\.pkg: HTTP 404/,
    );
  });
});
