// Diagnostics: what a failure says, what is blanked, and that every part is bounded in time — an API
// server that accepts connections and never answers must not hold the step.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import { ContainerCli, ContainerError } from "../../src/container/cli.js";
import { PhaseError } from "../../src/phase.js";
import { collectDiagnostics, describeFailure, failureMessage, redact } from "../../src/steps/diagnostics.js";
import { hostShell, startSimulator, type Simulator } from "../sim/simulator.ts";

const NODE = "kina-control-plane";
const IMAGE = "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0";

/** `fetch failed` as undici throws it, with the socket error under it. */
function fetchFailed(code: string, message: string): TypeError {
  const cause = Object.assign(new Error(message), { code });
  return new TypeError("fetch failed", { cause });
}

describe("describeFailure", () => {
  it("gives the step, the command, its exit code and its stderr", () => {
    const err = new PhaseError(
      "kubeadm init",
      new ContainerError(
        ["exec", NODE, "kubeadm", "init"],
        1,
        "[ERROR CRI]: runtime down\nerror execution phase preflight\n",
      ),
    );
    expect(describeFailure(err)).toBe(
      [
        "failed step: kubeadm init",
        `error: 'container exec ${NODE} kubeadm init' exited 1: [ERROR CRI]: runtime down | error execution phase preflight`,
        `command: container exec ${NODE} kubeadm init`,
        "exit code: 1",
        "stderr:",
        "[ERROR CRI]: runtime down",
        "error execution phase preflight",
        "",
      ].join("\n"),
    );
  });

  it("finds the command under a wrapping error, and lists the causes", () => {
    const inner = new ContainerError(["image", "pull", "x"], 1, "Error: reset");
    const err = new PhaseError(
      "Kernel and node image",
      new Error("could not get the node image", { cause: inner }),
    );
    const text = describeFailure(err);
    expect(text).toContain("failed step: Kernel and node image\nerror: could not get the node image\n");
    expect(text).toContain("caused by: 'container image pull x' exited 1: Error: reset\n");
    expect(text).toContain("command: container image pull x\nexit code: 1\nstderr:\nError: reset\n");
  });

  it("says 'unknown' for an error outside any step", () => {
    expect(describeFailure("boom")).toBe("failed step: unknown\nerror: boom\n");
  });
});

describe("failureMessage", () => {
  it("adds the socket error that 'fetch failed' hides", () => {
    const err = new PhaseError(
      "Untaint control plane",
      fetchFailed("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:6443"),
    );
    expect(failureMessage(err)).toBe(
      "Untaint control plane: fetch failed (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:6443)",
    );
  });

  it("leaves a message that already explains itself", () => {
    const err = new PhaseError(
      "Readiness",
      new Error("not ready within the wait budget (5s)", { cause: new Error("budget") }),
    );
    expect(failureMessage(err)).toBe("Readiness: not ready within the wait budget (5s)");
  });
});

describe("redact", () => {
  it("blanks proxy credentials and kubeadm join secrets", () => {
    expect(redact('"HTTPS_PROXY=http://alice:s3cret@proxy.corp:3128"')).toBe(
      '"HTTPS_PROXY=http://***:***@proxy.corp:3128"',
    );
    expect(redact("kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef \\")).toBe(
      "kubeadm join 10.0.0.1:6443 --token *** \\",
    );
    expect(redact("--certificate-key=0123abcd --discovery-token-ca-cert-hash sha256:00")).toBe(
      "--certificate-key=*** --discovery-token-ca-cert-hash sha256:00",
    );
    expect(redact("http://proxy.corp:3128 and https://example.com/a@b")).toBe(
      "http://proxy.corp:3128 and https://example.com/a@b",
    );
  });
});

