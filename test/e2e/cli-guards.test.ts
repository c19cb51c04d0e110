// The install guard of the CLI phase on a shared Mac (follow-ups to issue 11): an install never runs
// over a service in use, whatever the CLI answers, whatever happens during the download, and a job
// cancelled mid-upgrade leaves the service as it found it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { startDownloadServer, type DownloadServer } from "../sim/download-server.ts";
import { errors, runJob, runStep } from "../sim/runner.ts";
import { hostShell, type Simulator } from "../sim/simulator.ts";
import { DEFAULT_IMAGE, describe, expect, test } from "../fixtures/mac.ts";

let dl: DownloadServer;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kina-e2e-cli-guards-"));
  // 1.3.0 published no checksum: its stand-in installer passes on its signature alone.
  dl = await startDownloadServer({ dir, installers: { "1.3.0": {}, "1.5.0": {} } });
});
afterAll(async () => {
  await dl.close();
  rmSync(dir, { recursive: true, force: true });
});

const systemStops = (sim: Simulator) =>
  sim.calls.filter((c) => c.tool === "container" && c.argv[0] === "system" && c.argv[1] === "stop");
const installerRuns = (sim: Simulator) => sim.calls.filter((c) => c.tool === "installer");
const IDLE_12 = {
  installedVersion: "1.2.2",
  serviceRunning: true,
  kernelInstalled: true,
  images: [DEFAULT_IMAGE],
};

describe("defect 4a: `container --version` that fails or cannot be read is not 'no CLI'", () => {
  test.for([
    [
      "exits non-zero (a transient XPC error)",
      { code: 1, stderr: "Error: XPC connection error: Connection interrupted" },
    ],
    [
      "prints a version the parser cannot read",
      { code: 0, stdout: "container CLI version 2.0 (build: release)\n" },
    ],
  ] as const)("when it %s: fails naming the fix, installs and stops nothing", async ([, fault], { mac }) => {
    const sim = await mac(IDLE_12);
    sim.faults.push({ when: "container --version", ...fault });
    const r = await runStep("main", { sim, inputs: { "installer-url": dl.installerUrl } });
    expect(r.code).not.toBe(0);
    const [err] = errors(r.stdout);
    expect(err).toMatch(/^Container CLI: 'container --version' (exited 1|printed no version)/);
    expect(err).toContain("nothing was installed or stopped");
    expect(err).toContain("Run 'container --version' on the Mac");
    expect(installerRuns(sim)).toEqual([]);
    expect(systemStops(sim)).toEqual([]);
    expect(sim).toMatchObject({ installedVersion: "1.2.2", serviceRunning: true });
  });
});

describe("defect 4b: the service and a container started by another runner during the download", () => {
  test("are seen right before the install: refused, nothing stopped or installed", async ({ mac }) => {
    const sim = await mac({ installedVersion: "1.2.2", serviceRunning: false, kernelInstalled: true });
    // pkgutil checks the downloaded package: by then another runner has started the service and a node.
    sim.faults.push({
      when: "pkgutil --check-signature",
      times: 1,
      passThrough: true,
      run: async () => {
        for (const cmd of [
          "container system start --disable-kernel-install",
          `container run -d --name other-control-plane -l io.kina.runner=mac-b ${DEFAULT_IMAGE}`,
        ]) {
          const r = await hostShell(sim, cmd);
          expect(r.code, r.stderr).toBe(0);
        }
      },
    });
    const r = await runStep("main", {
      sim,
      inputs: { "container-version": "1.3.0", "installer-url": dl.installerUrl },
    });
    expect(r.code).not.toBe(0);
    expect(errors(r.stdout)[0]).toMatch(
      /needs 'container system stop'.*other-control-plane.*nothing was stopped or installed/,
    );
    expect(installerRuns(sim)).toEqual([]);
    expect(systemStops(sim)).toEqual([]);
    expect(sim).toMatchObject({ installedVersion: "1.2.2", serviceRunning: true });
    expect(sim.containers().map((c) => `${c.name} ${c.state}`)).toEqual(["other-control-plane running"]);
  });
});

describe("defect 5: a job cancelled between `system stop` and the restart of an upgrade", () => {
  test("has its post step start the service again, and say so", async ({ mac }) => {
    const sim = await mac(IDLE_12);
    // The installer never returns: the job is cancelled with the service stopped.
    sim.faults.push({ when: /^sudo -n installer /, hang: true });
    const main = await runStep("main", {
      sim,
      inputs: { "container-version": "1.3.0", "installer-url": dl.installerUrl },
      signalAfter: { when: () => systemStops(sim).length > 0 },
    });
    expect(main.signalledAtMs).toBeDefined();
    expect(main.code).not.toBe(0);
    expect(main.state["service-stopped"]).toBe("true");
    expect(sim.serviceRunning).toBe(false);
    const post = await runStep("post", { sim, state: main.state });
    expect(post.code).toBe(0);
    expect(post.stdout).toMatch(
      /::notice::The container service ran before this job, which stopped it .*starting it now/,
    );
    expect(sim.serviceRunning).toBe(true);
  });
});

