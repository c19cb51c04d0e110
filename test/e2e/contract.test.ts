// Issue 2: bad inputs and unfit runners end main at once, with one ::error:: and nothing created.
import type { Simulator } from "../sim/simulator.ts";
import { errors, runJob, runStep } from "../sim/runner.ts";
import { describe, expect, test, type SharedMac } from "../fixtures/mac.ts";

const created = (sim: Simulator) =>
  sim.calls.filter((c) => c.tool === "container" && ["run", "create"].includes(c.argv[0] ?? ""));

describe("inputs", () => {
  // One Mac for every case: none of them may touch it.
  const shared = (sharedMac: SharedMac) => sharedMac("inputs");

  test.for([
    [{ "pod-subnet": "10.244.0.0/33" }, "pod-subnet"],
    [{ "pod-subnet": "banana" }, "pod-subnet"],
    [{ "pod-subnet": "127.0.0.0/16" }, "pod-subnet"],
    [{ "pod-subnet": "10.96.0.0/16", "service-subnet": "10.96.0.0/12" }, "pod-subnet"],
    [{ "kubernetes-version": "1.99" }, "kubernetes-version"],
    // Behaviour change (issue 12): names like "bad name!" are normalised now; nothing usable is left here.
    [{ "cluster-name": "---" }, "cluster-name"],
    [{ wait: "-5" }, "wait"],
  ] as Array<[Record<string, string>, string]>)(
    "%o fails naming %s, creating nothing",
    async ([inputs, name], { sharedMac }) => {
      const sim = await shared(sharedMac);
      const before = sim.calls.length;
      const { main, post } = await runJob({ sim, inputs });
      expect(main.code).not.toBe(0);
      const errs = errors(main.stdout);
      expect(errs).toHaveLength(1);
      expect(errs[0]).toContain(`Input '${name}'`);
      for (const value of Object.values(inputs)) expect(errs[0]).toContain(value);
      // Nothing on the machine was touched: not even a version probe.
      expect(sim.calls.slice(before)).toEqual([]);
      expect(created(sim)).toEqual([]);
      expect(post.code).toBe(0);
    },
  );
});

describe("preflight", () => {
  test("refuses to run on anything but macOS (no darwin preload)", async ({ mac }) => {
    const sim = await mac();
    const main = await runStep("main", { sim, preload: false });
    expect(main.code).not.toBe(0);
    expect(errors(main.stdout)[0]).toMatch(/runs only on macOS with Apple silicon; this runner is linux/);
    expect(created(sim)).toEqual([]);
  });

  test("explains hosted runners within seconds when the hypervisor is missing", async ({ mac }) => {
    const sim = await mac({ hvSupport: 0 });
    const main = await runStep("main", { sim, env: { RUNNER_ENVIRONMENT: "github-hosted" } });
    expect(main.code).not.toBe(0);
    expect(main.durationMs).toBeLessThan(10_000);
    const [err] = errors(main.stdout);
    expect(err).toContain("GitHub-hosted macOS runners are themselves virtual machines");
    expect(err).toContain("self-hosted runner on a bare-metal Apple-silicon Mac");
    expect(sim.calls.filter((c) => c.tool === "container")).toEqual([]);
  });

  test("refuses macOS 14", async ({ mac }) => {
    const old = await mac({ macos: "14.7.1" });
    const main = await runStep("main", { sim: old });
    expect(main.code).not.toBe(0);
    expect(errors(main.stdout)[0]).toContain("macOS 14.7.1 is not supported");
    expect(created(old)).toEqual([]);
  });

  test("refuses a runner running as root", async ({ mac }) => {
    const sim = await mac();
    const main = await runStep("main", { sim, env: { KINA_SIM_UID: "0" } });
    expect(main.code).not.toBe(0);
    expect(errors(main.stdout)[0]).toContain("the runner runs as root");
    expect(sim.calls.filter((c) => c.tool === "container")).toEqual([]);
  });
});
