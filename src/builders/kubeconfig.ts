// The host's kubeconfig, built from an allowlist of the node's admin.conf. That file comes out of a VM
// whose image the workflow chose and whose root what runs in the cluster can reach, and a kubeconfig
// makes its reader run programs (`exec` credential plugins, auth-provider commands), read host files
// (tokenFile, client-key, certificate-authority) and send credentials elsewhere (proxy-url,
// insecure-skip-tls-verify, other clusters). kubeadm's admin.conf holds exactly one cluster with
// certificate-authority-data and server, one user with client-certificate-data and client-key-data, and
// one context: those fields alone are taken, checked to be what they claim, and everything else is
// refused before anything loads the file. Apple fixed the same hole in its k8s plugin:
// https://github.com/apple/container/security/advisories/GHSA-44v5-vx46-ghv6
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { parse, stringify } from "yaml";

export const ADVISORY = "GHSA-44v5-vx46-ghv6";

/** The admin.conf had something kubeadm never writes, or lacked what it always does. */
export class UntrustedKubeconfigError extends Error {
  constructor(readonly problems: string[]) {
    const shown =
      problems.slice(0, 8).join(", ") + (problems.length > 8 ? `, and ${problems.length - 8} more` : "");
    super(
      `the node's /etc/kubernetes/admin.conf is refused, and nothing was written or loaded from it: ${shown}. ` +
        "kubeadm's admin.conf holds one cluster (server, certificate-authority-data), one user " +
        "(client-certificate-data, client-key-data) and one context, nothing else; anything more can make a " +
        `kubeconfig's reader run programs on the runner or send credentials elsewhere (${ADVISORY}). ` +
        "The node image, or something running in the cluster, rewrote it: use a kindest/node image you trust.",
    );
    this.name = "UntrustedKubeconfigError";
  }
}

export interface HostKubeconfig {
  /** The kubeconfig to write (mode 0600). */
  yaml: string;
  /** Key material to mask: the base64 client key and the lines of its PEM body. */
  secrets: string[];
}

const TOP = ["apiVersion", "kind", "clusters", "users", "contexts", "current-context", "preferences"];

/** A key from the file, safe to print: plain names as they are, anything else JSON-quoted and cut. */
function key(k: string): string {
  return /^[\w.-]{1,64}$/.test(k) ? k : JSON.stringify(k.slice(0, 40));
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Decodes base64 strictly (whitespace allowed), or undefined. */
function base64(v: unknown): Buffer | undefined {
  if (typeof v !== "string") return undefined;
  const s = v.replace(/\s+/g, "");
  if (!s || !/^[A-Za-z0-9+/]+={0,2}$/.test(s) || s.length % 4 !== 0) return undefined;
  return Buffer.from(s, "base64");
}

/** The PEM blocks of `text` as [label, whole block]; undefined when there is anything outside them. */
function pemBlocks(text: string): Array<[string, string]> | undefined {
  const blocks: Array<[string, string]> = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END \1-----/g;
  let rest = text;
  for (const m of text.matchAll(re)) {
    blocks.push([m[1]!, m[0]]);
    rest = rest.replace(m[0], "");
  }
  return rest.trim() === "" ? blocks : undefined;
}

function certificates(v: unknown, field: string, problems: string[]): X509Certificate[] {
  const raw = base64(v);
  const blocks = raw && pemBlocks(raw.toString("latin1"));
  if (!blocks?.length || blocks.some(([label]) => label !== "CERTIFICATE")) {
    problems.push(`${field} is not base64 of PEM certificates`);
    return [];
  }
  try {
    return blocks.map(([, pem]) => new X509Certificate(pem));
  } catch {
    problems.push(`${field} holds a certificate that does not parse`);
    return [];
  }
}

function privateKey(v: unknown, field: string, problems: string[]): KeyObject | undefined {
  const raw = base64(v);
  const blocks = raw && pemBlocks(raw.toString("latin1"));
  if (blocks?.length !== 1 || !/^(RSA |EC )?PRIVATE KEY$/.test(blocks[0]![0])) {
    problems.push(`${field} is not base64 of one PEM private key`);
    return undefined;
  }
  try {
    return createPrivateKey(blocks[0]![1]);
  } catch {
    problems.push(`${field} holds a private key that does not parse`);
    return undefined;
  }
}

/** Names every key of `o` outside `allowed`, as `path.key`. */
function extraKeys(o: Record<string, unknown>, allowed: string[], path: string, problems: string[]): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) problems.push(`${path}${path ? "." : ""}${key(k)}`);
}

