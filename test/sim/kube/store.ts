// The simulated etcd: versioned objects, an event history and watch subscriptions.
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects here are untyped JSON */
import { randomUUID } from "node:crypto";

export interface Resource {
  plural: string;
  kind: string;
  group: string; // "" for the core group
  version: string;
  namespaced: boolean;
  /** Has a /status subresource: writes to the main resource keep the stored status. */
  hasStatus: boolean;
  aliases: string[];
}

const r = (
  plural: string,
  kind: string,
  group: string,
  namespaced: boolean,
  hasStatus: boolean,
  aliases: string[] = [],
): Resource => ({ plural, kind, group, version: "v1", namespaced, hasStatus, aliases });

export const RESOURCES: Resource[] = [
  r("namespaces", "Namespace", "", false, true, ["ns"]),
  r("nodes", "Node", "", false, true, ["no"]),
  r("pods", "Pod", "", true, true, ["po"]),
  r("events", "Event", "", true, false, ["ev"]),
  r("serviceaccounts", "ServiceAccount", "", true, false, ["sa"]),
  r("configmaps", "ConfigMap", "", true, false, ["cm"]),
  r("secrets", "Secret", "", true, false, []),
  r("services", "Service", "", true, true, ["svc"]),
  r("deployments", "Deployment", "apps", true, true, ["deploy"]),
  r("daemonsets", "DaemonSet", "apps", true, true, ["ds"]),
  r("certificatesigningrequests", "CertificateSigningRequest", "certificates.k8s.io", false, true, [
    "csr",
    "csrs",
  ]),
];

/** Finds a resource by plural, singular, Kind or short name ("nodes", "Node", "csr", "csrs"…). */
export function resourceFor(name: string): Resource | undefined {
  const n = name.toLowerCase();
  return RESOURCES.find(
    (x) =>
      x.plural === n ||
      x.kind.toLowerCase() === n ||
      x.aliases.includes(n) ||
      `${x.kind}s`.toLowerCase() === n,
  );
}

export function apiVersionOf(res: Resource): string {
  return res.group ? `${res.group}/${res.version}` : res.version;
}

export class ApiError extends Error {
  code: number;
  reason: string;
  details: object | undefined;
  constructor(code: number, reason: string, message: string, details?: object) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

export function notFound(res: Resource, name: string): ApiError {
  const what = res.group ? `${res.plural}.${res.group}` : res.plural;
  return new ApiError(404, "NotFound", `${what} "${name}" not found`, {
    name,
    group: res.group,
    kind: res.plural,
  });
}

export function conflict(res: Resource, name: string): ApiError {
  const what = res.group ? `${res.plural}.${res.group}` : res.plural;
  return new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${what} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: res.group, kind: res.plural },
  );
}

export type EventType = "ADDED" | "MODIFIED" | "DELETED";
export interface StoreEvent {
  type: EventType;
  res: Resource;
  rv: number;
  object: any;
}
type Listener = (e: StoreEvent) => void;

/** RFC 3339 with seconds, as the API server writes timestamps. */
export const timestamp = (): string => new Date().toISOString().replace(/\.\d+Z$/, "Z");

const GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"; // apimachinery's rand.String alphabet
export function randomSuffix(n = 5): string {
  let s = "";
  for (let i = 0; i < n; i++) s += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)];
  return s;
}

export class Store {
  resourceVersion = 1;
  private objects = new Map<string, any>();
  private history: StoreEvent[] = [];
  private listeners = new Set<Listener>();

  private static key(res: Resource, ns: string | undefined, name: string): string {
    return `${res.plural}/${res.namespaced ? (ns ?? "") : ""}/${name}`;
  }

  private resolve(kind: string | Resource): Resource {
    const res = typeof kind === "string" ? resourceFor(kind) : kind;
    if (!res) throw new Error(`unknown resource ${String(kind)}`);
    return res;
  }

  /** A copy of the object, or undefined. */
  get(kind: string | Resource, ns: string | undefined, name: string): any {
    const o = this.objects.get(Store.key(this.resolve(kind), ns, name));
    return o === undefined ? undefined : structuredClone(o);
  }

