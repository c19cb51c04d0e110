// collectDiagnostics: every part bounded in time (an API server that accepts connections and never
// answers must not hold the step), written to RUNNER_TEMP and printed, credentials blanked.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";
import { stringify } from "yaml";
import { ContainerCli, ContainerError } from "../../src/container/cli.js";
import { PhaseError } from "../../src/errors.js";
import { collectDiagnostics } from "../../src/steps/diagnostics.js";
import { hostShell } from "../sim/simulator.ts";
import { DEFAULT_IMAGE as IMAGE, describe, expect, test, vi } from "../fixtures/mac.ts";

const NODE = "kina-control-plane";

describe("collectDiagnostics", () => {
  let dir: string;
  let out: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "kina-diag-"));
    out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out += chunk.toString();
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
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

  test("does not wait on an API server that accepts and never answers, and leaves no connection open", async () => {
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

  test("reports a refused connection at once", async () => {
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

  test("collects the node's logs, journals and containers from the simulated service", async ({ onMac }) => {
    const sim = await onMac({ serviceRunning: true, kernelInstalled: true });
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

  test("says the node does not exist when it never came up", async ({ onMac }) => {
    await onMac({ serviceRunning: true });
    const result = await collectDiagnostics(new ContainerCli(), {
      clusterName: "kina",
      node: NODE,
      error: new Error("x"),
      env: { RUNNER_TEMP: dir },
    });
    expect(readFileSync(join(result, "container-boot.log"), "utf8")).toMatch(/\(exit 1\) .*not found/);
  });
});
