// Issue 13: `workers` is checked against the Mac and the pod subnet before anything is touched.
import { describe, expect, test } from "../fixtures/mac.ts";
import { errors, runJob } from "../sim/runner.ts";

describe("workers input", () => {
  test.for([
    [{ workers: "3" }, "so at most 2 workers"],
    [{ workers: "2", memory: "6G" }, "so at most 1 worker;"],
    [{ workers: "1", "pod-subnet": "10.244.0.0/24" }, "use a pod-subnet of /23 or larger"],
    [{ workers: "many" }, "expected a whole number of worker nodes"],
  ] as const)("%o fails naming workers, touching nothing", async ([inputs, text], { sharedMac }) => {
    // An M2 Mac mini: default nodes of 2 CPUs and 4 GiB, so at most 2 workers.
    const sim = await sharedMac("m2", { ncpu: 8, memsize: 16 * 1024 ** 3 });
    const before = sim.calls.length;
    const { main, post } = await runJob({ sim, inputs });
    expect(main.code).not.toBe(0);
    const errs = errors(main.stdout);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toContain(`Input 'workers' has an invalid value '${inputs.workers}'`);
    expect(errs[0]).toContain(text);
    expect(sim.calls.slice(before)).toEqual([]);
    expect(post.code).toBe(0);
  });
});
