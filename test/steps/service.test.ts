// ensureService against the simulated container service.
import { afterEach, describe, expect, it } from "vitest";
import { ContainerCli } from "../../src/container/cli.js";
import { ensureService } from "../../src/steps/service.js";
import { startSimulator, type Simulator, type SimulatorOptions } from "../sim/simulator.ts";

let sim: Simulator | undefined;
const saved = { ...process.env };

afterEach(async () => {
  await sim?.stop();
  sim = undefined;
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

async function runner(opts: SimulatorOptions): Promise<Simulator> {
  sim = await startSimulator(opts);
  Object.assign(process.env, sim.env);
  return sim;
}

const starts = (s: Simulator) =>
  s.calls.filter((c) => c.tool === "container" && c.argv[0] === "system" && c.argv[1] === "start");

describe("ensureService", () => {
  it("leaves a running service alone and does not claim it", async () => {
    const s = await runner({ serviceRunning: true });
    let claimed = 0;
    expect(await ensureService(new ContainerCli(), () => claimed++)).toEqual({ startedByUs: false });
    expect(claimed).toBe(0);
    expect(starts(s)).toEqual([]);
  });

  it("starts a stopped service without a kernel prompt, and records that before starting it", async () => {
    const s = await runner({ serviceRunning: false, kernelInstalled: true });
    const seen: boolean[] = [];
    expect(await ensureService(new ContainerCli(), () => seen.push(s.serviceRunning))).toEqual({
      startedByUs: true,
    });
    expect(seen).toEqual([false]); // saved while it was not yet running: a crash mid-start is still cleaned up
    expect(s.serviceRunning).toBe(true);
    expect(starts(s)[0]!.argv).toContain("--disable-kernel-install");
  });

  it("restarts a service it stopped only to upgrade the CLI without claiming it", async () => {
    const s = await runner({ serviceRunning: false, kernelInstalled: true });
    let claimed = 0;
    expect(await ensureService(new ContainerCli(), () => claimed++, { stoppedForUpgrade: true })).toEqual({
      startedByUs: false,
    });
    expect(claimed).toBe(0);
    expect(s.serviceRunning).toBe(true);
  });
});
