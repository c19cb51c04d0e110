// The bundled action (dist/) on the simulated macOS runner, with the real @actions/cache and
// @actions/tool-cache talking to loopback stand-ins for the Actions cache service and the release
// downloads: CLI install and verification, the service's ownership, and the kernel and node image
// cached across runs.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { addCacheTools, startCacheServer, type CacheServer } from "../sim/cache-server.ts";
import { APPLE_SIGNER } from "../sim/macos-tools.ts";
import { startDownloadServer, type DownloadServer } from "../sim/download-server.ts";
import { errors, runJob, runStep, type StepResult } from "../sim/runner.ts";
import type { Simulator, SimulatorOptions } from "../sim/simulator.ts";
import { imageCacheKey } from "../../src/steps/node-image.js";
import { DEFAULT_IMAGE as IMAGE, describe, expect, test } from "../fixtures/mac.ts";

const KERNEL_KEY = "kina-kernel-vmlinux-6.18.15-186-3.28.0-arm64";
const IMAGE_KEY = imageCacheKey(IMAGE)!;
// Stops main right after the phases under test (the node VM is the next thing it creates).
const STOP_AT_NODE_VM = {
  when: /^container run /,
  code: 1,
  stderr: 'Error: internalError: "stopped by the test"',
};

let dl: DownloadServer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kina-e2e-install-"));
  dl = await startDownloadServer({
    dir,
    installers: {
      "1.2.2": { signer: APPLE_SIGNER },
      "1.2.1": { signer: "Developer ID Installer: Someone Else (ABCDE12345)" },
    },
    kubectl: ["1.37.0"],
  });
});
afterAll(async () => {
  await dl.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A simulated Mac with Homebrew's gtar/zstd, as the cache library finds them on a GitHub macOS image. */
async function withTools(
  mac: (o: SimulatorOptions) => Promise<Simulator>,
  opts: SimulatorOptions,
): Promise<Simulator> {
  const sim = await mac(opts);
  addCacheTools(sim.binDir);
  return sim;
}

/** The runner's environment: the cache service, and a RUNNER_TEMP that is the same path on every run. */
function runnerEnv(cache: CacheServer, temp: string): Record<string, string> {
  mkdirSync(temp, { recursive: true });
  return { ...cache.env, RUNNER_TEMP: temp };
}

const phaseFailed = (r: StepResult) => errors(r.stdout).join("\n");
const tools = (sim: Simulator, tool: string) => sim.calls.filter((c) => c.tool === tool);
const containerCalls = (sim: Simulator, ...prefix: string[]) =>
  sim.calls.filter((c) => c.tool === "container" && prefix.every((p, i) => c.argv[i] === p));

describe("kernel and node image through the Actions cache", () => {
  test("cold run fetches each once and saves both; a warm run on an empty Mac fetches nothing", async ({
    mac,
    cache,
  }) => {
    const temp = join(dir, "runner-temp-1");
    const env = runnerEnv(cache, temp);

    const cold = await withTools(mac, {
      installedVersion: "1.2.2",
      serviceRunning: false,
      kernelInstalled: false,
    });
    let uploadsDuringMain = -1;
    const c = await runJob({
      sim: cold,
      env,
      timeoutMs: 240_000,
      afterMain: () => void (uploadsDuringMain = cache.counters.CreateCacheEntry),
    });
    // Uploading is left to the post step: it is not on the way to a usable cluster.
    expect(uploadsDuringMain).toBe(0);
    expect(c.main.code, c.main.stdout.slice(-3000)).toBe(0);
    expect(c.main.outputs["cache-hit"]).toBe("false");
    expect(cold.counters).toMatchObject({ pulls: 1, kernelDownloads: 1 });
    expect(
      cache
        .entries()
        .map((e) => e.key)
        .sort(),
    ).toEqual([IMAGE_KEY, KERNEL_KEY].sort());
    expect(cache.counters).toMatchObject({
      GetCacheEntryDownloadURL: 2,
      misses: 2,
      CreateCacheEntry: 2,
      puts: 2,
      FinalizeCacheEntryUpload: 2,
      gets: 0,
    });
    expect(c.main.stdout).not.toMatch(/^::(warning|error)::.*cache/im);
    const coldCache = { ...cache.counters };
    // The job started the service, so its post step stops it.
    expect(c.post.code).toBe(0);
    expect(cold.serviceRunning).toBe(false);
    expect(containerCalls(cold, "system", "stop")).toHaveLength(1);

    const warm = await withTools(mac, {
      installedVersion: "1.2.2",
      serviceRunning: true,
      kernelInstalled: false,
    });
    const w = await runJob({ sim: warm, env, timeoutMs: 240_000 });
    expect(w.main.code, w.main.stdout.slice(-3000)).toBe(0);
    expect(w.main.outputs["cache-hit"]).toBe("true");
    expect(w.main.stdout).not.toMatch(/^::(warning|error)::.*cache/im);
    expect(warm.counters).toMatchObject({ pulls: 0, kernelDownloads: 0, bytesDownloaded: 0 });
    expect(containerCalls(warm, "system", "kernel", "set")[0]!.argv).toContain("--binary");
    expect(containerCalls(warm, "image", "load")).toHaveLength(1);
    expect(cache.counters.GetCacheEntryDownloadURL - coldCache.GetCacheEntryDownloadURL).toBe(2);
    expect(cache.counters.hits).toBe(2);
    expect(cache.counters.gets).toBe(2);
    expect(cache.counters.CreateCacheEntry).toBe(coldCache.CreateCacheEntry); // nothing saved again
    expect(cache.counters.bytesDownloaded).toBe(cache.counters.bytesUploaded);
    // The service ran before the job: the post step leaves it running.
    expect(w.post.code).toBe(0);
    expect(warm.serviceRunning).toBe(true);
    expect(containerCalls(warm, "system", "stop")).toEqual([]);

    console.log(
      `cold: ${cold.counters.pulls} pull, ${cold.counters.kernelDownloads} kernel download, ${cold.counters.bytesDownloaded} B upstream; ` +
        `cache ${coldCache.bytesUploaded} B uploaded in ${coldCache.puts} PUT, calls ${JSON.stringify(coldCache)}\n` +
        `warm: ${warm.counters.pulls} pulls, ${warm.counters.kernelDownloads} kernel downloads, ${warm.counters.bytesDownloaded} B upstream; ` +
        `cache ${cache.counters.bytesDownloaded} B downloaded in ${cache.counters.gets} GET; ` +
        `main ${(c.main.durationMs / 1000).toFixed(1)} s cold, ${(w.main.durationMs / 1000).toFixed(1)} s warm`,
    );
  });

  test("makes no cache calls when the kernel and the image are already there", async ({ mac, cache }) => {
    cache.reset();
    const sim = await withTools(mac, {
      serviceRunning: true,
      kernelInstalled: true,
      images: [IMAGE],
      faults: [STOP_AT_NODE_VM],
    });
    const r = await runStep("main", {
      sim,
      env: runnerEnv(cache, join(dir, "runner-temp-2")),
      timeoutMs: 120_000,
    });
    expect(phaseFailed(r)).toMatch(/^Node VM: .*stopped by the test/);
    expect(cache.log).toEqual([]);
    expect(sim.counters).toMatchObject({ pulls: 0, kernelDownloads: 0 });
  });

  test("cache: false makes no cache calls on a cold Mac", async ({ mac, cache }) => {
    cache.reset();
    const sim = await withTools(mac, {
      serviceRunning: true,
      kernelInstalled: false,
      faults: [STOP_AT_NODE_VM],
    });
    const r = await runStep("main", {
      sim,
      env: runnerEnv(cache, join(dir, "runner-temp-3")),
      inputs: { cache: "false" },
      timeoutMs: 120_000,
    });
    expect(phaseFailed(r)).toMatch(/^Node VM: /);
    expect(cache.log).toEqual([]);
    expect(sim.counters).toMatchObject({ pulls: 1, kernelDownloads: 1 });
  });

  test("a cache service that refuses connections does not fail the job", async ({ mac, cache }) => {
    const gone = await startCacheServer();
    await gone.close();
    const sim = await withTools(mac, {
      serviceRunning: true,
      kernelInstalled: false,
      faults: [STOP_AT_NODE_VM],
    });
    const r = await runStep("main", {
      sim,
      env: { ...runnerEnv(cache, join(dir, "runner-temp-10")), ...gone.env },
      timeoutMs: 120_000,
    });
    expect(phaseFailed(r), r.stdout.slice(-3000)).toMatch(/^Node VM: /);
    expect(sim.counters).toMatchObject({ pulls: 1, kernelDownloads: 1 });
  });

  test("a runner without a cache service gets a notice and downloads", async ({ mac }) => {
    const sim = await withTools(mac, {
      serviceRunning: true,
      kernelInstalled: false,
      faults: [STOP_AT_NODE_VM],
    });
    const r = await runStep("main", { sim, env: { ACTIONS_CACHE_SERVICE_V2: "true" }, timeoutMs: 120_000 });
    expect(phaseFailed(r)).toMatch(/^Node VM: /);
    expect(r.stdout.match(/::notice::The Actions cache service is not available/g)).toHaveLength(1);
    expect(sim.counters).toMatchObject({ pulls: 1, kernelDownloads: 1 });
  });
});

describe("the container CLI", () => {
  test("replaces a wrong version: fetched, verified, service stopped, installed with sudo -n; the post step leaves the service running", async ({
    mac,
    cache,
  }) => {
    const before = dl.counters.installer;
    const sim = await withTools(mac, {
      installedVersion: "1.1.0",
      serviceRunning: true,
      kernelInstalled: true,
      images: [IMAGE],
      faults: [STOP_AT_NODE_VM],
    });
    const { main, post } = await runJob({
      sim,
      env: runnerEnv(cache, join(dir, "runner-temp-4")),
      inputs: { "container-version": "1.2.2", "installer-url": dl.installerUrl },
      timeoutMs: 120_000,
    });
    expect(phaseFailed(main)).toMatch(/^Node VM: /);
    expect(dl.counters.installer - before).toBe(1);
    expect(sim.installedVersion).toBe("1.2.2");
    const lines = sim.calls.map((c) => `${c.via ? "(sudo) " : ""}${c.tool} ${c.argv.join(" ")}`);
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/^pkgutil --check-signature /)).toBeGreaterThan(-1);
    expect(at(/^pkgutil --check-signature /)).toBeLessThan(at(/^container system stop/));
    expect(at(/^container system stop/)).toBeLessThan(
      at(/^sudo -n installer -pkg \S+container-1\.2\.2-installer-signed\.pkg -target \/$/),
    );
    expect(at(/^\(sudo\) installer -pkg /)).toBeGreaterThan(at(/^container system stop/));
    expect(at(/^container system start /)).toBeGreaterThan(at(/^\(sudo\) installer/));
    // Stopped only for the upgrade: not ours to stop after the job.
    expect(main.state["service-started"]).toBeUndefined();
    expect(post.code).toBe(0);
    expect(sim.serviceRunning).toBe(true);
  });

  test("stops before installing when the package is not signed by Apple", async ({ mac, cache }) => {
    const sim = await withTools(mac, { installedVersion: "1.2.2", serviceRunning: true });
    const r = await runStep("main", {
      sim,
      env: runnerEnv(cache, join(dir, "runner-temp-5")),
      inputs: { "container-version": "1.2.1", "installer-url": dl.installerUrl },
      timeoutMs: 60_000,
    });
    expect(r.code).toBe(1);
    expect(phaseFailed(r)).toMatch(
      /^Container CLI: the container 1\.2\.1 installer failed verification, not installing: it is signed by 'Developer ID Installer: Someone Else/,
    );
    expect(tools(sim, "sudo")).toEqual([]);
    expect(containerCalls(sim, "system", "stop")).toEqual([]);
    expect(sim.installedVersion).toBe("1.2.2");
    expect(sim.serviceRunning).toBe(true);
  });

  test("says how to fix a sudo that asks for a password", async ({ mac, cache }) => {
    const sim = await withTools(mac, { installedVersion: null, sudo: "password" });
    const r = await runStep("main", {
      sim,
      env: runnerEnv(cache, join(dir, "runner-temp-6")),
      inputs: { "container-version": "1.2.2", "installer-url": dl.installerUrl },
      timeoutMs: 60_000,
    });
    // Behaviour change (defect 7): asked with `sudo -n -l` before anything is stopped.
    expect(phaseFailed(r)).toMatch(
      /^Container CLI: installing container 1\.2\.2 needs 'sudo -n installer', and sudo does not allow it without a password .*; nothing was stopped or installed/,
    );
    expect(sim.installedVersion).toBeNull();
  });
});