/** Exactly one entry `{name, <kind>: {...}}` of a list; names the extra ones. */
function single(
  doc: Record<string, unknown>,
  list: "clusters" | "users" | "contexts",
  kind: string,
  problems: string[],
): { name: string; body: Record<string, unknown> } | undefined {
  const v = doc[list];
  if (!Array.isArray(v) || v.length === 0) {
    problems.push(`${list} is missing`);
    return undefined;
  }
  for (let i = 1; i < v.length; i++) problems.push(`${list}[${i}]`);
  const e = v[0] as unknown;
  if (!isObject(e) || typeof e.name !== "string" || !isObject(e[kind])) {
    problems.push(`${list}[0] is not {name, ${kind}}`);
    return undefined;
  }
  extraKeys(e, ["name", kind], `${list}[0]`, problems);
  return { name: e.name, body: e[kind] as Record<string, unknown> };
}

/**
 * The job's kubeconfig from kubeadm's admin.conf: one cluster, user and context named after the cluster,
 * the server at `server` (the port published on 127.0.0.1, covered by the certSANs). Throws
 * UntrustedKubeconfigError naming every field that is not kubeadm's, missing, or not what it claims.
 */
export function buildHostKubeconfig(adminConf: string, clusterName: string, server: string): HostKubeconfig {
  const problems: string[] = [];
  let doc: unknown;
  try {
    // No aliases: kubeadm writes none, and they are how a small YAML file expands into a huge one.
    doc = parse(adminConf, { maxAliasCount: 0 });
  } catch {
    throw new UntrustedKubeconfigError(["it is not valid YAML"]);
  }
  if (!isObject(doc)) throw new UntrustedKubeconfigError(["it is not a kubeconfig"]);
  extraKeys(doc, TOP, "", problems);
  if (doc.apiVersion !== undefined && doc.apiVersion !== "v1") problems.push("apiVersion is not v1");
  if (doc.kind !== undefined && doc.kind !== "Config") problems.push("kind is not Config");
  if (
    doc.preferences !== undefined &&
    !(isObject(doc.preferences) && Object.keys(doc.preferences).length === 0)
  )
    problems.push("preferences is not empty");

  const cluster = single(doc, "clusters", "cluster", problems);
  const user = single(doc, "users", "user", problems);
  const context = single(doc, "contexts", "context", problems);

  let ca: unknown;
  if (cluster) {
    const c = cluster.body;
    extraKeys(c, ["server", "certificate-authority-data"], "clusters[0].cluster", problems);
    if (typeof c.server !== "string" || !/^https:\/\/[^\s/]+(\/.*)?$/.test(c.server))
      problems.push("clusters[0].cluster.server is not an https URL");
    if (c["certificate-authority-data"] === undefined)
      problems.push("clusters[0].cluster.certificate-authority-data is missing");
    else if (
      certificates(
        c["certificate-authority-data"],
        "clusters[0].cluster.certificate-authority-data",
        problems,
      ).length
    )
      ca = c["certificate-authority-data"];
  }
  let cert: unknown;
  let keyData: unknown;
  if (user) {
    const u = user.body;
    extraKeys(u, ["client-certificate-data", "client-key-data"], "users[0].user", problems);
    for (const f of ["client-certificate-data", "client-key-data"])
      if (u[f] === undefined) problems.push(`users[0].user.${f} is missing`);
    const certs =
      u["client-certificate-data"] !== undefined
        ? certificates(u["client-certificate-data"], "users[0].user.client-certificate-data", problems)
        : [];
    const k =
      u["client-key-data"] !== undefined
        ? privateKey(u["client-key-data"], "users[0].user.client-key-data", problems)
        : undefined;
    if (certs[0] && k) {
      if (!certs[0].checkPrivateKey(k))
        problems.push("users[0].user.client-key-data does not match its certificate");
      else [cert, keyData] = [u["client-certificate-data"], u["client-key-data"]];
    }
  }
  if (context) {
    extraKeys(context.body, ["cluster", "user"], "contexts[0].context", problems);
    if (cluster && context.body.cluster !== cluster.name)
      problems.push("contexts[0].context.cluster is not clusters[0]");
    if (user && context.body.user !== user.name) problems.push("contexts[0].context.user is not users[0]");
    if (doc["current-context"] !== undefined && doc["current-context"] !== context.name)
      problems.push("current-context is not contexts[0]");
  }
  if (problems.length || typeof ca !== "string" || typeof cert !== "string" || typeof keyData !== "string")
    throw new UntrustedKubeconfigError(problems.length ? problems : ["it lacks a usable cluster or user"]);

  const clean = (s: string) => s.replace(/\s+/g, "");
  const userName = `${clusterName}-admin`;
  const out = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: clusterName, cluster: { server, "certificate-authority-data": clean(ca) } }],
    users: [
      { name: userName, user: { "client-certificate-data": clean(cert), "client-key-data": clean(keyData) } },
    ],
    contexts: [{ name: clusterName, context: { cluster: clusterName, user: userName } }],
    "current-context": clusterName,
    preferences: {},
  };
  // Mask the decoded PEM too, line by line, should anything ever print it.
  const body = Buffer.from(clean(keyData), "base64")
    .toString()
    .split("\n")
    .filter((l) => l && !l.startsWith("-----"));
  return { yaml: stringify(out), secrets: [clean(keyData), keyData, ...body] };
}
