// The one way the action runs a process, against real processes: bounded, cancellable, given input and
// environment, echoed with credentials blanked.
import { describe, expect, it, vi } from "vitest";
import { killAll, runPipe, runProcess } from "../src/process.js";

function captureStdout(): { text(): string; restore(): void } {
  let out = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  return { text: () => out, restore: () => spy.mockRestore() };
}

describe("runProcess", () => {
  it("collects output and the exit code, and closes stdin so nothing can prompt", async () => {
    const r = await runProcess("sh", ["-c", "read x || echo no-input; echo out; echo err >&2; exit 3"], {
      timeoutMs: 10_000,
    });
    expect(r).toMatchObject({
      code: 3,
      stdout: "no-input\nout\n",
      stderr: "err\n",
      timedOut: false,
      cancelled: false,
    });
  });

  it("passes input and extra environment", async () => {
    vi.stubEnv("KINA_BASE", "base");
    const r = await runProcess("sh", ["-c", 'cat; echo "$KINA_BASE $KINA_EXTRA"'], {
      timeoutMs: 10_000,
      input: "hello\n",
      env: { KINA_EXTRA: "extra" },
    });
    expect(r.stdout).toBe("hello\nbase extra\n");
  });

  it("kills a process that outlives its bound, and says so", async () => {
    const t0 = performance.now();
    const r = await runProcess("sleep", ["30"], { timeoutMs: 300 });
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(r).toMatchObject({ code: -1, timedOut: true, cancelled: false });
  });

  it("does not wait on a grandchild that keeps the pipes open after the process is killed", async () => {
    const t0 = performance.now();
    const r = await runProcess("sh", ["-c", "sleep 30 & sleep 30"], { timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it("is cancelled by its signal, and by killAll", async () => {
    const ac = new AbortController();
    const p = runProcess("sleep", ["30"], { timeoutMs: 30_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    expect(await p).toMatchObject({ cancelled: true, timedOut: false, code: -1 });
    const q = runProcess("sleep", ["30"], { timeoutMs: 30_000 });
    setTimeout(killAll, 100);
    expect((await q).ms).toBeLessThan(5_000);
  });

  it("rejects when the program does not exist", async () => {
    await expect(runProcess("kina-no-such-program", [], { timeoutMs: 1_000 })).rejects.toMatchObject({
      code: "ENOENT",
    });
  });

  it("echoes the command line and the output with credentials blanked", async () => {
    const out = captureStdout();
    try {
      await runProcess("sh", ["-c", "echo via http://bot:hunter22@proxy.example:3128"], {
        timeoutMs: 10_000,
        echo: true,
      });
    } finally {
      out.restore();
    }
    expect(out.text()).toContain("[command]sh -c 'echo via http://***:***@proxy.example:3128'\n");
    expect(out.text()).toContain("via http://***:***@proxy.example:3128\n");
    expect(out.text()).not.toContain("hunter22");
  });
});

describe("runPipe", () => {
  it("streams the first process's output into the second's input", async () => {
    const [a, b] = await runPipe(
      { cmd: "sh", args: ["-c", "seq 1 20000"] },
      { cmd: "sh", args: ["-c", "wc -l"] },
      { timeoutMs: 10_000 },
    );
    expect(a.code).toBe(0);
    expect(b).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\s*20000\n$/) });
  });

  it("stops the writer when the reader fails, and bounds both", async () => {
    const [a, b] = await runPipe(
      { cmd: "sh", args: ["-c", "yes"] },
      { cmd: "sh", args: ["-c", "head -c 10 >/dev/null; exit 4"] },
      { timeoutMs: 10_000 },
    );
    expect(b.code).toBe(4);
    expect(a.code).not.toBe(0);
    // A reader that outlives its writer: the bound ends both (whichever timer fires first).
    const t0 = performance.now();
    const [c, d] = await runPipe(
      { cmd: "sleep", args: ["30"] },
      { cmd: "sh", args: ["-c", "cat >/dev/null; sleep 30"] },
      { timeoutMs: 300 },
    );
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(d.timedOut).toBe(true);
    expect(c.code).toBe(-1);
  });
});
