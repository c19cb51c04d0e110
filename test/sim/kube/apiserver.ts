// A stand-in kube-apiserver (plus the kubelet, CSR signer and controllers a fresh kubeadm cluster
// runs) serving the Kubernetes REST API over mutual TLS on loopback.
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects here are untyped JSON */
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { randomUUID } from "node:crypto";
import { type Socket, isIPv6 } from "node:net";
import { stringify } from "yaml";
import {
  type CA,
  type CertKey,
  createCa,
  createCsr,
  describeCsr,
  issueCert,
  signCsr,
  splitSans,
} from "./certs.ts";
import {
  type ClusterFacts,
  assignPodCidr,
  createDefaultServiceAccounts,
  markCorednsReady,
  markNodeReady,
  PodCidrAllocator,
  registerWorker,
  removeNotReadyTaint,
  seedCluster,
} from "./cluster.ts";
import { applyPatch } from "./patch.ts";
import {
  ApiError,
  RESOURCES,
  type Resource,
  type StoreEvent,
  Store,
  apiVersionOf,
  conflict,
  notFound,
  timestamp,
} from "./store.ts";

export interface ApiServerOptions {
  /** Loopback addresses to serve on; port 0 picks a free port. */
  listen: Array<{ host: string; port: number }>;
  nodeName: string;
  nodeIP: string;
  /** Extra SANs on the serving certificate (IPs or DNS names). */
  certSANs?: string[];
  clusterName?: string;
  kubernetesVersion?: string;
  /** CoreDNS turns Ready this long after the node turns Ready (default 150). */
  corednsDelayMs?: number;
  /** The kubelet's serving CSR is created this long after the node turns Ready (default 20). */
  csrDelayMs?: number;
  /** The first N PUTs to a CSR's /approval answer 409 Conflict (default 0). */
  approvalConflicts?: number;
  /** The token controller creates `default` ServiceAccounts this long after start (default 50). */
  serviceAccountDelayMs?: number;
  /**
   * kube-controller-manager's `--allocate-node-cidrs`, `--cluster-cidr` and `--node-cidr-mask-size`
   * (defaults: true, 10.244.0.0/16, 24). The control plane gets the first node CIDR at start; a joined
   * node gets the next free one `podCidrDelayMs` (default 10) after it registers. A constructor error
   * (mask wider than the cluster CIDR) is thrown, as the controller-manager would exit.
   */
  allocateNodeCidrs?: boolean;
  clusterCidr?: string;
  nodeCidrMaskSize?: number;
  podCidrDelayMs?: number;
  ca?: CA;
}

/** One node's kubelet: start() is the kubelet running with a working CNI config. */
export interface Kubelet {
  start(): void;
  readonly started: boolean;
}

/** When things happened to one node (performance.now()), like `times` for the control plane. */
export interface NodeTimes {
  registered?: number;
  podCidr?: number;
  nodeReady?: number;
  csrCreated?: number;
  csrApproved?: number;
  certIssued?: number;
}

/** A node `kubeadm join` registers. */
export interface JoiningNode {
  name: string;
  ip: string;
  /** The bootstrap token's id: the kubelet's TLS bootstrap identity is system:bootstrap:<id>. */
  tokenId: string;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  status: number;
  /** CN of the client certificate. */
  user: string;
}

export interface ApiServer {
  urls: string[];
  ca: CA;
  /** The kubernetes-admin client certificate (O=system:masters) used in adminKubeconfig. */
  adminCredentials: CertKey;
  adminKubeconfig(serverUrl: string): string;
  /** The control plane's kubelet. */
  kubelet: Kubelet;
  /** The control plane's node name. */
  nodeName: string;
  /** Any node's kubelet, by node name. */
  kubeletFor(nodeName: string): Kubelet | undefined;
  /**
   * Why the API server would refuse `<id>.<secret>` for discovery and TLS bootstrap, from the
   * `bootstrap-token-<id>` Secret in kube-system as the bootstrap authenticator and signer read it;
   * undefined when it accepts it. `use` says which half matters: discovery needs a signing token,
   * TLS bootstrap an authentication token in kubeadm's node group.
   */
  bootstrapTokenProblem(token: string, use: "discovery" | "tls-bootstrap"): string | undefined;
  /**
   * What a joining kubelet's TLS bootstrap and registration leave: an approved, issued client CSR
   * from system:bootstrap:<id>, the Node (NotReady, podCIDR allocated shortly after) and its
   * kube-proxy pod. Throws when a Node of that name exists.
   */
  joinNode(node: JoiningNode): Promise<Kubelet>;
  /** Per node, for nodes other than the control plane. */
  nodeTimes: Record<string, NodeTimes>;
  createCsr(csr: object): object;
  store: Pick<Store, "get" | "list" | "update" | "delete" | "create">;
  times: Record<string, number>;
  requests: RequestRecord[];
  /** TLS handshakes the server refused (no or untrusted client certificate). */
  tlsErrors: string[];
  stop(): Promise<void>;
}

