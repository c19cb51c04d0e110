// The approver against the HTTPS stand-in API server (mutual TLS on loopback): the kubelet's serving
// CSR is approved, hostile ones created alongside are not, a 409 is retried, and stop() is clean.
/* eslint-disable @typescript-eslint/no-explicit-any -- CSR objects from the simulator are untyped JSON */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { startCsrApprover, type CsrApprover } from "../../src/kube/csr-approver.js";
import type { NodeIdentity } from "../../src/kube/csr-rules.js";
import { type ApiServer, startApiServer } from "../sim/kube/apiserver.ts";
import type { CsrOptions } from "../sim/kube/certs.ts";
import { kubeletCsrObject } from "../fixtures/csr.ts";

const NODE_NAME = "kina-control-plane";
const NODE_IP = "127.0.64.2";
const NODE: NodeIdentity = { nodeName: NODE_NAME, hostnames: [NODE_NAME], ips: [NODE_IP] };
const USER = `system:node:${NODE_NAME}`;
const KUBELET: CsrOptions = {
  keyType: "ec",
  cn: USER,
  o: ["system:nodes"],
  dns: [NODE_NAME],
  ips: [NODE_IP],
};
const CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

async function waitFor<T>(what: string, get: () => T | undefined | false, timeoutMs = 3_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined && v !== false) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function kubeconfig(server: ApiServer, url = server.urls[0] as string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(server.adminKubeconfig(url));
  return kc;
}

function collector() {
  const info: string[] = [];
  const warning: string[] = [];
  return {
    info,
    warning,
    log: { info: (m: string) => info.push(m), warning: (m: string) => warning.push(m) },
  };
}

const csrObject = (name: string, csr: Partial<CsrOptions>, spec: Record<string, unknown> = {}) =>
  kubeletCsrObject({ name: NODE_NAME, ip: NODE_IP }, name, { ...KUBELET, ...csr }, spec);

async function tamperedCsr(name: string) {
  const o = await csrObject(name, {});
  const der = Buffer.from(x509.PemConverter.decodeFirst(Buffer.from(o.spec.request, "base64").toString()));
  der[der.indexOf(Buffer.from(NODE_NAME))] = "x".charCodeAt(0);
  o.spec.request = Buffer.from(x509.PemConverter.encode(der, "CERTIFICATE REQUEST")).toString("base64");
  return o;
}

const conditionTypes = (o: any): string[] => (o?.status?.conditions ?? []).map((c: any) => c.type);
const watchRequests = (s: ApiServer) =>
  s.requests.filter((r) => r.path === CSR_PATH && /watch=true/.test(r.query));

/** Ref'd client-side sockets to the server: what would keep the action's process alive. */
function clientSockets(server: ApiServer): unknown[] {
  const port = Number(new URL(server.urls[0] as string).port);
  const handles = (process as unknown as { _getActiveHandles(): any[] })._getActiveHandles();
  return handles.filter((h) => h?.remotePort === port && h.localPort !== port);
}
const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(opts: Partial<Parameters<typeof startApiServer>[0]> = {}): Promise<ApiServer> {
  const server = await startApiServer({
    listen: [{ host: "127.0.0.1", port: 0 }],
    nodeName: NODE_NAME,
    nodeIP: NODE_IP,
    ...opts,
  });
  cleanups.push(() => server.stop());
  return server;
}

function start(
  server: ApiServer,
  log: ReturnType<typeof collector>["log"],
  deny = false,
  kc = kubeconfig(server),
) {
  const approver = startCsrApprover(kc, NODE, log, { deny });
  cleanups.push(() => approver.stop());
  return approver;
}