  /** Copies of all objects of a kind (in one namespace if given), in key order like the real server. */
  list(kind: string | Resource, ns?: string): any[] {
    const res = this.resolve(kind);
    const prefix = ns === undefined || !res.namespaced ? `${res.plural}/` : `${res.plural}/${ns}/`;
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => structuredClone(o));
  }

  create(kind: string | Resource, obj: any): any {
    const res = this.resolve(kind);
    const o = structuredClone(obj);
    const md = (o.metadata ??= {});
    if (!md.name && md.generateName) md.name = md.generateName + randomSuffix();
    if (!md.name)
      throw new ApiError(
        422,
        "Invalid",
        `${res.kind} "": metadata.name: Required value: name or generateName is required`,
      );
    if (res.namespaced) md.namespace ??= "default";
    else delete md.namespace;
    const key = Store.key(res, md.namespace, md.name);
    if (this.objects.has(key)) {
      throw new ApiError(409, "AlreadyExists", `${res.plural} "${md.name}" already exists`, {
        name: md.name,
        group: res.group,
        kind: res.plural,
      });
    }
    o.apiVersion = apiVersionOf(res);
    o.kind = res.kind;
    md.uid ??= randomUUID();
    md.creationTimestamp ??= timestamp();
    if (res.hasStatus && res.kind !== "Namespace") md.generation ??= 1;
    return this.write(res, key, o, "ADDED");
  }

  /** Stores `obj` over the existing one; a set metadata.resourceVersion must be the current one. */
  replace(kind: string | Resource, obj: any): any {
    const res = this.resolve(kind);
    const md = obj?.metadata ?? {};
    const key = Store.key(res, md.namespace, md.name);
    const old = this.objects.get(key);
    if (!old) throw notFound(res, md.name);
    if (md.resourceVersion && md.resourceVersion !== old.metadata.resourceVersion)
      throw conflict(res, md.name);
    const o = structuredClone(obj);
    o.apiVersion = apiVersionOf(res);
    o.kind = res.kind;
    for (const f of ["uid", "creationTimestamp", "namespace", "generation"]) o.metadata[f] = old.metadata[f];
    if (o.metadata.namespace === undefined) delete o.metadata.namespace;
    if (old.metadata.generation !== undefined && JSON.stringify(o.spec) !== JSON.stringify(old.spec)) {
      o.metadata.generation = old.metadata.generation + 1;
    }
    return this.write(res, key, o, "MODIFIED");
  }

  /** Read-modify-write without preconditions (controllers, tests). Returns the stored copy. */
  update(kind: string | Resource, ns: string | undefined, name: string, mutate: (o: any) => void): any {
    const res = this.resolve(kind);
    const o = this.get(res, ns, name);
    if (o === undefined) throw notFound(res, name);
    mutate(o);
    delete o.metadata.resourceVersion;
    return this.replace(res, o);
  }

  delete(kind: string | Resource, ns: string | undefined, name: string): any {
    const res = this.resolve(kind);
    const key = Store.key(res, ns, name);
    const old = this.objects.get(key);
    if (!old) throw notFound(res, name);
    return this.write(res, key, old, "DELETED");
  }

  /**
   * Calls `fn` for events on `res` (in `ns` if given). Without `fromRv`, first an ADDED for every
   * existing object; with it, the recorded events after that version. Returns the unsubscribe.
   */
  watch(res: Resource, ns: string | undefined, fromRv: number | undefined, fn: Listener): () => void {
    const mine = (e: StoreEvent) => e.res === res && (ns === undefined || e.object.metadata.namespace === ns);
    const backlog =
      fromRv === undefined
        ? this.list(res, ns).map((object) => ({
            type: "ADDED" as const,
            res,
            rv: this.resourceVersion,
            object,
          }))
        : this.history.filter((e) => e.rv > fromRv && mine(e));
    for (const e of backlog) fn(e);
    const listener: Listener = (e) => {
      if (mine(e)) fn(e);
    };
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private write(res: Resource, key: string, o: any, type: EventType): any {
    const rv = ++this.resourceVersion;
    o.metadata.resourceVersion = String(rv);
    if (type === "DELETED") this.objects.delete(key);
    else this.objects.set(key, o);
    const e = { type, res, rv, object: structuredClone(o) };
    this.history.push(e);
    for (const l of this.listeners) l(e);
    return structuredClone(o);
  }
}