const KUBELET_SERVING = "kubernetes.io/kubelet-serving";
const SERVING_USAGES = [
  ["digital signature", "server auth"],
  ["digital signature", "key encipherment", "server auth"],
].map((u) => u.join(","));
const SIGN_DELAY_MS = 5;
const NOT_READY_TAINT_DELAY_MS = 10;

const b64 = (s: string) => Buffer.from(s).toString("base64");
const hasCondition = (o: any, type: string) =>
  (o.status?.conditions ?? []).some((c: any) => c.type === type && c.status === "True");

function statusBody(code: number, reason: string, message: string, details?: object) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    details,
    code,
  };
}

/** fieldSelector / labelSelector equality terms (`a=b`, `a==b`, `a!=b`; labels also `a`, `!a`). */
function selectorMatches(obj: any, fieldSel: string | null, labelSel: string | null): boolean {
  const terms = (s: string | null) =>
    s
      ? s
          .split(",")
          .map((t) => t.trim())
          .filter(Boolean)
      : [];
  const check = (actual: string | undefined, term: string, exists: boolean) => {
    const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(term);
    if (!m) return term.startsWith("!") ? actual === undefined : exists;
    const [, , op, want] = m;
    return op === "!=" ? actual !== want : actual === want;
  };
  const field = (path: string) => path.split(".").reduce((o, k) => o?.[k], obj);
  for (const t of terms(fieldSel)) {
    const key = t.split(/!?=/)[0] ?? "";
    const v = field(key);
    if (!check(v === undefined ? "" : String(v), t, true)) return false;
  }
  for (const t of terms(labelSel)) {
    const key = (t.startsWith("!") ? t.slice(1) : t).split(/!?=/)[0]?.trim() ?? "";
    const v = obj.metadata?.labels?.[key];
    if (!check(v, t, v !== undefined)) return false;
  }
  return true;
}

/** Which objects and operation a request path names; undefined for paths the server does not serve. */
interface Target {
  res: Resource;
  ns: string | undefined;
  name: string | undefined;
  sub: string | undefined;
}
function parseTarget(pathname: string): Target | undefined {
  const seg = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  let group: string;
  let rest: string[];
  if (seg[0] === "api" && seg[1] === "v1") [group, rest] = ["", seg.slice(2)];
  else if (seg[0] === "apis" && seg.length >= 3) [group, rest] = [seg[1] ?? "", seg.slice(3)];
  else return undefined;
  const version = group ? seg[2] : "v1";
  let ns: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) [ns, rest] = [rest[1], rest.slice(2)];
  const res = RESOURCES.find((r) => r.plural === rest[0] && r.group === group && r.version === version);
  if (!res || rest.length > 3 || (ns !== undefined && !res.namespaced)) return undefined;
  if (!res.namespaced || ns !== undefined || rest.length === 1)
    return { res, ns, name: rest[1], sub: rest[2] };
  return undefined;
}

function discovery(pathname: string): object | undefined {
  const groups = [...new Set(RESOURCES.filter((r) => r.group).map((r) => r.group))];
  if (pathname === "/api") return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] };
  if (pathname === "/apis") {
    return {
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: groups.map((name) => {
        const gv = { groupVersion: `${name}/v1`, version: "v1" };
        return { name, versions: [gv], preferredVersion: gv };
      }),
    };
  }
  const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/(v1))$/.exec(pathname);
  if (!m) return undefined;
  const group = m[2] ?? "";
  const list = RESOURCES.filter((r) => r.group === group);
  if (!list.length) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group ? `${group}/v1` : "v1",
    resources: list.map((r) => ({
      name: r.plural,
      singularName: r.kind.toLowerCase(),
      namespaced: r.namespaced,
      kind: r.kind,
      shortNames: r.aliases.filter((a) => a.length <= 3),
      verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    })),
  };
}

