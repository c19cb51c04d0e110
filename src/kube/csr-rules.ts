// Decides whether a CertificateSigningRequest is the kubelet of our node asking for its serving
// certificate. The kubelet-serving signer checks only the shape of a request, never which names it
// asks for, so these rules are the only thing standing between a workload that can create CSRs and a
// cluster-CA-signed certificate for kubernetes.default.svc.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { V1CertificateSigningRequest } from "@kubernetes/client-node";

// node:crypto's webcrypto is the global Web Crypto object; the cast bridges Node's and DOM's typings.
x509.cryptoProvider.set(webcrypto as unknown as typeof globalThis.crypto);

export interface NodeIdentity {
  /** The Node object's name; the kubelet requests as system:node:<nodeName>. */
  nodeName: string;
  /** Further DNS names of the VM (its hostname); nodeName is always allowed. */
  hostnames: string[];
  /** Addresses the host knows belong to the VM (from `container inspect`). */
  ips: string[];
}

export type Verdict = { approve: true; reason: string } | { approve: false; reason: string };

export const KUBELET_SERVING_SIGNER = "kubernetes.io/kubelet-serving";
const NODES_GROUP = "system:nodes";
const EXTENSION_REQUEST_OID = "1.2.840.113549.1.9.14";
const SAN_OID = "2.5.29.17";
const ALLOWED_USAGE_SETS = [
  ["digital signature", "server auth"],
  ["digital signature", "key encipherment", "server auth"],
];

/** A check passes with undefined, or fails with the sentence the user reads. */
type Check<T> = { name: string; run: (subject: T) => string | undefined };

interface SpecSubject {
  csr: V1CertificateSigningRequest;
  node: NodeIdentity;
}

interface ParsedRequest {
  subject: Array<{ type: string; value: string }>;
  /** Every SubjectAlternativeName extension found, across all extensionRequest attributes. */
  sans: Array<Array<{ type: string; value: string }>>;
}

interface RequestSubject extends SpecSubject {
  request: ParsedRequest;
}

const specChecks: Check<SpecSubject>[] = [
  {
    name: "signer",
    run: ({ csr }) =>
      csr.spec?.signerName === KUBELET_SERVING_SIGNER
        ? undefined
        : `its signer is ${q(csr.spec?.signerName)}, not ${KUBELET_SERVING_SIGNER}`,
  },
  {
    name: "pending",
    run: ({ csr }) => {
      const decided = (csr.status?.conditions ?? []).find((c) =>
        ["Approved", "Denied", "Failed"].includes(c.type),
      );
      if (decided) return `it is already ${decided.type}`;
      if (csr.status?.certificate) return "it already has a certificate";
      return undefined;
    },
  },
  {
    name: "requester",
    run: ({ csr, node }) => {
      const want = `system:node:${node.nodeName}`;
      if (csr.spec?.username !== want) return `it was requested by ${q(csr.spec?.username)}, not ${want}`;
      if (!(csr.spec.groups ?? []).includes(NODES_GROUP))
        return `its requester is not in group ${NODES_GROUP}`;
      return undefined;
    },
  },
  {
    name: "usages",
    run: ({ csr }) => {
      const usages = csr.spec?.usages ?? [];
      const unique = new Set(usages);
      if (unique.size !== usages.length) return `its usages ${list(usages)} contain duplicates`;
      const ok = ALLOWED_USAGE_SETS.some(
        (set) => set.length === unique.size && set.every((u) => unique.has(u)),
      );
      if (!ok) {
        return `its usages ${list(usages)} are neither {digital signature, server auth} nor {digital signature, key encipherment, server auth}`;
      }
      return undefined;
    },
  },
];

const requestChecks: Check<RequestSubject>[] = [
  {
    name: "subject",
    run: ({ csr, request }) => {
      const orgs = request.subject.filter((a) => a.type === "O").map((a) => a.value);
      const cns = request.subject.filter((a) => a.type === "CN").map((a) => a.value);
      const others = request.subject.filter((a) => a.type !== "O" && a.type !== "CN");
      if (orgs.length !== 1 || orgs[0] !== NODES_GROUP) {
        return `its subject organization is ${list(orgs)}, not [${NODES_GROUP}]`;
      }
      // Go keeps the last CN of a subject; demanding exactly one leaves no room for a different reading.
      if (cns.length !== 1 || cns[0] !== csr.spec.username) {
        return `its subject CN ${list(cns)} is not the requester ${q(csr.spec.username)}`;
      }
      if (others.length > 0)
        return `its subject has attributes other than O and CN (${list(others.map((a) => a.type))})`;
      return undefined;
    },
  },
  {
    name: "san-present",
    run: ({ request }) => {
      // The signer (Go's x509) lets the last SAN extension win; with more than one, which names get
      // signed depends on the parser, so refuse the ambiguity.
      if (request.sans.length > 1) return "it carries more than one subjectAltName extension";
      if ((request.sans[0] ?? []).length === 0) return "it names no DNS or IP subject alternative name";
      return undefined;
    },
  },
  {
    name: "san-types",
    run: ({ request }) => {
      const other = sanNames(request).find((n) => n.type !== "dns" && n.type !== "ip");
      return other
        ? `it asks for ${sanTypeLabel(other.type)} SAN (only DNS and IP SANs are allowed)`
        : undefined;
    },
  },
  {
    name: "san-dns",
    run: ({ request, node }) => {
      const allowed = new Set([node.nodeName, ...node.hostnames]);
      const bad = sanNames(request).find((n) => n.type === "dns" && !allowed.has(n.value));
      return bad ? `its DNS SAN ${q(bad.value)} is not a name of node ${node.nodeName}` : undefined;
    },
  },
  {
    name: "san-ip",
    run: ({ request, node }) => {
      // No loopback or other implicit allowance: the kubelet only lists the node's own addresses.
      const allowed = new Set(node.ips.map(canonicalIp).filter((ip) => ip !== undefined));
      const bad = sanNames(request).find((n) => n.type === "ip" && !allowed.has(n.value));
      return bad ? `its IP SAN ${q(bad.value)} is not an address of node ${node.nodeName}` : undefined;
    },
  },
];

