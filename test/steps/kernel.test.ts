// ensureKernel against the simulated container CLI and the real @actions/cache talking to the
// loopback cache service stand-in.
import { existsSync, mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { it } from "vitest";
import { cacheOpener } from "../../src/cache/actions-cache.js";
import { ContainerCli } from "../../src/container/cli.js";
import { saveCaches } from "../../src/steps/cache-save.js";
import { ensureKernel, kernelCacheKey } from "../../src/steps/kernel.js";
import { recommendedKernel } from "../../src/versions.js";
import { hostShell, type Simulator, type SimulatorOptions } from "../sim/simulator.ts";
import { describe, expect, test } from "../fixtures/mac.ts";

/** What main then the post step do: ensure the kernel, then upload what main left to save. */
async function ensureAndSave(version: string, enabled: boolean) {
  const cli = new ContainerCli();
  const open = cacheOpener(enabled);
  const r = await ensureKernel(cli, version, open);
  if (r.save) await saveCaches(cli, [r.save], open);
  return r;
}

const DEFAULTS: SimulatorOptions = { serviceRunning: true };

const K = recommendedKernel("1.2.2");
const binarySets = (s: Simulator) =>
  s.calls.filter((c) => c.tool === "container" && c.argv.includes("--binary"));

describe("ensureKernel", () => {
  it("the key names the kernel file and its kata release", () => {
    expect(kernelCacheKey(K)).toBe("kina-kernel-vmlinux-6.18.15-186-3.28.0-arm64");
  });

  test("makes no cache calls when the recommended kernel is already the default", async ({
    onMac,
    cache,
  }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
    const s = await runner({ kernelInstalled: true });
    const r = await ensureAndSave("1.2.2", true);
    expect(r).toMatchObject({ downloaded: false, restored: false });
    expect(cache.log).toEqual([]);
    expect(s.counters.kernelDownloads).toBe(0);
  });

  test("main only records the save; the post step uploads it", async ({ onMac, cache }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
    await runner({ kernelInstalled: false });
    const cli = new ContainerCli();
    const open = cacheOpener(true);
    const r = await ensureKernel(cli, "1.2.2", open);
    expect(r.save).toMatchObject({ kind: "kernel", key: kernelCacheKey(K) });
    expect(cache.counters.CreateCacheEntry).toBe(0);
    await saveCaches(cli, [r.save!], open);
    expect(cache.entries().map((e) => e.key)).toEqual([kernelCacheKey(K)]);
  });

  test("cold: the CLI downloads it once and it is saved; warm: restored, nothing downloaded", async ({
    onMac,
    cache,
  }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
    let s = await runner({ kernelInstalled: false });
    expect(await ensureAndSave("1.2.2", true)).toMatchObject({
      downloaded: true,
      restored: false,
    });
    expect(s.counters.kernelDownloads).toBe(1);
    expect(cache.counters).toMatchObject({
      GetCacheEntryDownloadURL: 1,
      misses: 1,
      CreateCacheEntry: 1,
      puts: 1,
      FinalizeCacheEntryUpload: 1,
    });
    expect(cache.entries().map((e) => e.key)).toEqual([kernelCacheKey(K)]);

    s = await runner({ kernelInstalled: false });
    expect(await ensureAndSave("1.2.2", true)).toMatchObject({
      downloaded: false,
      restored: true,
    });
    expect(s.counters.kernelDownloads).toBe(0);
    expect(binarySets(s)).toHaveLength(1);
    expect(basename(readlinkSync(join(s.appRoot, "kernels", "default.kernel-arm64")))).toBe(K.file);
    expect(cache.counters).toMatchObject({ hits: 1, gets: 1, CreateCacheEntry: 1 });
  });

  test("another CLI generation recommends another kernel, under another key", async ({ onMac, cache }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
    await runner({ kernelInstalled: false, installedVersion: "0.9.0" });
    await ensureAndSave("0.9.0", true);
    expect(cache.entries().map((e) => e.key)).toEqual(["kina-kernel-vmlinux-6.18.5-177-3.26.0-arm64"]);
  });

  test("cache: false makes no cache calls", async ({ onMac, cache }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
    const s = await runner({ kernelInstalled: false });
    expect(await ensureAndSave("1.2.2", false)).toMatchObject({
      downloaded: true,
    });
    expect(cache.log).toEqual([]);
    expect(s.counters.kernelDownloads).toBe(1);
  });

  test("a cached kernel the CLI refuses falls back to downloading", async ({ onMac, cache: _cache }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
    await runner({ kernelInstalled: false });
    await ensureAndSave("1.2.2", true);
    const s = await runner({
      kernelInstalled: false,
      faults: [{ when: "kernel set --binary", code: 1, stderr: 'Error: invalidArgument: "bad kernel"' }],
    });
    expect(await ensureAndSave("1.2.2", true)).toMatchObject({
      downloaded: true,
      restored: false,
    });
    expect(s.counters.kernelDownloads).toBe(1);
  });

  test("1.3.0+ recommends kata 3.32.0's kernel, under its own key", async ({ onMac, cache }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
    const s = await runner({ kernelInstalled: false, installedVersion: "1.3.1" });
    expect(await ensureAndSave("1.3.1", true)).toMatchObject({ downloaded: true });
    expect(basename(readlinkSync(join(s.appRoot, "kernels", "default.kernel-arm64")))).toBe(
      "vmlinux-6.18.35-197-debug",
    );
    expect(cache.entries().map((e) => e.key)).toEqual(["kina-kernel-vmlinux-6.18.35-197-debug-3.32.0-arm64"]);
  });

  test("replaces a stale default kernel of an older CLI", async ({ onMac }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
    // A Mac upgraded from 1.2.x keeps its 6.18.15 default: the CLI never upgrades a kernel itself.
    const s = await runner({ kernelInstalled: true, installedVersion: "1.2.2" });
    s.installedVersion = "1.4.1";
    await ensureAndSave("1.4.1", false);
    expect(basename(readlinkSync(join(s.appRoot, "kernels", "default.kernel-arm64")))).toBe(
      "vmlinux-6.18.35-197-debug",
    );
  });

  test("1.5.0 on a Mac that never had a kernel: creates <appRoot>/kernels/ first (1.5.0 fails without it)", async ({
    onMac,
    cache: _cache,
  }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
    const s = await runner({ kernelInstalled: false, installedVersion: "1.5.0" });
    expect(existsSync(join(s.appRoot, "kernels"))).toBe(false);
    // The simulated 1.5.0 has the bug: without the folder its `kernel set` fails.
    const bare = await hostShell(s, "container system kernel set --recommended --force");
    expect(bare).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("folder containing the latter doesn’t exist"),
    });
    // Downloaded (--recommended), then, on a Mac without the folder again, restored (--binary).
    for (const want of [
      { downloaded: true, restored: false },
      { downloaded: false, restored: true },
    ]) {
      expect(await ensureAndSave("1.5.0", true)).toMatchObject(want);
      expect(basename(readlinkSync(join(s.appRoot, "kernels", "default.kernel-arm64")))).toBe(
        "vmlinux-6.18.35-197-debug",
      );
      rmSync(join(s.appRoot, "kernels"), { recursive: true });
    }
  });

  test("reads the app root from the nested 1.4.1 status", async ({ onMac, cache: _cache }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
    const s = await runner({ kernelInstalled: false, installedVersion: "1.4.1", serviceRunning: false });
    const root = mkdtempSync(join(tmpdir(), "kina-app-root-"));
    const start = await hostShell(s, "container system start --disable-kernel-install", {
      env: { CONTAINER_APP_ROOT: root },
    });
    expect(start.code, start.stderr).toBe(0);
    const r = await ensureKernel(new ContainerCli(), "1.4.1", cacheOpener(true));
    // Saved from where the service keeps its kernels, not from this process's idea of the default.
    expect(r.save).toMatchObject({
      kind: "kernel",
      file: join(root, "kernels", "vmlinux-6.18.35-197-debug"),
    });
    rmSync(root, { recursive: true, force: true });
  });
});