function readBody(req: IncomingMessage): Promise<any> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", reject);
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        reject(new ApiError(400, "BadRequest", "the request body is not valid JSON"));
      }
    });
  });
}

/** Real kube-controller-manager signer's shape checks for kubernetes.io/kubelet-serving. */
async function kubeletServingProblem(csr: any): Promise<string | undefined> {
  let info;
  try {
    info = await describeCsr(Buffer.from(csr.spec.request ?? "", "base64").toString("utf8"));
  } catch {
    return "unable to parse csr";
  }
  if (!info.signatureValid) return "signature verification failed";
  if (info.o.length !== 1 || info.o[0] !== "system:nodes") return "subject organization is not system:nodes";
  if (!info.dns.length && !info.ips.length) return "DNS or IP subjectAltName is required";
  if (info.emails.length) return "Email subjectAltNames are not allowed";
  if (info.uris.length) return "URI subjectAltNames are not allowed";
  if (!SERVING_USAGES.includes([...(csr.spec.usages ?? [])].sort().join(","))) {
    return "usages did not match [digital signature key encipherment server auth]";
  }
  if (!info.cn.startsWith("system:node:")) return "subject common name does not begin with system:node:";
  return undefined;
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const allocator =
    opts.allocateNodeCidrs === false
      ? undefined
      : new PodCidrAllocator(opts.clusterCidr ?? "10.244.0.0/16", opts.nodeCidrMaskSize ?? 24);
  const facts: ClusterFacts = {
    nodeName: opts.nodeName,
    nodeIP: opts.nodeIP,
    kubernetesVersion: opts.kubernetesVersion ?? "v1.35.8",
    // The control plane registers first, alone: the allocator's first subnet is its.
    podCIDR: allocator?.next(),
  };
  const clusterName = opts.clusterName ?? "kubernetes";
  const ca = opts.ca ?? (await createCa("kubernetes"));
  const sans = splitSans([
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "localhost",
    opts.nodeName,
    "127.0.0.1",
    "10.96.0.1",
    opts.nodeIP,
    ...opts.listen.map((l) => l.host),
    ...(opts.certSANs ?? []),
  ]);
  const [serving, admin] = await Promise.all([
    issueCert(ca, {
      cn: "kube-apiserver",
      dns: [...new Set(sans.dns)],
      ips: [...new Set(sans.ips)],
      usage: "server",
    }),
    issueCert(ca, { cn: "kubernetes-admin", o: ["system:masters"], usage: "client" }),
  ]);

  const store = new Store();
  seedCluster(store, facts, ca.certPem);
  const times: Record<string, number> = {};
  const requests: RequestRecord[] = [];
  const tlsErrors: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const pending = new Set<Promise<unknown>>();
  const watches = new Set<() => void>();
  let stopped = false;
  let forcedConflicts = opts.approvalConflicts ?? 0;
  /** Serving CSRs the kubelets filed: CSR name → node name. */
  const kubeletCsrs = new Map<string, string>();
  const nodeTimes: Record<string, NodeTimes> = {};
  /** The control plane's `times`, the other nodes' `nodeTimes` entry. */
  const timesOf = (node: string): NodeTimes => (node === facts.nodeName ? times : (nodeTimes[node] ??= {}));
  const signing = new Set<string>();

  /** Runs `fn` after `ms` unless the server stopped first; async work is awaited by stop(). */
  const later = (ms: number, fn: () => unknown) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (stopped) return;
      const p = Promise.resolve()
        .then(fn)
        .catch((e) => console.error("apiserver sim:", e))
        .finally(() => pending.delete(p));
      pending.add(p);
    }, ms);
    timers.add(t);
  };

  later(opts.serviceAccountDelayMs ?? 50, () => createDefaultServiceAccounts(store));

  // The CSR signer: issues a certificate for approved kubelet-serving requests, a few ms later.
  const csrRes = RESOURCES.find((r) => r.plural === "certificatesigningrequests") as Resource;
  store.watch(csrRes, undefined, store.resourceVersion, (e: StoreEvent) => {
    const csr = e.object;
    const name = csr.metadata.name;
    if (e.type === "DELETED" || !hasCondition(csr, "Approved")) return;
    const filedBy = kubeletCsrs.get(name);
    if (filedBy !== undefined) timesOf(filedBy).csrApproved ??= performance.now();
    if (csr.spec?.signerName !== KUBELET_SERVING || csr.status?.certificate || hasCondition(csr, "Failed"))
      return;
    if (signing.has(name)) return;
    signing.add(name);
    later(SIGN_DELAY_MS, async () => {
      const problem = await kubeletServingProblem(csr);
      let certificate: string | undefined;
      if (!problem) {
        const days = csr.spec.expirationSeconds ? csr.spec.expirationSeconds / 86_400 : 365;
        certificate = b64(
          await signCsr(ca, Buffer.from(csr.spec.request, "base64").toString("utf8"), { days }),
        );
      }
      if (stopped || !store.get(csrRes, undefined, name)) return;
      store.update(csrRes, undefined, name, (o) => {
        o.status ??= {};
        if (certificate) o.status.certificate = certificate;
        else {
          o.status.conditions = [
            ...(o.status.conditions ?? []),
            {
              type: "Failed",
              status: "True",
              reason: "SignerValidationFailure",
              message: problem,
              lastUpdateTime: timestamp(),
              lastTransitionTime: timestamp(),
            },
          ];
        }
      });
      signing.delete(name);
      if (certificate && filedBy !== undefined) timesOf(filedBy).certIssued = performance.now();
    });
  });

  const kubelets = new Map<string, Kubelet>();
  /** The kubelet of one node: Ready, then its serving CSR (its name and address); CoreDNS on the control plane. */
  function makeKubelet(node: ClusterFacts): Kubelet {
    let started = false;
    const t = timesOf(node.nodeName);
    const kubelet: Kubelet = {
      get started() {
        return started;
      },
      start() {
        if (started || stopped) return;
        started = true;
        markNodeReady(store, node);
        t.nodeReady = performance.now();
        later(NOT_READY_TAINT_DELAY_MS, () => removeNotReadyTaint(store, node));
        later(opts.csrDelayMs ?? 20, async () => {
          const { csrPem } = await createCsr({
            keyType: "ec",
            cn: `system:node:${node.nodeName}`,
            o: ["system:nodes"],
            dns: [node.nodeName],
            ips: [node.nodeIP],
          });
          if (stopped) return;
          const csr = store.create(csrRes, {
            metadata: { generateName: "csr-" },
            spec: {
              request: b64(csrPem),
              signerName: KUBELET_SERVING,
              usages: ["digital signature", "server auth"],
              username: `system:node:${node.nodeName}`,
              groups: ["system:nodes", "system:authenticated"],
              uid: randomUUID(),
            },
            status: {},
          });
          kubeletCsrs.set(csr.metadata.name, node.nodeName);
          t.csrCreated = performance.now();
        });
        if (node.nodeName === facts.nodeName) {
          later(opts.corednsDelayMs ?? 150, () => {
            markCorednsReady(store, facts);
            times.corednsReady = performance.now();
          });
        }
      },
    };
    kubelets.set(node.nodeName, kubelet);
    return kubelet;
  }
  const kubelet = makeKubelet(facts);

  const secretsRes = RESOURCES.find((r) => r.plural === "secrets") as Resource;
  function bootstrapTokenProblem(token: string, use: "discovery" | "tls-bootstrap"): string | undefined {
    const m = /^([a-z0-9]{6})\.([a-z0-9]{16})$/.exec(token);
    if (!m) return "the token is not of the form [a-z0-9]{6}.[a-z0-9]{16}";
    const [, id, secret] = m;
    const s = store.get(secretsRes, "kube-system", `bootstrap-token-${id}`);
    const data = (k: string) =>
      s?.data?.[k] === undefined ? undefined : Buffer.from(String(s.data[k]), "base64").toString("utf8");
    if (!s || s.type !== "bootstrap.kubernetes.io/token" || data("token-id") !== id)
      return `no bootstrap token with ID "${id}"`;
    if (data("token-secret") !== secret) return `the secret of bootstrap token "${id}" does not match`;
    const exp = data("expiration");
    if (exp !== undefined) {
      const at = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(exp)
        ? Date.parse(exp)
        : NaN;
      if (!(at > Date.now())) return `bootstrap token "${id}" has expired (expiration ${exp})`;
    }
    if (use === "discovery" && data("usage-bootstrap-signing") !== "true")
      return `bootstrap token "${id}" is not marked usage-bootstrap-signing`;
    if (use === "tls-bootstrap") {
      if (data("usage-bootstrap-authentication") !== "true")
        return `bootstrap token "${id}" is not marked usage-bootstrap-authentication`;
      const groups = (data("auth-extra-groups") ?? "").split(",");
      if (!groups.includes("system:bootstrappers:kubeadm:default-node-token"))
        return `bootstrap token "${id}" is not in group system:bootstrappers:kubeadm:default-node-token, which may create node CSRs`;
    }
    return undefined;
  }

  async function joinNode(n: JoiningNode): Promise<Kubelet> {
    if (store.get("nodes", undefined, n.name))
      throw new Error(
        `a Node with name "${n.name}" already exists in the cluster. You must delete the existing Node or change the name of this new joining Node`,
      );
    // TLS bootstrap: the kubelet's client certificate, auto-approved by the controller-manager.
    const { csrPem } = await createCsr({ keyType: "ec", cn: `system:node:${n.name}`, o: ["system:nodes"] });
    const certificate = b64(await signCsr(ca, csrPem, { days: 365 }));
    if (stopped) throw new Error("the API server stopped");
    store.create(csrRes, {
      metadata: { generateName: "csr-" },
      spec: {
        request: b64(csrPem),
        signerName: "kubernetes.io/kube-apiserver-client-kubelet",
        usages: ["digital signature", "client auth"],
        username: `system:bootstrap:${n.tokenId}`,
        groups: [
          "system:bootstrappers",
          "system:bootstrappers:kubeadm:default-node-token",
          "system:authenticated",
        ],
        uid: randomUUID(),
      },
      status: {
        conditions: [
          {
            type: "Approved",
            status: "True",
            reason: "AutoApproved",
            message: "Auto approving kubelet client certificate after SubjectAccessReview.",
            lastUpdateTime: timestamp(),
            lastTransitionTime: timestamp(),
          },
        ],
        certificate,
      },
    });
    const worker: ClusterFacts = {
      nodeName: n.name,
      nodeIP: n.ip,
      kubernetesVersion: facts.kubernetesVersion,
    };
    registerWorker(store, worker);
    const t = timesOf(n.name);
    t.registered = performance.now();
    later(opts.podCidrDelayMs ?? 10, () => {
      const cidr = allocator?.next();
      if (allocator) assignPodCidr(store, n.name, cidr);
      if (cidr) t.podCidr = performance.now();
    });
    return makeKubelet(worker);
  }

  function send(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, user: string) {
    const url = new URL(req.url ?? "/", "https://sim");
    requests.push({ method: req.method ?? "", path: url.pathname, query: url.search, status, user });
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain" : "application/json" });
    res.end(text);
  }

  function serveWatch(
    req: IncomingMessage,
    res: ServerResponse,
    t: Target,
    q: URLSearchParams,
    user: string,
  ) {
    const rvParam = q.get("resourceVersion");
    const fromRv = rvParam && rvParam !== "0" ? Number(rvParam) : undefined;
    if (fromRv !== undefined && !Number.isInteger(fromRv)) {
      throw new ApiError(400, "BadRequest", `invalid resource version "${rvParam}"`);
    }
    const url = new URL(req.url ?? "/", "https://sim");
    requests.push({ method: "GET", path: url.pathname, query: url.search, status: 200, user });
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    let unsubscribe = () => {};
    let timer: NodeJS.Timeout | undefined;
    const end = () => {
      if (!watches.delete(end)) return;
      unsubscribe();
      clearTimeout(timer);
      res.end();
    };
    watches.add(end);
    res.once("close", end);
    const timeout = Number(q.get("timeoutSeconds") ?? 0);
    if (timeout > 0) timer = setTimeout(end, timeout * 1000);
    unsubscribe = store.watch(t.res, t.ns, fromRv, (e) => {
      if (t.name !== undefined && e.object.metadata.name !== t.name) return;
      if (!selectorMatches(e.object, q.get("fieldSelector"), q.get("labelSelector"))) return;
      res.write(JSON.stringify({ type: e.type, object: e.object }) + "\n");
    });
  }

  function listBody(t: Target, q: URLSearchParams) {
    const items = store
      .list(t.res, t.ns)
      .filter((o) => selectorMatches(o, q.get("fieldSelector"), q.get("labelSelector")))
      .map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
    return {
      kind: `${t.res.kind}List`,
      apiVersion: apiVersionOf(t.res),
      metadata: { resourceVersion: String(store.resourceVersion) },
      items,
    };
  }

  /** Stores `next` over `cur` as a write to the main resource or to one subresource would. */
  function writeThrough(t: Target, cur: any, next: any): any {
    const name = cur.metadata.name;
    if (next?.metadata?.name !== undefined && next.metadata.name !== name) {
      throw new ApiError(
        400,
        "BadRequest",
        `the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    const rv = next?.metadata?.resourceVersion;
    if (rv && rv !== cur.metadata.resourceVersion) throw conflict(t.res, name);
    let out: any;
    if (t.sub === undefined) {
      out = { ...next, metadata: { ...next.metadata, name, namespace: cur.metadata.namespace } };
      if (t.res.hasStatus) out.status = cur.status;
    } else if (t.sub === "status") {
      out = { ...cur, status: next.status };
    } else {
      // approval: only the conditions change; the server fills in missing timestamps.
      const conditions = (next.status?.conditions ?? []).map((c: any) => ({
        ...c,
        lastUpdateTime: c.lastUpdateTime ?? timestamp(),
        lastTransitionTime: c.lastTransitionTime ?? timestamp(),
      }));
      if (
        hasCondition({ status: { conditions } }, "Approved") &&
        hasCondition({ status: { conditions } }, "Denied")
      ) {
        throw new ApiError(
          422,
          "Invalid",
          `CertificateSigningRequest.certificates.k8s.io "${name}" is invalid: status.conditions: Invalid value: "Approved": Approved and Denied conditions are mutually exclusive`,
        );
      }
      out = { ...cur, status: { ...cur.status, conditions } };
    }
    out.metadata.resourceVersion = cur.metadata.resourceVersion;
    return store.replace(t.res, out);
  }

  async function route(req: IncomingMessage, res: ServerResponse, user: string, groups: string[]) {
    const url = new URL(req.url ?? "/", "https://sim");
    const q = url.searchParams;
    const method = req.method ?? "GET";
    const reply = (status: number, body: unknown) => send(req, res, status, body, user);
    if (["/readyz", "/livez", "/healthz"].includes(url.pathname) && method === "GET") return reply(200, "ok");
    if (url.pathname === "/version" && method === "GET") {
      const [major, minor] = facts.kubernetesVersion.replace(/^v/, "").split(".");
      return reply(200, { major, minor, gitVersion: facts.kubernetesVersion, platform: "linux/arm64" });
    }
    const disc = method === "GET" ? discovery(url.pathname) : undefined;
    if (disc) return reply(200, disc);
    const t = parseTarget(url.pathname);
    if (!t) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    const allowed =
      t.sub === undefined ||
      t.sub === "status" ||
      (t.sub === "approval" && t.res.kind === "CertificateSigningRequest");
    if (!allowed) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    const watch = q.get("watch") === "true" || q.get("watch") === "1";

    if (t.name === undefined) {
      if (method === "GET" && watch) return serveWatch(req, res, t, q, user);
      if (method === "GET") return reply(200, listBody(t, q));
      if (method === "POST") {
        const body = await readBody(req);
        if (t.res.namespaced) {
          if (!t.ns) throw new ApiError(405, "MethodNotAllowed", "create requires a namespace");
          if (body.metadata?.namespace && body.metadata.namespace !== t.ns) {
            throw new ApiError(
              400,
              "BadRequest",
              "the namespace of the provided object does not match the namespace sent on the request",
            );
          }
          body.metadata = { ...body.metadata, namespace: t.ns };
        }
        if (t.res.kind === "Secret" && body.stringData && typeof body.stringData === "object") {
          // The API server folds stringData into data (base64) and never stores stringData.
          const data = { ...body.data };
          for (const [k, v] of Object.entries(body.stringData)) data[k] = b64(String(v));
          body.data = data;
          delete body.stringData;
        }
        if (t.res.kind === "CertificateSigningRequest") {
          // The API server records who asked, whatever the body claims.
          body.spec = {
            ...body.spec,
            username: user,
            groups: [...groups, "system:authenticated"],
            uid: randomUUID(),
          };
          body.status = {};
        }
        return reply(201, store.create(t.res, body));
      }
      throw new ApiError(405, "MethodNotAllowed", `${method} is not supported on a collection`);
    }

    const cur = store.get(t.res, t.ns, t.name);
    if (cur === undefined) throw notFound(t.res, t.name);
    if (method === "GET") return reply(200, cur);
    if (method === "DELETE" && t.sub === undefined) return reply(200, store.delete(t.res, t.ns, t.name));
    if (method === "PUT") {
      const body = await readBody(req);
      if (t.sub === "approval" && forcedConflicts > 0) {
        forcedConflicts--;
        throw conflict(t.res, t.name);
      }
      return reply(200, writeThrough(t, cur, body));
    }
    if (method === "PATCH" && t.sub !== "approval") {
      const body = await readBody(req);
      const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim() ?? "";
      let patched;
      try {
        patched = applyPatch(cur, body, type);
      } catch (e) {
        const msg = (e as Error).message;
        if (msg.startsWith("unsupported patch type")) throw new ApiError(415, "UnsupportedMediaType", msg);
        throw new ApiError(422, "Invalid", msg);
      }
      return reply(200, writeThrough(t, cur, patched));
    }
    throw new ApiError(405, "MethodNotAllowed", `${method} is not supported here`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    const user = String(peer.subject?.CN ?? "");
    const o = peer.subject?.O;
    const groups = o === undefined ? [] : Array.isArray(o) ? o : [o];
    try {
      await route(req, res, user, groups);
    } catch (e) {
      if (res.headersSent) return;
      const err = e instanceof ApiError ? e : new ApiError(500, "InternalError", String(e));
      send(req, res, err.code, statusBody(err.code, err.reason, err.message, err.details), user);
    }
  }

  const tls = {
    cert: serving.certPem,
    key: serving.keyPem,
    ca: ca.certPem,
    requestCert: true,
    rejectUnauthorized: true,
  };
  const sockets = new Set<Socket>();
  const servers = await Promise.all(
    opts.listen.map(
      (l) =>
        new Promise<https.Server>((resolve, reject) => {
          const server = https.createServer(tls, (req, res) => void handle(req, res));
          server.on("tlsClientError", (e) => tlsErrors.push(e.message));
          server.on("connection", (s: Socket) => {
            sockets.add(s);
            s.once("close", () => sockets.delete(s));
          });
          server.once("error", reject);
          server.listen(l.port, l.host, () => resolve(server));
        }),
    ),
  );
  const urls = servers.map((s, i) => {
    const host = opts.listen[i]?.host ?? "127.0.0.1";
    const port = (s.address() as { port: number }).port;
    return `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  });

  return {
    urls,
    ca,
    adminCredentials: admin,
    adminKubeconfig(serverUrl: string) {
      const context = `kubernetes-admin@${clusterName}`;
      return stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          {
            name: clusterName,
            cluster: { "certificate-authority-data": b64(ca.certPem), server: serverUrl },
          },
        ],
        contexts: [{ name: context, context: { cluster: clusterName, user: "kubernetes-admin" } }],
        "current-context": context,
        preferences: {},
        users: [
          {
            name: "kubernetes-admin",
            user: { "client-certificate-data": b64(admin.certPem), "client-key-data": b64(admin.keyPem) },
          },
        ],
      });
    },
    kubelet,
    nodeName: facts.nodeName,
    kubeletFor: (name) => kubelets.get(name),
    bootstrapTokenProblem,
    joinNode,
    nodeTimes,
    createCsr(csr: object) {
      return store.create(csrRes, csr);
    },
    store,
    times,
    requests,
    tlsErrors,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const end of [...watches]) end();
      const closed = [
        ...servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
        ...[...sockets].map(
          (s) => new Promise<void>((resolve) => s.once("close", () => resolve()).destroy()),
        ),
      ];
      await Promise.all(closed);
      await Promise.allSettled([...pending]);
      // Handles are released on the next loop turn after their close callbacks.
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}