/** Runs every rule in order; the first that fails gives the reason the CSR is not approved. */
export async function evaluateCsr(csr: V1CertificateSigningRequest, node: NodeIdentity): Promise<Verdict> {
  const spec: SpecSubject = { csr, node };
  for (const check of specChecks) {
    const reason = check.run(spec);
    if (reason !== undefined) return { approve: false, reason };
  }
  const parsed = await parseRequest(csr.spec.request);
  if (typeof parsed === "string") return { approve: false, reason: parsed };
  const full: RequestSubject = { ...spec, request: parsed };
  for (const check of requestChecks) {
    const reason = check.run(full);
    if (reason !== undefined) return { approve: false, reason };
  }
  const names = sanNames(parsed);
  const dns = names.filter((n) => n.type === "dns").map((n) => n.value);
  const ips = names.filter((n) => n.type === "ip").map((n) => n.value);
  return {
    approve: true,
    reason: `kubelet serving certificate for ${csr.spec.username} (DNS ${list(dns)}, IP ${list(ips)})`,
  };
}

/** Decodes spec.request (base64 of PEM) into the parts the rules look at, or says why it cannot. */
async function parseRequest(request: string | undefined): Promise<ParsedRequest | string> {
  const b64 = (request ?? "").replace(/\s+/g, "");
  if (b64 === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return "its spec.request is not base64";
  const pem = Buffer.from(b64, "base64").toString("latin1");
  const blocks = pem.match(/-----BEGIN [^-\r\n]*-----/g) ?? [];
  if (blocks.length !== 1) {
    return `its spec.request holds ${blocks.length} PEM blocks, not exactly one CERTIFICATE REQUEST`;
  }
  const m =
    /^\s*-----BEGIN CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\s]+)-----END CERTIFICATE REQUEST-----\s*$/.exec(
      pem,
    );
  if (!m?.[1]) return "its spec.request is not a single PEM CERTIFICATE REQUEST block";
  let csr: x509.Pkcs10CertificateRequest;
  let parsed: ParsedRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(Buffer.from(m[1].replace(/\s+/g, ""), "base64"));
    parsed = { subject: subjectAttributes(csr), sans: subjectAltNames(csr) };
  } catch {
    return "its certificate request cannot be parsed";
  }
  const verified = await csr.verify().catch(() => false);
  return verified ? parsed : "its certificate request's signature does not verify";
}

function subjectAttributes(csr: x509.Pkcs10CertificateRequest): ParsedRequest["subject"] {
  const out: ParsedRequest["subject"] = [];
  for (const rdn of csr.subjectName.toJSON()) {
    for (const [type, values] of Object.entries(rdn)) {
      for (const value of values) out.push({ type, value });
    }
  }
  return out;
}

// Reads every value of every extensionRequest attribute, not just the first one the library exposes
// as csr.extensions: Go's parser (the signer's) reads them all.
function subjectAltNames(csr: x509.Pkcs10CertificateRequest): ParsedRequest["sans"] {
  const sans: ParsedRequest["sans"] = [];
  for (const attr of csr.attributes) {
    if (attr.type !== EXTENSION_REQUEST_OID) continue;
    for (const value of attr.values) {
      const single = new x509.ExtensionsAttribute(new x509.Attribute(EXTENSION_REQUEST_OID, [value]).rawData);
      for (const ext of single.items) {
        if (ext.type !== SAN_OID) continue;
        const san = new x509.SubjectAlternativeNameExtension(ext.rawData);
        sans.push(san.names.items.map((n) => ({ type: n.type, value: n.value })));
      }
    }
  }
  return sans;
}

function sanNames(request: ParsedRequest): Array<{ type: string; value: string }> {
  return request.sans.flat();
}

/** The same text form the library gives a SAN's IP (dotted IPv4, compressed IPv6), or undefined. */
function canonicalIp(ip: string): string | undefined {
  try {
    // container inspect reports addresses with a prefix length.
    return new x509.GeneralName("ip", ip.replace(/\/\d+$/, "")).value;
  } catch {
    return undefined;
  }
}

function sanTypeLabel(type: string): string {
  const labels: Record<string, string> = {
    email: "an email",
    url: "a URI",
    dn: "a directory-name",
    id: "a registered-ID",
    guid: "a GUID",
    upn: "a UPN",
  };
  return labels[type] ?? `a ${type}`;
}

// Requests come from whoever can create a CSR; quote their strings so a newline cannot start a
// workflow command in the Actions log, and keep them short.
function q(value: string | undefined): string {
  if (value === undefined) return "(none)";
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

function list(values: string[]): string {
  return `[${values.map(q).join(", ")}]`;
}
