// ensureService against the simulated container service.
import { ContainerCli } from "../../src/container/cli.js";
import { ensureService } from "../../src/steps/service.js";
import type { Simulator } from "../sim/simulator.ts";
import { describe, expect, test } from "../fixtures/mac.ts";

const starts = (s: Simulator) =>
  s.calls.filter((c) => c.tool === "container" && c.argv[0] === "system" && c.argv[1] === "start");

describe("ensureService", () => {
  test("leaves a running service alone and does not claim it", async ({ onMac }) => {
    const s = await onMac({ serviceRunning: true });
    let claimed = 0;
    expect(await ensureService(new ContainerCli(), () => claimed++)).toEqual({ startedByUs: false });
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
    });
    expect(claimed).toBe(0);
    expect(s.serviceRunning).toBe(true);
  });
});
