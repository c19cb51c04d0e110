// Issue 4 end to end: the bundled action approves the kubelet's serving CSR and none of the hostile
// ones injected beside it while the cluster comes up.
import type { Simulator } from "../sim/simulator.ts";
import { describe, expect, test } from "../fixtures/mac.ts";
import { errors, runStep } from "../sim/runner.ts";
import type { CsrOptions } from "../sim/kube/certs.ts";
import { kubeletCsrObject } from "../fixtures/csr.ts";
import type { ApiServer } from "../sim/kube/apiserver.ts";

const NODE = "kina-control-plane";

type Csr = {
  metadata: { name: string };
  spec: { username: string };
  status?: { conditions?: Array<{ type: string }>; certificate?: string };
};

const hostile = (name: string, ip: string, csr: Partial<CsrOptions>, spec: Record<string, unknown> = {}) =>
  kubeletCsrObject({ name: NODE, ip }, name, csr, spec);

/** Resolves with the node's API server as soon as the simulated kubeadm has started it. */
async function apiOf(sim: Simulator, timeoutMs = 60_000): Promise<ApiServer> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const api = sim.containers().length ? sim.node(NODE).api : undefined;
    if (api) return api;
    if (performance.now() > deadline) throw new Error("the node's API server never started");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("serving CSR approval", () => {
  test("approves only the kubelet's request", async ({ mac }) => {
    const s = await mac();
    const main = runStep("main", { sim: s, timeoutMs: 120_000 });
    const api = await apiOf(s);
    const ip = s.node(NODE).ip;
    const injected = await Promise.all([
      hostile("evil-apiserver-dns", ip, { dns: [NODE, "kubernetes.default.svc"] }),
      hostile("evil-service-ip", ip, { ips: [ip, "10.96.0.1"] }),
      hostile(
        "evil-other-node",
        ip,
        { cn: "system:node:other", dns: ["other"] },
        { username: "system:node:other" },
      ),
      hostile("evil-masters", ip, { o: ["system:masters"] }),
      hostile("evil-client-auth", ip, {}, { usages: ["digital signature", "server auth", "client auth"] }),
      hostile("evil-not-a-node", ip, {}, { groups: ["system:authenticated"] }),
    ]);
    for (const csr of injected) api.createCsr(csr);
    const r = await main;
    expect(errors(r.stdout), r.stdout.slice(-2000)).toEqual([]);
    expect(r.code).toBe(0);

    const csrs = api.store.list("csr") as Csr[];
    const approved = csrs.filter((c) => c.status?.conditions?.some((x) => x.type === "Approved"));
    expect(approved).toHaveLength(1);
    expect(approved[0]!.metadata.name).not.toMatch(/^evil-/);
    expect(approved[0]!.status?.certificate).toBeTruthy();
    for (const c of csrs.filter((c) => c.metadata.name.startsWith("evil-"))) {
      expect(c.status?.conditions ?? [], c.metadata.name).toEqual([]);
      expect(r.stdout).toMatch(new RegExp(`left CSR ${c.metadata.name} pending: `));
    }
    expect(r.stdout).toContain(`approved CSR ${approved[0]!.metadata.name}`);
    await runStep("post", { sim: s, state: r.state });
  });

  test("approves nothing with approve-csrs: false and does not wait for the certificate", async ({ mac }) => {
    const sim = await mac();
    const r = await runStep("main", { sim, inputs: { "approve-csrs": "false" }, timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    const api = sim.node(NODE).api!;
    const csrs = api.store.list("csr") as Csr[];
    expect(csrs.length).toBeGreaterThan(0);
    expect(csrs.every((c) => !c.status?.conditions?.length)).toBe(true);
    expect(r.stdout).not.toContain("kubelet serving certificate issued after");
    await runStep("post", { sim, state: r.state });
  });
});
