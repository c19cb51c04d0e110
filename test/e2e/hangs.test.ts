// Issue 12: a `container` call that never answers ends by itself. main fails with one ::error:: naming the
// operation and how long it waited; post's delete only warns. The bounds are the product's own table
// (src/container/bounds.ts): the fixed ones are short enough to wait out here, and the ones that may take
// minutes on a real Mac (`run`, kubeadm init) follow the `wait` input with a floor, as a user would set
// them. A hang fault never answers: it outlasts any bound.
import { errors, runJob } from "../sim/runner.ts";
import { describe, expect, test, WARM } from "../fixtures/mac.ts";
import { boundSeconds } from "../../src/container/bounds.js";
import type { SimulatorOptions } from "../sim/simulator.ts";

const NODE = "kina-control-plane";

interface Case {
  name: string;
  opts: SimulatorOptions;
  inputs?: Record<string, string>;
  /** The call that never answers (matched against `tool argv…`), and in which node for an in-node tool. */
  when: RegExp;
  node?: string;
  /** The phase the error names, and how the operation is spelled in it. */
  phase: string;
  operation: string;
  seconds: number;
}

const cases: Case[] = [
  {
    name: "system status",
    opts: {},
    when: /^container system status/,
    phase: "Container service",
    operation: "`container system status`",
    seconds: boundSeconds("system status"),
  },
  {
    name: "system start",
    opts: {},
    when: /^container system start/,
    phase: "Container service",
    operation: "`container system start`",
    seconds: boundSeconds("system start"),
  },
  {
    name: "run",
    opts: WARM,
    when: /^container run /,
    phase: "Node VM",
    // Behaviour change (tester findings): the node is named; before, "`container run`" only.
    operation: `\`container run --name ${NODE}\``,
    seconds: boundSeconds("run", { waitSeconds: 5 }),
  },
  {
    // Several `run`s are in flight with workers: the error says which one hung.
    name: "a worker's run",
    opts: WARM,
    inputs: { workers: "2" },
    when: /^container run -d --name kina-worker-2 /,
    phase: "Node VMs",
    operation: "`container run --name kina-worker-2`",
    seconds: boundSeconds("run", { waitSeconds: 5 }),
  },
  {
    // The join runs in `sh -c` (it removes its config file afterwards): the error names the join.
    name: "kubeadm join",
    opts: WARM,
    inputs: { workers: "2" },
    when: /^kubeadm join/,
    node: "kina-worker-2",
    phase: "Join workers",
    operation: "`container exec kina-worker-2 kubeadm join`",
    seconds: boundSeconds("kubeadm join"),
  },
  {
    // Inside the node: `container exec` waits on a kubeadm that never ends.
    name: "kubeadm init",
    opts: WARM,
    when: /^kubeadm init/,
    phase: "kubeadm init",
    operation: "`container exec kina-control-plane kubeadm init`",
    seconds: boundSeconds("kubeadm init", { waitSeconds: 5 }),
  },
];

describe("a call that never answers", () => {
  test.concurrent.for(cases)(
    "$name: main ends by itself with one error naming it",
    { timeout: 360_000 },
    async (c, { mac }) => {
      const sim = await mac(c.opts);
      // Timed from the hung call itself: the work before it (a control plane before a join) varies with load.
      let hungAt: number | undefined;
      let mainEnded = 0;
      sim.faults.push({
        when: c.when,
        hang: true,
        ...(c.node ? { node: c.node } : {}),
        run: () => void (hungAt ??= performance.now()),
      });
      const { main, post } = await runJob({
        sim,
        inputs: { wait: "5s", ...c.inputs },
        timeoutMs: (c.seconds + 120) * 1000,
        afterMain: () => void (mainEnded = performance.now()),
      });
      expect(main.timedOut, "main was still waiting when the test gave up").toBe(false);
      expect(main.code).not.toBe(0);
      const errs = errors(main.stdout);
      expect(errs, main.stdout.slice(-2000)).toHaveLength(1);
      expect(errs[0]!.startsWith(`${c.phase}: `), errs[0]).toBe(true);
      expect(errs[0]).toContain(`${c.operation} did not answer within ${c.seconds}s`);
      // It waited out the bound, and not much longer.
      expect(hungAt, "the call never hung").toBeDefined();
      const waited = mainEnded - hungAt!;
      // (less a second: the action starts its timer as it spawns the call, just before the simulator sees it)
      expect(waited).toBeGreaterThanOrEqual((c.seconds - 1) * 1000);
      expect(waited).toBeLessThan((c.seconds + 30) * 1000);
      console.log(`${c.name}: main failed ${(waited / 1000).toFixed(1)}s after the call hung: ${errs[0]}`);
      expect(post.code).toBe(0);
      expect(sim.containers()).toEqual([]);
    },
  );

  test("post's delete: post warns, names it, and ends", async ({ mac }) => {
    const sim = await mac(WARM);
    const seconds = boundSeconds("delete");
    const { main, post } = await runJob({
      sim,
      timeoutMs: (seconds + 90) * 1000,
      afterMain: () => void sim.faults.push({ when: /^container delete /, hang: true }),
    });
    expect(main.code, main.stdout.slice(-2000)).toBe(0);
    expect(post.timedOut).toBe(false);
    expect(post.code).toBe(0);
    const warnings = post.stdout.split("\n").filter((l) => l.startsWith("::warning::"));
    expect(warnings).toEqual([
      expect.stringContaining(`\`container delete --force ${NODE}\` did not answer within ${seconds}s`),
    ]);
    expect(post.durationMs).toBeLessThan((seconds + 30) * 1000);
    console.log(`post delete: post ended after ${(post.durationMs / 1000).toFixed(1)}s: ${warnings[0]}`);
  }, 240_000);
});