describe("startCsrApprover against the stand-in API server", () => {
  it("approves the kubelet's CSR within a second, retrying a 409, and leaves hostile CSRs pending", async () => {
    const server = await serve({ approvalConflicts: 1 });
    const timersBefore = timers();
    // One hostile request exists before the approver starts: the watch's initial list must cover it.
    server.createCsr(await csrObject("early-service-ip", { ips: [NODE_IP, "10.96.0.1"] }));
    const logs = collector();
    const approver = start(server, logs.log);
    await waitFor("the CSR watch", () => watchRequests(server).length === 1);

    const hostile: Array<[string, Promise<object>, RegExp]> = [
      [
        "early-service-ip",
        Promise.resolve({}),
        /IP SAN "10\.96\.0\.1" is not an address of node kina-control-plane/,
      ],
      [
        "kubernetes-svc",
        csrObject("kubernetes-svc", { dns: [NODE_NAME, "kubernetes.default.svc"] }),
        /DNS SAN "kubernetes\.default\.svc" is not a name/,
      ],
      [
        "foreign-ip",
        csrObject("foreign-ip", { ips: ["127.0.64.9"] }),
        /IP SAN "127\.0\.64\.9" is not an address/,
      ],
      [
        "other-node",
        csrObject("other-node", { cn: "system:node:other" }, { username: "system:node:other" }),
        /requested by "system:node:other"/,
      ],
      [
        "masters",
        csrObject("masters", { o: ["system:masters"] }),
        /subject organization is \["system:masters"\]/,
      ],
      [
        "client-auth",
        csrObject("client-auth", {}, { usages: ["digital signature", "server auth", "client auth"] }),
        /usages .* are neither/,
      ],
      ["tampered", tamperedCsr("tampered"), /signature does not verify/],
    ];
    // The kubelet (after csrDelayMs) and the hostile requests arrive together.
    server.kubelet.start();
    for (const [name, obj] of hostile) if (name !== "early-service-ip") server.createCsr(await obj);
    // Another signer's request is not ours to judge: it is neither decided nor logged.
    server.createCsr(
      await csrObject(
        "admin-client",
        { o: ["system:masters"], dns: [], ips: [] },
        {
          signerName: "kubernetes.io/kube-apiserver-client",
          usages: ["digital signature", "client auth"],
        },
      ),
    );

    const name = await withTimeout(approver.firstApproval, 3_000, "the first approval");
    expect(name).toMatch(/^csr-/);
    expect(server.times.csrApproved! - server.times.csrCreated!).toBeLessThan(1_000);
    expect(conditionTypes(server.store.get("csr", undefined, name))).toContain("Approved");

    // The first PUT got the forced 409; the approver re-read the CSR and the second PUT succeeded.
    const approvals = server.requests.filter((r) => r.path === `${CSR_PATH}/${name}/approval`);
    expect(approvals.map((r) => [r.method, r.status])).toEqual([
      ["PUT", 409],
      ["PUT", 200],
    ]);
    expect(server.requests.some((r) => r.method === "GET" && r.path === `${CSR_PATH}/${name}`)).toBe(true);
    const approved = server.store.get("csr", undefined, name);
    const cond = approved.status.conditions.find((c: any) => c.type === "Approved");
    expect(cond).toMatchObject({ status: "True", reason: "KinaApprove" });
    expect(cond.message).toContain(USER);

    await waitFor("a decision on every hostile CSR", () =>
      hostile.every(([n]) => approver.decisions.some((d) => d.name === n)),
    );
    for (const [n, , reason] of hostile) {
      const mine = approver.decisions.filter((d) => d.name === n);
      expect(mine, n).toEqual([{ name: n, approved: false, reason: expect.stringMatching(reason) }]);
      expect(conditionTypes(server.store.get("csr", undefined, n)), n).toEqual([]);
      expect(logs.info).toContain(`left CSR ${n} pending: ${mine[0]!.reason}`);
    }
    expect(conditionTypes(server.store.get("csr", undefined, "admin-client"))).toEqual([]);
    expect(approver.decisions.some((d) => d.name === "admin-client")).toBe(false);

    // The signer issues the certificate (a new version of the CSR): not a new decision.
    await waitFor(
      "the kubelet's certificate",
      () => server.store.get("csr", undefined, name).status.certificate,
    );
    // A hostile CSR that changes is judged again, once.
    server.store.update("csr", undefined, "masters", (o: any) => (o.metadata.labels = { touched: "yes" }));
    await waitFor("a second decision on the changed CSR", () =>
      approver.decisions.filter((d) => d.name === "masters").length === 2 ? true : undefined,
    );
    // A network blip: the reopened watch lists every CSR again, but unchanged ones are not re-judged.
    for (const socket of clientSockets(server)) (socket as { destroy(): void }).destroy();
    await waitFor("the reopened CSR watch", () => watchRequests(server).length === 2);
    server.createCsr(await csrObject("marker", { dns: ["kina-worker"] }));
    await waitFor("the decision after the replay", () => approver.decisions.some((d) => d.name === "marker"));
    expect(approver.decisions.map((d) => d.name).sort()).toEqual(
      [...hostile.map(([n]) => n), "masters", "marker", name].sort(),
    );
    expect(approver.decisions.filter((d) => d.approved)).toEqual([
      { name, approved: true, reason: expect.stringContaining(USER) },
    ]);
    expect(logs.info.filter((l) => l.startsWith("approved CSR"))).toEqual([
      `approved CSR ${name}: ${approver.decisions.find((d) => d.approved)!.reason}`,
    ]);
    expect(logs.warning).toEqual([]);
    // Names only: no PEM or base64 of a request reaches the log.
    expect(logs.info.join("\n")).not.toMatch(/BEGIN|MII/);

    await withTimeout(approver.stop(), 2_000, "stop()");
    const seen = server.requests.length;
    // Something that would be approved, after stop(): no request may follow.
    server.createCsr(await csrObject("after-stop", {}));
    await new Promise((r) => setTimeout(r, 300));
    expect(server.requests.length).toBe(seen);
    expect(conditionTypes(server.store.get("csr", undefined, "after-stop"))).toEqual([]);

    // The watch connection is gone; what idle keep-alive sockets client-node keeps are unref'd.
    await waitFor("the approver's connections to close", () => clientSockets(server).length === 0, 2_000);
    expect(timers()).toBeLessThanOrEqual(timersBefore);
  });

  it("in deny mode denies a hostile kubelet-serving CSR with its reason, and no other signer's", async () => {
    const server = await serve();
    const logs = collector();
    const approver = start(server, logs.log, true);
    await waitFor("the CSR watch", () => watchRequests(server).length === 1);
    server.createCsr(await csrObject("service-name", { dns: [NODE_NAME, "kubernetes.default.svc"] }));
    server.createCsr(
      await csrObject(
        "client",
        {},
        { signerName: "kubernetes.io/kube-apiserver-client-kubelet", usages: ["client auth"] },
      ),
    );
    server.kubelet.start();
    const name = await withTimeout(approver.firstApproval, 3_000, "the first approval");

    const denied = await waitFor("the denial", () => {
      const o = server.store.get("csr", undefined, "service-name");
      return conditionTypes(o).includes("Denied") ? o : undefined;
    });
    expect(denied.status.conditions).toEqual([
      expect.objectContaining({
        type: "Denied",
        status: "True",
        reason: "KinaDeny",
        message: expect.stringContaining(
          'DNS SAN "kubernetes.default.svc" is not a name of node kina-control-plane',
        ),
      }),
    ]);
    expect(logs.info).toContainEqual(expect.stringMatching(/^denied CSR service-name: its DNS SAN/));
    expect(conditionTypes(server.store.get("csr", undefined, name))).toContain("Approved");
    expect(conditionTypes(server.store.get("csr", undefined, "client"))).toEqual([]);
    expect(approver.decisions.map((d) => [d.name, d.approved])).toEqual([
      ["service-name", false],
      [name, true],
    ]);
  });

  it("reopens the watch after the API server goes away and approves on the new one", async () => {
    const first = await serve();
    const url = first.urls[0] as string;
    const port = Number(new URL(url).port);
    const logs = collector();
    const approver = start(first, logs.log, false, kubeconfig(first, url));
    await waitFor("the CSR watch", () => watchRequests(first).length === 1);
    await first.stop();

    // Same CA and port, so the approver's kubeconfig still fits; the approver is backing off meanwhile.
    await waitFor("a reconnect attempt to fail", () =>
      logs.info.some((l) => l.startsWith("the CSR watch ended: ")),
    );
    const second = await serve({ ca: first.ca, listen: [{ host: "127.0.0.1", port }] });
    await waitFor("the CSR watch on the new server", () => watchRequests(second).length >= 1, 8_000);
    second.kubelet.start();
    const name = await withTimeout(approver.firstApproval, 3_000, "the approval on the new server");
    expect(conditionTypes(second.store.get("csr", undefined, name))).toContain("Approved");
    const failures = logs.info.filter((l) => l.startsWith("the CSR watch ended: "));
    expect(failures[0]).toMatch(/^the CSR watch ended: fetch failed \(.*ECONNREFUSED.*\); retrying$/);
    expect(logs.warning).toEqual([]);
  });

  it("stops promptly while backing off, leaving no timer and making no further attempt", async () => {
    const server = await serve();
    const logs = collector();
    const timersBefore = timers();
    const approver = start(server, logs.log);
    await waitFor("the CSR watch", () => watchRequests(server).length === 1);
    await server.stop();
    await waitFor("a failed reconnect", () => logs.info.some((l) => l.startsWith("the CSR watch ended: ")));
    const timersBackingOff = timers();
    const t0 = performance.now();
    await approver.stop();
    expect(performance.now() - t0).toBeLessThan(100);
    const lines = logs.info.length;
    // The retry timer pending during the backoff is cleared, not left to fire.
    expect(timers()).toBeLessThan(timersBackingOff);
    expect(timers()).toBeLessThanOrEqual(timersBefore);
    await new Promise((r) => setTimeout(r, 300));
    expect(logs.info.length).toBe(lines);
  });

  it("resolves firstApproval for our node's CSR found already approved, without judging it again", async () => {
    const server = await serve();
    const approved = await csrObject("approved-earlier", {});
    server.createCsr({
      ...approved,
      status: { conditions: [{ type: "Approved", status: "True", reason: "Earlier", message: "by hand" }] },
    });
    const logs = collector();
    const approver = start(server, logs.log);
    expect(await withTimeout(approver.firstApproval, 2_000, "firstApproval")).toBe("approved-earlier");
    expect(approver.decisions).toEqual([]);
    expect(server.requests.filter((r) => r.method !== "GET")).toEqual([]);
  });

  it("rejects firstApproval when stopped before any approval", async () => {
    const server = await serve();
    const approver: CsrApprover = start(server, collector().log);
    await waitFor("the CSR watch", () => watchRequests(server).length === 1);
    await approver.stop();
    await expect(withTimeout(approver.firstApproval, 1_000, "firstApproval")).rejects.toThrow(
      /stopped before it approved/,
    );
  });
});

