// ensureService against the simulated container service.
import { ContainerCli } from "../../src/container/cli.js";
import { ensureService } from "../../src/steps/service.js";
import { hostShell, type Simulator } from "../sim/simulator.ts";
import { describe, expect, test } from "../fixtures/mac.ts";

const starts = (s: Simulator) =>
  s.calls.filter((c) => c.tool === "container" && c.argv[0] === "system" && c.argv[1] === "start");
const stops = (s: Simulator) =>
  s.calls.filter((c) => c.tool === "container" && c.argv[0] === "system" && c.argv[1] === "stop");

describe("ensureService", () => {
  test("leaves a running service alone and does not claim it", async ({ onMac }) => {
    const s = await onMac({ serviceRunning: true });
    let claimed = 0;
    expect(await ensureService(new ContainerCli(), () => claimed++)).toEqual({
      startedByUs: false,
      restartedForSkew: false,
    });
    expect(claimed).toBe(0);
    expect(starts(s)).toEqual([]);
  });

  test("starts a stopped service without a kernel prompt, and records that before starting it", async ({
    onMac,
  }) => {
    const s = await onMac({ serviceRunning: false, kernelInstalled: true });
    const seen: boolean[] = [];
    expect(await ensureService(new ContainerCli(), () => seen.push(s.serviceRunning))).toEqual({
      startedByUs: true,
      restartedForSkew: false,
    });
    expect(seen).toEqual([false]); // saved while it was not yet running: a crash mid-start is still cleaned up
    expect(s.serviceRunning).toBe(true);
    expect(starts(s)[0]!.argv).toContain("--disable-kernel-install");
  });

  test("restarts a service it stopped only to upgrade the CLI without claiming it", async ({ onMac }) => {
    const s = await onMac({ serviceRunning: false, kernelInstalled: true });
    let claimed = 0;
    expect(await ensureService(new ContainerCli(), () => claimed++, { stoppedForUpgrade: true })).toEqual({
      startedByUs: false,
      restartedForSkew: false,
    });
    expect(claimed).toBe(0);
    expect(s.serviceRunning).toBe(true);
  });

  describe("after a .pkg upgrade that left the old service running", () => {
    test.for([
      ["1.4.1+ reports both versions", "1.5.0", "1.4.1", undefined],
      ["≤1.3.x reports the apiserver's", "1.3.1", "1.2.2", "1.3.1"],
    ] as Array<[string, string, string, string | undefined]>)(
      "%s: restarts it when no other container runs",
      async ([, cli, server, cliVersion], { onMac }) => {
        const s = await onMac({ installedVersion: cli, serverVersion: server, serviceRunning: true });
        let claimed = 0;
        expect(await ensureService(new ContainerCli(), () => claimed++, { cliVersion })).toEqual({
          startedByUs: false,
          restartedForSkew: true,
        });
        expect(claimed).toBe(0); // it ran before the job: the post step leaves it running
        expect(stops(s)).toHaveLength(1);
        expect(s.serverVersion).toBe(cli);
        expect(s.serviceRunning).toBe(true);
      },
    );

    test("never restarts it under another job's containers, and says what to do", async ({ onMac }) => {
      const s = await onMac({
        installedVersion: "1.5.0",
        serverVersion: "1.4.1",
        serviceRunning: true,
        kernelInstalled: true,
      });
      const run = await hostShell(
        s,
        "container run -d --name other-control-plane -l io.kina.created-by=kina-setup-cluster -l io.kina.runner=mac-2 -l io.kina.job=o/r/7/e2e nginx:1.27",
      );
      expect(run.code, run.stderr).toBe(0);
      await expect(
        ensureService(new ContainerCli(), () => undefined, { env: { RUNNER_NAME: "mac-1" } }),
      ).rejects.toThrow(
        "the container service runs 1.4.1 while the CLI is 1.5.0 (upgraded without 'container system stop'), and restarting it " +
          "would stop every container of this user, including other-control-plane (runner mac-2, job o/r/7/e2e); nothing was stopped. " +
          "Restart it when no other job's containers run ('container system stop && container system start'), or let one job do it when the Mac is idle",
      );
      expect(stops(s)).toEqual([]);
      expect(s.containers().map((c) => c.state)).toEqual(["running"]);
    });

    test("leaves a service of the CLI's own version alone", async ({ onMac }) => {
      const s = await onMac({ installedVersion: "1.4.1", serviceRunning: true });
      expect(await ensureService(new ContainerCli(), () => undefined)).toEqual({
        startedByUs: false,
        restartedForSkew: false,
      });
      expect(stops(s)).toEqual([]);
    });
  });
});

describe("defect 6: two container CLIs on PATH look like a version skew", () => {
  test("after a skew restart the versions are checked again, and a skew that remains fails", async ({
    onMac,
  }) => {
    // Homebrew's 1.2.2 first on PATH, Apple's 1.5.0 somewhere this step does not know of: the restart
    // runs 1.5.0 again, so the skew remains.
    const s = await onMac({ installedVersion: "1.5.0", shadowingCli: "1.2.2", serviceRunning: true });
    await expect(
      ensureService(new ContainerCli(), () => undefined, {
        cliVersion: "1.2.2",
        installPath: "/nonexistent/bin/container",
      }),
    ).rejects.toThrow(
      /restarted the container service to end a version skew, but it still runs 1\.5\.0 while the CLI is 1\.2\.2/,
    );
    expect(stops(s)).toHaveLength(1);
    expect(s.serviceRunning).toBe(true);
  });
});