describe("collectDiagnostics", () => {
  let dir: string;
  let out: string;
  let sim: Simulator | undefined;
  const saved = { ...process.env };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "kina-diag-"));
    out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out += chunk.toString();
      return true;
    });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await sim?.stop();
    sim = undefined;
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    rmSync(dir, { recursive: true, force: true });
  });

  function kubeconfigFor(port: number): string {
    const file = join(dir, "kubeconfig");
    writeFileSync(
      file,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          { name: "c", cluster: { server: `https://127.0.0.1:${port}`, "insecure-skip-tls-verify": true } },
        ],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
        "current-context": "c",
      }),
    );
    return file;
  }

  it("does not wait on an API server that accepts and never answers, and leaves no connection open", async () => {
    const sockets = new Set<net.Socket>();
    let accepted = 0;
    const server = net.createServer((s) => {
      accepted++;
      sockets.add(s);
      s.resume(); // read (and drop) what comes, so the peer's close is seen
      s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const t0 = performance.now();
      const result = await collectDiagnostics(new ContainerCli(), {
        clusterName: "kina",
        kubeconfig: kubeconfigFor(port),
        error: new PhaseError("Readiness", new Error("not ready")),
        timeoutMs: 500,
        env: { RUNNER_TEMP: dir },
      });
      const ms = performance.now() - t0;
      expect(ms).toBeLessThan(2500);
      expect(result).toBe(join(dir, "kina-diagnostics", "kina"));
      expect(readdirSync(result).sort()).toEqual([
        "csrs.txt",
        "events.txt",
        "failure.txt",
        "nodes.txt",
        "pods.txt",
      ]);
      for (const f of ["nodes.txt", "pods.txt", "events.txt", "csrs.txt"])
        expect(readFileSync(join(result, f), "utf8")).toBe(
          `(could not collect: API server https://127.0.0.1:${port} not reachable: no TLS handshake within 0.25s)\n`,
        );
      // One probe, not four requests stuck in their handshakes.
      expect(accepted).toBe(1);
      // Every request was aborted: the client closes its sockets.
      const deadline = Date.now() + 2000;
      while (sockets.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(sockets.size).toBe(0);
      expect(out).toMatch(/^::group::Diagnostics \(also in .*kina-diagnostics\/kina\)$/m);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  it("reports a refused connection at once", async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const t0 = performance.now();
    const result = await collectDiagnostics(new ContainerCli(), {
      clusterName: "kina",
      kubeconfig: kubeconfigFor(port),
      error: new Error("x"),
      env: { RUNNER_TEMP: dir },
    });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(readFileSync(join(result, "nodes.txt"), "utf8")).toBe(
      `(could not collect: API server https://127.0.0.1:${port} not reachable: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:${port})\n`,
    );
  });

  it("collects the node's logs, journals and containers from the simulated service", async () => {
    sim = await startSimulator({ serviceRunning: true, kernelInstalled: true });
    Object.assign(process.env, sim.env);
    const r = await hostShell(
      sim,
      `container run -d --name ${NODE} -e 'HTTPS_PROXY=http://u:pw@proxy:3128' ${IMAGE}`,
    );
    expect(r.code, r.stderr).toBe(0);
    const result = await collectDiagnostics(new ContainerCli(), {
      clusterName: "kina",
      node: NODE,
      kubeadmOutput: "[init] Using Kubernetes version: v1.35.8\n",
      error: new PhaseError("Node preparation", new ContainerError(["exec", NODE, "sh"], 2, "boom")),
      env: { RUNNER_TEMP: dir },
    });
    const read = (f: string) => readFileSync(join(result, f), "utf8");
    expect(readdirSync(result).sort()).toEqual([
      "container-boot.log",
      "container-inspect.json",
      "container.log",
      "containerd.log",
      "containers.txt",
      "failure.txt",
      "kubeadm-init.txt",
      "kubelet.log",
    ]);
    expect(read("container-boot.log")).toContain("Booting Linux");
    expect(read("containers.txt")).toContain(NODE);
    expect(read("container-inspect.json")).toContain("HTTPS_PROXY=http://***:***@proxy:3128");
    expect(read("container-inspect.json")).not.toContain("pw@");
    expect(read("containerd.log")).toContain("containerd");
    expect(read("failure.txt")).toContain("exit code: 2\nstderr:\nboom\n");
    // Printed too, each file under its name.
    expect(out).toContain(`===== failure.txt =====\n${read("failure.txt").trimEnd()}`);
    expect(out).toMatch(/Diagnostics collected in [\d.]+s/);
  });

  it("says the node does not exist when it never came up", async () => {
    sim = await startSimulator({ serviceRunning: true });
    Object.assign(process.env, sim.env);
    const result = await collectDiagnostics(new ContainerCli(), {
      clusterName: "kina",
      node: NODE,
      error: new Error("x"),
      env: { RUNNER_TEMP: dir },
    });
    expect(readFileSync(join(result, "container-boot.log"), "utf8")).toMatch(/\(exit 1\) .*not found/);
  });
});