describe("startCsrApprover with several nodes", () => {
  const W1 = "kina-worker-1";
  const W1_IP = "127.0.64.3";
  const NODES: NodeIdentity[] = [NODE, { nodeName: W1, hostnames: [W1], ips: [W1_IP] }];
  const asWorker = (name: string, csr: Partial<CsrOptions> = {}) =>
    kubeletCsrObject({ name: W1, ip: W1_IP }, name, {
      keyType: "ec",
      cn: `system:node:${W1}`,
      o: ["system:nodes"],
      dns: [W1],
      ips: [W1_IP],
      ...csr,
    });

  it("judges each CSR against its requester's own names and address, never the union", async () => {
    const server = await serve();
    const logs = collector();
    const approver = startCsrApprover(kubeconfig(server), NODES, logs.log);
    cleanups.push(() => approver.stop());
    await waitFor("the CSR watch", () => watchRequests(server).length === 1);
    server.createCsr(await asWorker("worker-own"));
    // Each of these names only addresses and names of *some* node of ours, but not the requester's.
    server.createCsr(await asWorker("worker-asks-cp-ip", { ips: [NODE_IP] }));
    server.createCsr(await asWorker("worker-asks-cp-name", { dns: [W1, NODE_NAME] }));
    server.createCsr(
      await kubeletCsrObject({ name: "kina-worker-9", ip: W1_IP }, "unknown-node", {
        keyType: "ec",
        cn: "system:node:kina-worker-9",
        o: ["system:nodes"],
        dns: ["kina-worker-9"],
      }),
    );
    await waitFor("four decisions", () => approver.decisions.length >= 4 && approver.decisions);
    const verdict = Object.fromEntries(approver.decisions.map((d) => [d.name, d]));
    expect(verdict["worker-own"]?.approved).toBe(true);
    expect(verdict["worker-asks-cp-ip"]).toMatchObject({ approved: false });
    expect(verdict["worker-asks-cp-ip"]?.reason).toMatch(
      /IP SAN "127\.0\.64\.2" is not an address of node kina-worker-1/,
    );
    expect(verdict["worker-asks-cp-name"]?.reason).toMatch(
      /DNS SAN "kina-control-plane" is not a name of node kina-worker-1/,
    );
    expect(verdict["unknown-node"]).toMatchObject({ approved: false });
    expect(verdict["unknown-node"]?.reason).toMatch(/requested by "?system:node:kina-worker-9"?/);
    const csrs = server.store.list("csr") as any[];
    for (const name of ["worker-asks-cp-ip", "worker-asks-cp-name", "unknown-node"])
      expect(conditionTypes(csrs.find((c) => c.metadata.name === name)), name).toEqual([]);
  });
});
