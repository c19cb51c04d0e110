import { X509Certificate } from "node:crypto";
import {
  ApiException,
  AppsV1Api,
  CertificatesV1Api,
  CoreV1Api,
  Health,
  KubeConfig,
  PatchStrategy,
  VersionApi,
  Watch,
  setHeaderOptions,
  type V1CertificateSigningRequest,
  type V1Node,
} from "@kubernetes/client-node";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, type ApiServerOptions, startApiServer } from "./apiserver.ts";
import { type CA, certChainsTo, createCa, createCsr, describeCsr, issueCert } from "./certs.ts";

const NODE = "kina-control-plane";
const NODE_IP = "127.0.64.2";
const CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

let ca: CA;
let server: ApiServer | undefined;
beforeAll(async () => {
  ca = await createCa();
});
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function start(extra: Partial<ApiServerOptions> = {}): Promise<{ s: ApiServer; kc: KubeConfig }> {
  server = await startApiServer({
    listen: [{ host: NODE_IP, port: 0 }],
    nodeName: NODE,
    nodeIP: NODE_IP,
    ca,
    ...extra,
  });
  const kc = new KubeConfig();
  kc.loadFromString(server.adminKubeconfig(server.urls[0] ?? ""));
  return { s: server, kc };
}

async function waitFor<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  ms = 3000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Watches `path` with the real client until `pred` accepts an event; returns that event's object. */
function watchUntil<T>(
  kc: KubeConfig,
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  pred: (type: string, obj: T) => boolean,
  ms = 3000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let ctl: AbortController | undefined;
    let found: T | undefined;
    const timer = setTimeout(() => {
      ctl?.abort();
      reject(new Error(`no matching event on ${path}`));
    }, ms);
    void new Watch(kc)
      .watch(
        path,
        query,
        (type, obj: T) => {
          if (found === undefined && pred(type, obj)) {
            found = obj;
            clearTimeout(timer);
            ctl?.abort();
            resolve(obj);
          }
        },
        () => {},
      )
      .then((c) => {
        ctl = c;
        if (found !== undefined) c.abort();
      });
  });
}

const ready = (n: V1Node) => n.status?.conditions?.find((c) => c.type === "Ready")?.status;

function approve(csr: V1CertificateSigningRequest): V1CertificateSigningRequest {
  const conditions = [...(csr.status?.conditions ?? [])];
  conditions.push({ type: "Approved", status: "True", reason: "TestApprove", message: "approved by test" });
  return { ...csr, status: { ...csr.status, conditions } };
}

