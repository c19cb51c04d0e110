import { describe, expect, it } from "vitest";
import { Backoff, sleep } from "../src/backoff.js";

describe("Backoff", () => {
  it("doubles from min to max and starts over after a reset", () => {
    const b = new Backoff({ minMs: 100, maxMs: 500 });
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 500]);
    expect(b.count).toBe(4);
    b.reset();
    expect(b.next()).toBe(100);
  });
});

describe("sleep", () => {
  it("ends early with the signal's reason", async () => {
    const ac = new AbortController();
    const t0 = performance.now();
    const p = sleep(30_000, ac.signal);
    ac.abort(new Error("budget"));
    await expect(p).rejects.toThrow("budget");
    expect(performance.now() - t0).toBeLessThan(1_000);
    await expect(sleep(10, AbortSignal.abort(new Error("already")))).rejects.toThrow("already");
  });
});