describe("defect 7: sudo that wants a password", () => {
  test("is found out before the service is stopped", async ({ mac }) => {
    const sim = await mac({ ...IDLE_12, sudo: "password" });
    const r = await runStep("main", {
      sim,
      inputs: { "container-version": "1.3.0", "installer-url": dl.installerUrl },
    });
    expect(r.code).not.toBe(0);
    expect(errors(r.stdout)[0]).toMatch(
      /sudo does not allow it without a password.*nothing was stopped or installed/,
    );
    expect(systemStops(sim)).toEqual([]);
    expect(sim.calls.filter((c) => c.tool === "container" && c.argv[1] === "start")).toEqual([]);
    expect(sim.serviceRunning).toBe(true);
  });
});

describe("defect 6: Homebrew's CLI first on PATH, Apple's installed and its service running", () => {
  test("fails naming both CLIs before any restart, instead of restarting for a skew that stays", async ({
    mac,
  }) => {
    const sim = await mac({ ...IDLE_12, installedVersion: "1.5.0", shadowingCli: "1.2.2" });
    const r = await runStep("main", { sim });
    expect(r.code).not.toBe(0);
    const [err] = errors(r.stdout);
    expect(err).toMatch(
      /^Container service: two container CLIs are installed: \S+ \(1\.2\.2\) comes first on PATH, and \/usr\/local\/bin\/container \(1\.5\.0\) is the one the running service \(1\.5\.0\) belongs to/,
    );
    expect(err).toContain("nothing was stopped");
    expect(systemStops(sim)).toEqual([]);
    expect(sim.serviceRunning).toBe(true);
  });
});

describe("defect 9: container-version: installed with /usr/local/bin off PATH", () => {
  test("says the CLI is installed but not on PATH, and how to fix that", async ({ mac }) => {
    const sim = await mac({ ...IDLE_12, installedVersion: "1.5.0" });
    const path = sim.env.PATH!.split(":").filter((d) => d !== sim.installDir);
    const r = await runStep("main", {
      sim,
      inputs: { "container-version": "installed" },
      env: { PATH: path.join(":") },
    });
    expect(r.code).not.toBe(0);
    const [err] = errors(r.stdout);
    expect(err).toBe(
      "Container CLI: container 1.5.0 is installed at /usr/local/bin/container, but /usr/local/bin is not on PATH, " +
        "so the runner does not find it; add /usr/local/bin to the runner's PATH (its .path file, or the PATH of the " +
        "service that runs it) and run the job again",
    );
    expect(err).not.toContain("not installed");
  });
});

describe("defect 12: inputs that say more than they do", () => {
  test("a pinned container-version newer than the newest tested gets the notice; a 404 names the tested releases", async ({
    mac,
  }) => {
    const sim = await mac({ ...IDLE_12, installedVersion: "1.5.0" });
    const r = await runStep("main", {
      sim,
      inputs: { "container-version": "1.6.0", "installer-url": dl.installerUrl },
    });
    expect(r.stdout).toContain(
      "::notice::container 1.6.0 is newer than the newest release this action is tested with (1.5.0); installing it as pinned.",
    );
    expect(r.code).not.toBe(0);
    expect(errors(r.stdout)[0]).toMatch(
      /^Container CLI: the container 1\.6\.0 installer is not at http:\/\/127\.0\.0\.1:\d+\/\S+ \(HTTP 404\): release 1\.6\.0 may not exist on this mirror\. This action is tested with 1\.2\.1, 1\.2\.2, 1\.3\.1, 1\.4\.1, 1\.5\.0/,
    );
    expect(systemStops(sim)).toEqual([]);
  });

  test("node-image with another kubernetes-version warns that the image wins", async ({ mac }) => {
    const sim = await mac({
      ...IDLE_12,
      faults: [{ when: /^container run /, code: 1, stderr: "Error: stopped by the test" }],
    });
    const r = await runStep("main", {
      sim,
      inputs: { "node-image": DEFAULT_IMAGE, "kubernetes-version": "1.35" },
    });
    expect(r.stdout).toMatch(
      /::warning::node-image kindest\/node:v1\.37\.0@sha256:\w+ is used and kubernetes-version 1\.35 is ignored: the image decides the Kubernetes version \(its tag says 1\.37\.0\)/,
    );
    // The default kubernetes-version, or the image's own, says nothing new.
    const quiet = await runStep("main", { sim, inputs: { "node-image": DEFAULT_IMAGE } });
    expect(quiet.stdout).not.toMatch(/::warning::node-image/);
  });
});

describe("defect 12: a pre-release node image", () => {
  test("is reported as its own version, not the release it leads to", async ({ mac }) => {
    const sim = await mac({ ...IDLE_12, kernelInstalled: true });
    const { main } = await runJob({ sim, inputs: { "node-image": "kindest/node:v1.37.0-alpha.1" } });
    expect(errors(main.stdout), main.stdout.slice(-3000)).toEqual([]);
    expect(main.outputs["kubernetes-version"]).toBe("v1.37.0-alpha.1");
  });
});