describe("apiserver stand-in", () => {
  it("serves health, version and discovery over mutual TLS to the admin kubeconfig", async () => {
    const { s, kc } = await start({ kubernetesVersion: "v1.35.8" });
    expect(s.urls[0]).toMatch(/^https:\/\/127\.0\.64\.2:\d+$/);
    const health = new Health(kc);
    expect(await health.readyz({})).toBe(true);
    expect(await health.livez({})).toBe(true);
    const v = await kc.makeApiClient(VersionApi).getCode();
    expect(v).toMatchObject({ major: "1", minor: "35", gitVersion: "v1.35.8" });
    expect(s.requests.find((r) => r.path === "/version")).toMatchObject({
      status: 200,
      user: "kubernetes-admin",
    });
    expect(kc.getCurrentContext()).toBe("kubernetes-admin@kubernetes");
    expect(new X509Certificate(s.adminCredentials.certPem).subject).toContain("O=system:masters");
  });

  it("refuses clients without a certificate or with one from another CA", async () => {
    const { s, kc } = await start();
    const url = s.urls[0] ?? "";
    const noCert = new KubeConfig();
    noCert.loadFromOptions({
      clusters: [{ name: "c", server: url, caData: Buffer.from(ca.certPem).toString("base64") }],
      users: [{ name: "u", token: "not-a-cert" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    await expect(noCert.makeApiClient(CoreV1Api).listNode()).rejects.toThrow();

    const other = await createCa("other");
    const foreign = await issueCert(other, {
      cn: "kubernetes-admin",
      o: ["system:masters"],
      usage: "client",
    });
    const wrongCa = new KubeConfig();
    wrongCa.loadFromOptions({
      clusters: [{ name: "c", server: url, caData: Buffer.from(ca.certPem).toString("base64") }],
      users: [
        {
          name: "u",
          certData: Buffer.from(foreign.certPem).toString("base64"),
          keyData: Buffer.from(foreign.keyPem).toString("base64"),
        },
      ],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    await expect(wrongCa.makeApiClient(CoreV1Api).listNode()).rejects.toThrow();
    expect(s.requests).toHaveLength(0);
    expect(s.tlsErrors.length).toBeGreaterThanOrEqual(2);
    // The legitimate client still gets through.
    expect((await kc.makeApiClient(CoreV1Api).listNode()).items).toHaveLength(1);
  });

  it("starts as kubeadm init leaves it and turns the node Ready on kubelet.start()", async () => {
    const { s, kc } = await start();
    const core = kc.makeApiClient(CoreV1Api);
    const [node] = (await core.listNode()).items;
    expect(node?.metadata?.name).toBe(NODE);
    expect(ready(node as V1Node)).toBe("False");
    expect(node?.status?.conditions?.find((c) => c.type === "Ready")?.message).toContain(
      "cni plugin not initialized",
    );
    expect(node?.status?.addresses).toEqual([
      { type: "InternalIP", address: NODE_IP },
      { type: "Hostname", address: NODE },
    ]);
    expect(node?.spec?.taints).toContainEqual({
      key: "node-role.kubernetes.io/control-plane",
      effect: "NoSchedule",
    });
    expect(node?.metadata?.labels).toHaveProperty("node-role.kubernetes.io/control-plane", "");
    expect((await core.listNamespace()).items.map((n) => n.metadata?.name)).toEqual(
      expect.arrayContaining(["default", "kube-system", "kube-public"]),
    );
    const pods = (await core.listNamespacedPod({ namespace: "kube-system" })).items;
    expect(pods.filter((p) => p.metadata?.name?.startsWith("coredns-")).map((p) => p.status?.phase)).toEqual([
      "Pending",
      "Pending",
    ]);
    expect(pods.map((p) => p.metadata?.name)).toContain(`etcd-${NODE}`);
    expect((await core.listEventForAllNamespaces()).items.length).toBeGreaterThan(0);

    // A watch without resourceVersion first replays the node (ADDED), then sees it turn Ready.
    const events: string[] = [];
    const readyNode = watchUntil<V1Node>(
      kc,
      "/api/v1/nodes",
      { fieldSelector: `metadata.name=${NODE}` },
      (t, n) => {
        events.push(`${t}:${ready(n)}`);
        return t === "MODIFIED" && ready(n) === "True";
      },
    );
    await waitFor("initial ADDED event", () => events.length > 0);
    expect(s.kubelet.started).toBe(false);
    s.kubelet.start();
    expect(s.kubelet.started).toBe(true);
    await readyNode;
    expect(events[0]).toBe("ADDED:False");
    expect(ready((await core.readNode({ name: NODE })) as V1Node)).toBe("True");
    expect(s.times.nodeReady).toBeGreaterThan(0);
    // The node lifecycle controller then drops the not-ready taint.
    await waitFor("not-ready taint removed", async () => {
      const n = await core.readNode({ name: NODE });
      return n.spec?.taints?.every((t) => t.key !== "node.kubernetes.io/not-ready");
    });
  });

  it("brings CoreDNS and the default ServiceAccount up", async () => {
    const { s, kc } = await start({ corednsDelayMs: 50 });
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const before = await apps.readNamespacedDeployment({ name: "coredns", namespace: "kube-system" });
    expect(before.spec?.replicas).toBe(2);
    expect(before.status?.availableReplicas ?? 0).toBe(0);
    expect(before.status?.conditions?.find((c) => c.type === "Available")?.status).toBe("False");
    await waitFor("default ServiceAccount", () =>
      core.readNamespacedServiceAccount({ name: "default", namespace: "default" }).catch(() => undefined),
    );
    s.kubelet.start();
    await waitFor("coredns available", async () => {
      const d = await apps.readNamespacedDeployment({ name: "coredns", namespace: "kube-system" });
      return d.status?.conditions?.find((c) => c.type === "Available")?.status === "True" && d;
    });
    const pods = (await core.listPodForAllNamespaces({ labelSelector: "k8s-app=kube-dns" })).items;
    expect(pods.map((p) => p.status?.phase)).toEqual(["Running", "Running"]);
    expect(s.times.corednsReady).toBeGreaterThan(s.times.nodeReady ?? Infinity);
  });

  it("creates a kubelet-serving CSR and issues a CA-signed certificate once it is approved", async () => {
    const { s, kc } = await start();
    const certs = kc.makeApiClient(CertificatesV1Api);
    const created = watchUntil<V1CertificateSigningRequest>(kc, CSRS, {}, (t) => t === "ADDED");
    s.kubelet.start();
    const csr = await created;
    const name = csr.metadata?.name ?? "";
    expect(name).toMatch(/^csr-[a-z0-9]{5}$/);
    expect(csr.spec).toMatchObject({
      signerName: "kubernetes.io/kubelet-serving",
      username: `system:node:${NODE}`,
      groups: ["system:nodes", "system:authenticated"],
      usages: ["digital signature", "server auth"],
    });
    const info = await describeCsr(Buffer.from(csr.spec.request, "base64").toString());
    expect(info).toMatchObject({
      cn: `system:node:${NODE}`,
      o: ["system:nodes"],
      dns: [NODE],
      ips: [NODE_IP],
      signatureValid: true,
    });

    const issued = watchUntil<V1CertificateSigningRequest>(
      kc,
      CSRS,
      { fieldSelector: `metadata.name=${name}` },
      (_t, o) => Boolean(o.status?.certificate),
    );
    const current = await certs.readCertificateSigningRequest({ name });
    const approved = await certs.replaceCertificateSigningRequestApproval({ name, body: approve(current) });
    expect(approved.status?.conditions?.[0]).toMatchObject({ type: "Approved", status: "True" });
    expect(Number(approved.metadata?.resourceVersion)).toBeGreaterThan(
      Number(current.metadata?.resourceVersion),
    );
    const pem = Buffer.from((await issued).status?.certificate ?? "", "base64").toString();
    const cert = new X509Certificate(pem);
    expect(cert.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(await certChainsTo(pem, ca)).toBe(true);
    expect(cert.subjectAltName).toBe(`DNS:${NODE}, IP Address:${NODE_IP}`);
    expect(cert.subject).toContain(`CN=system:node:${NODE}`);
    const t = s.times;
    expect([t.nodeReady, t.csrCreated, t.csrApproved, t.certIssued].every((x) => typeof x === "number")).toBe(
      true,
    );
    expect(
      t.nodeReady! < t.csrCreated! && t.csrCreated! < t.csrApproved! && t.csrApproved! < t.certIssued!,
    ).toBe(true);
  });

  it("answers 409 for forced conflicts and for stale resourceVersions", async () => {
    const { s, kc } = await start({ approvalConflicts: 2, csrDelayMs: 0 });
    const certs = kc.makeApiClient(CertificatesV1Api);
    s.kubelet.start();
    const csr = await waitFor(
      "kubelet CSR",
      async () => (await certs.listCertificateSigningRequest()).items[0],
    );
    const name = csr.metadata?.name ?? "";
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const fresh = await certs.readCertificateSigningRequest({ name });
      await certs.replaceCertificateSigningRequestApproval({ name, body: approve(fresh) }).then(
        () => codes.push(200),
        (e: ApiException<unknown>) => codes.push(e.code),
      );
    }
    expect(codes).toEqual([409, 409, 200]);

    // A write with the resourceVersion read before the approval is stale.
    const stale = {
      ...csr,
      status: { conditions: [{ type: "Denied", status: "True", reason: "R", message: "m" }] },
    };
    const err = await certs
      .replaceCertificateSigningRequestApproval({ name, body: stale })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<string>).code).toBe(409);
    expect(JSON.parse((err as ApiException<string>).body)).toMatchObject({
      kind: "Status",
      reason: "Conflict",
      code: 409,
    });
    await waitFor("certificate", () => s.store.get("csr", undefined, name)?.status?.certificate);
  });

  it("records who created a CSR and refuses to sign requests of the wrong shape", async () => {
    const { s, kc } = await start();
    const certs = kc.makeApiClient(CertificatesV1Api);
    const hostile = await createCsr({
      keyType: "rsa",
      cn: `system:node:${NODE}`,
      o: ["system:nodes"],
      dns: ["kubernetes.default.svc"],
      emails: ["x@example.com"],
    });
    const posted = await certs.createCertificateSigningRequest({
      body: {
        metadata: { generateName: "csr-" },
        spec: {
          request: Buffer.from(hostile.csrPem).toString("base64"),
          signerName: "kubernetes.io/kubelet-serving",
          usages: ["digital signature", "key encipherment", "server auth"],
          username: `system:node:${NODE}`,
          groups: ["system:nodes"],
        },
      },
    });
    // The server writes the authenticated requester, not what the body claims.
    expect(posted.spec.username).toBe("kubernetes-admin");
    expect(posted.spec.groups).toEqual(["system:masters", "system:authenticated"]);
    const name = posted.metadata?.name ?? "";
    await certs.replaceCertificateSigningRequestApproval({ name, body: approve(posted) });
    const failed = await waitFor("signer verdict", () => {
      const o = s.store.get("certificatesigningrequests", undefined, name);
      return o.status.conditions.find((c: { type: string }) => c.type === "Failed");
    });
    expect(failed).toMatchObject({ status: "True", reason: "SignerValidationFailure" });
    expect(s.store.get("csr", undefined, name).status.certificate).toBeUndefined();

    // Injected objects are stored as given, forged requester included; denial is stored as-is.
    const injected = s.createCsr({
      metadata: { name: "forged" },
      spec: {
        request: posted.spec.request,
        signerName: "kubernetes.io/kubelet-serving",
        username: `system:node:${NODE}`,
      },
    }) as V1CertificateSigningRequest;
    expect(injected.spec.username).toBe(`system:node:${NODE}`);
    const denied = {
      ...injected,
      status: { conditions: [{ type: "Denied", status: "True", reason: "No", message: "no" }] },
    };
    const out = await certs.replaceCertificateSigningRequestApproval({ name: "forged", body: denied });
    expect(out.status?.conditions).toMatchObject([{ type: "Denied", status: "True", reason: "No" }]);
  });

  it("removes the control-plane taint with each patch type and with replaceNode", async () => {
    const { kc } = await start();
    const core = kc.makeApiClient(CoreV1Api);
    const cp = "node-role.kubernetes.io/control-plane";
    const readTaints = async () =>
      (await core.readNode({ name: NODE })).spec?.taints?.map((t) => t.key) ?? [];
    const restore = async () => {
      const n = await core.readNode({ name: NODE });
      n.spec = { ...n.spec, taints: [{ key: cp, effect: "NoSchedule" }] };
      await core.replaceNode({ name: NODE, body: n });
      expect(await readTaints()).toEqual([cp]);
    };

    // client-node's default patch type is JSON patch.
    const idx = (await readTaints()).indexOf(cp);
    await core.patchNode({
      name: NODE,
      body: [
        { op: "test", path: `/spec/taints/${idx}/key`, value: cp },
        { op: "remove", path: `/spec/taints/${idx}` },
      ],
    });
    expect(await readTaints()).toEqual(["node.kubernetes.io/not-ready"]);
    const bad = await core
      .patchNode({ name: NODE, body: [{ op: "test", path: "/spec/taints/0/key", value: cp }] })
      .catch((e: ApiException<unknown>) => e.code);
    expect(bad).toBe(422);

    await restore();
    await core.patchNode(
      { name: NODE, body: { spec: { taints: null } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(await readTaints()).toEqual([]);

    await restore();
    await core.patchNode(
      { name: NODE, body: { spec: { taints: [] }, status: { conditions: [] } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    expect(await readTaints()).toEqual([]);
    // A patch to the main resource leaves the status alone.
    expect((await core.readNode({ name: NODE })).status?.conditions?.length).toBe(4);

    const stale = await core.readNode({ name: NODE });
    await restore();
    const code = await core
      .replaceNode({ name: NODE, body: stale })
      .catch((e: ApiException<unknown>) => e.code);
    expect(code).toBe(409);
  });

  it("answers 404 with a Status and resumes watches from a resourceVersion", async () => {
    const { s, kc } = await start();
    const core = kc.makeApiClient(CoreV1Api);
    const err = (await core
      .readNamespacedPod({ name: "nope", namespace: "default" })
      .catch((e: unknown) => e)) as ApiException<string>;
    expect(err.code).toBe(404);
    expect(JSON.parse(err.body)).toMatchObject({
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      reason: "NotFound",
      code: 404,
    });
    const unknown = await new Promise<unknown>(
      (resolve) => void new Watch(kc).watch("/api/v1/widgets", {}, () => {}, resolve),
    );
    expect((unknown as { statusCode: number }).statusCode).toBe(404);

    const list = await core.listNode();
    s.store.update("nodes", undefined, NODE, (n) => (n.metadata.labels.extra = "1"));
    const seen: string[] = [];
    const next = watchUntil<V1Node>(
      kc,
      "/api/v1/nodes",
      { resourceVersion: list.metadata?.resourceVersion },
      (t, n) => {
        seen.push(t);
        return n.metadata?.labels?.extra === "1";
      },
    );
    expect((await next).metadata?.labels?.extra).toBe("1");
    expect(seen).toEqual(["MODIFIED"]);

    const t0 = Date.now();
    const done = await new Promise<unknown>(
      (resolve) =>
        void new Watch(kc).watch(
          "/api/v1/namespaces/kube-system/pods",
          { timeoutSeconds: 1 },
          () => {},
          resolve,
        ),
    );
    expect(done).toBeNull();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it("stop() ends open watches and leaves no handles behind", async () => {
    const count = () =>
      process
        .getActiveResourcesInfo()
        .filter((r) => ["TCPServerWrap", "TCPSocketWrap", "Timeout"].includes(r)).length;
    const baseline = count();
    const { s, kc } = await start();
    s.kubelet.start(); // leaves controller timers pending
    let ended = false;
    await new Watch(kc).watch(
      "/api/v1/nodes",
      {},
      () => {},
      () => (ended = true),
    );
    await waitFor("watch request", () => s.requests.some((r) => r.query.includes("watch=true")));
    await s.stop();
    server = undefined;
    await waitFor("watch ended", () => ended);
    await waitFor("handles released", () => count() <= baseline, 2000);
    await expect(kc.makeApiClient(CoreV1Api).listNode()).rejects.toThrow();
  });

  it("allocates podCIDRs like the controller-manager: the control plane first, then joined nodes, until none is left", async () => {
    const { s, kc } = await start({ clusterCidr: "10.30.0.0/23", nodeCidrMaskSize: 24, podCidrDelayMs: 5 });
    const core = kc.makeApiClient(CoreV1Api);
    expect((await core.readNode({ name: NODE })).spec?.podCIDR).toBe("10.30.0.0/24");
    // w1 registers without one; the allocator fills it in afterwards.
    const seen: string[] = [];
    const allocated = watchUntil<V1Node>(
      kc,
      "/api/v1/nodes",
      { fieldSelector: "metadata.name=w1" },
      (t, n) => {
        seen.push(`${t}:${n.spec?.podCIDR ?? "-"}`);
        return n.spec?.podCIDR !== undefined;
      },
    );
    await waitFor("watch", () => s.requests.some((r) => r.query.includes("watch=true")));
    await s.joinNode({ name: "w1", ip: "127.0.64.3", tokenId: "abcdef" });
    expect((await allocated).spec?.podCIDR).toBe("10.30.1.0/24");
    expect(seen[0]).toBe("ADDED:-");
    await s.joinNode({ name: "w2", ip: "127.0.64.4", tokenId: "abcdef" });
    await waitFor("CIDRNotAvailable for w2", async () =>
      (await core.listEventForAllNamespaces()).items.some(
        (e) => e.reason === "CIDRNotAvailable" && e.involvedObject.name === "w2",
      ),
    );
    expect((await core.readNode({ name: "w2" })).spec?.podCIDR).toBeUndefined();
    await expect(s.joinNode({ name: "w1", ip: "127.0.64.5", tokenId: "abcdef" })).rejects.toThrow(
      'a Node with name "w1" already exists',
    );
  });

  it("gives each node a kubelet of its own: Ready, then a serving CSR with its name and address", async () => {
    const { s } = await start();
    const w = await s.joinNode({ name: "w1", ip: "127.0.64.3", tokenId: "abcdef" });
    expect(s.kubeletFor("w1")).toBe(w);
    expect(s.kubeletFor(NODE)).toBe(s.kubelet);
    w.start();
    await waitFor("w1's serving CSR", () => s.nodeTimes.w1?.csrCreated);
    const csr = s.store
      .list("certificatesigningrequests")
      .find(
        (c) => c.spec.username === "system:node:w1" && c.spec.signerName === "kubernetes.io/kubelet-serving",
      );
    const info = await describeCsr(Buffer.from(csr.spec.request, "base64").toString());
    expect(info).toMatchObject({ cn: "system:node:w1", dns: ["w1"], ips: ["127.0.64.3"] });
    // The control plane's kubelet, CoreDNS and times are untouched by the worker's.
    expect(s.kubelet.started).toBe(false);
    expect(s.times.nodeReady).toBeUndefined();
  });

  it("stores a Secret's stringData as base64 data, as the API server does", async () => {
    const { s, kc } = await start();
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({
      namespace: "kube-system",
      body: {
        metadata: { name: "x" },
        stringData: { a: "b" },
        data: { c: Buffer.from("d").toString("base64") },
      },
    });
    const stored = s.store.get("secrets", "kube-system", "x");
    expect(stored.data).toEqual({ a: "Yg==", c: "ZA==" });
    expect(stored).not.toHaveProperty("stringData");
  });

  it("refuses node CIDR flags the controller-manager would refuse", async () => {
    await expect(start({ clusterCidr: "10.30.0.0/24", nodeCidrMaskSize: 23 })).rejects.toThrow(
      "mask size of cluster CIDR must be less than or equal to --node-cidr-mask-size",
    );
  });
});