describe("the container service after the job", () => {
  test("started by this job: the post step stops it, unless cleanup is false", async ({ mac, cache }) => {
    const stops = async (inputs: Record<string, string>) => {
      const sim = await withTools(mac, {
        serviceRunning: false,
        kernelInstalled: true,
        images: [IMAGE],
        faults: [STOP_AT_NODE_VM],
      });
      const { main, post } = await runJob({
        sim,
        env: runnerEnv(cache, join(dir, "runner-temp-7")),
        inputs,
        timeoutMs: 120_000,
      });
      expect(main.state["service-started"]).toBe("true");
      expect(post.code).toBe(0);
      return { running: sim.serviceRunning, post };
    };
    expect((await stops({})).running).toBe(false);
    const kept = await stops({ cleanup: "false" });
    expect(kept.running).toBe(true);
    expect(kept.post.stdout).toMatch(/::notice::cleanup is false.*container system stop/);
  });
});

describe("kubectl", () => {
  test.for([
    ["missing: the cluster's version", null, {}],
    ["another version than kubectl-version", "1.34.11", { "kubectl-version": "v1.37.0" }],
  ] as Array<[string, string | null, Record<string, string>]>)(
    "%s is installed from the mirror, verified, and put on the job's PATH",
    async ([, preinstalled, inputs], { mac, cache }) => {
      const sim = await withTools(mac, {
        serviceRunning: true,
        kernelInstalled: true,
        images: [IMAGE],
        kubectl: preinstalled,
        faults: [STOP_AT_NODE_VM],
      });
      const before = { ...dl.counters };
      const r = await runStep("main", {
        sim,
        env: runnerEnv(cache, join(dir, "runner-temp-8")),
        inputs: { ...inputs, "kubectl-url": dl.kubectlUrl },
        timeoutMs: 120_000,
      });
      expect(phaseFailed(r), r.stdout.slice(-3000)).toMatch(/^Node VM: /);
      expect(dl.counters.kubectl - before.kubectl).toBe(1);
      expect(dl.counters.sha256 - before.sha256).toBe(1);
      expect(r.path).toEqual([join(sim.toolCache, "kubectl", "1.37.0", "arm64")]);
      expect(r.stdout).toContain("kubectl 1.37.0 on PATH");
    },
  );

  test("leaves a kubectl of the cluster's version alone", async ({ mac, cache }) => {
    const sim = await withTools(mac, {
      serviceRunning: true,
      kernelInstalled: true,
      images: [IMAGE],
      kubectl: "1.37.0",
      faults: [STOP_AT_NODE_VM],
    });
    const before = dl.counters.kubectl;
    const r = await runStep("main", {
      sim,
      env: runnerEnv(cache, join(dir, "runner-temp-9")),
      inputs: { "kubectl-url": dl.kubectlUrl },
      timeoutMs: 120_000,
    });
    expect(phaseFailed(r)).toMatch(/^Node VM: /);
    expect(dl.counters.kubectl).toBe(before);
    expect(r.path).toEqual([]);
  });
});

describe("defect 11: a digest-only image on the host", () => {
  test.for(["kindest/node:latest", "kindest/node"])(
    "is not taken for node-image %s: the image is pulled",
    async (wanted, { mac }) => {
      const digest = IMAGE.slice(IMAGE.indexOf("@") + 1);
      const sim = await mac({
        serviceRunning: true,
        kernelInstalled: true,
        images: [`kindest/node@${digest}`],
        faults: [STOP_AT_NODE_VM],
      });
      const r = await runStep("main", { sim, inputs: { "node-image": wanted } });
      expect(phaseFailed(r), r.stdout.slice(-3000)).toMatch(/^Node VM: /);
      expect(r.stdout).not.toContain("is already present");
      expect(containerCalls(sim, "image", "pull").map((c) => c.argv[2])).toEqual([wanted]);
    },
  );
});
