import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { V1CertificateSigningRequest } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { evaluateCsr, type NodeIdentity } from "../../src/kube/csr-rules.js";
import { createCsr, type CsrOptions } from "../sim/kube/certs.ts";

const NODE: NodeIdentity = { nodeName: "kina-control-plane", hostnames: [], ips: ["127.0.64.2"] };
const USER = "system:node:kina-control-plane";
const EC_USAGES = ["digital signature", "server auth"];
const RSA_USAGES = ["digital signature", "key encipherment", "server auth"];
const KUBELET: CsrOptions = {
  keyType: "ec",
  cn: USER,
  o: ["system:nodes"],
  dns: [NODE.nodeName],
  ips: NODE.ips,
};

function csrObject(
  pem: string,
  spec: Partial<V1CertificateSigningRequest["spec"]> = {},
): V1CertificateSigningRequest {
  return {
    apiVersion: "certificates.k8s.io/v1",
    kind: "CertificateSigningRequest",
    metadata: { name: "csr-test", resourceVersion: "1" },
    spec: {
      request: Buffer.from(pem).toString("base64"),
      signerName: "kubernetes.io/kubelet-serving",
      username: USER,
      groups: ["system:nodes", "system:authenticated"],
      usages: EC_USAGES,
      ...spec,
    },
  };
}

async function pemFor(overrides: Partial<CsrOptions>): Promise<string> {
  return (await createCsr({ ...KUBELET, ...overrides })).csrPem;
}

/** Changes one character of the DNS SAN inside the signed bytes, so the signature no longer matches. */
function tamper(pem: string): string {
  const der = Buffer.from(x509.PemConverter.decodeFirst(pem));
  const at = der.indexOf(Buffer.from(NODE.nodeName));
  expect(at).toBeGreaterThan(0);
  der[at] = "x".charCodeAt(0);
  return x509.PemConverter.encode(der, "CERTIFICATE REQUEST");
}

/** A request built directly, for shapes createCsr cannot express (extra SAN extensions or attributes). */
async function rawCsr(params: {
  extensions?: x509.Extension[];
  attributes?: x509.Attribute[];
}): Promise<string> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(alg, false, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: [{ O: ["system:nodes"] }, { CN: [USER] }], keys, signingAlgorithm: alg, ...params },
    webcrypto as never,
  );
  return csr.toString("pem");
}

const san = (names: x509.JsonGeneralName[]) => new x509.SubjectAlternativeNameExtension(names);
const ownSan = () =>
  san([
    { type: "dns", value: NODE.nodeName },
    { type: "ip", value: "127.0.64.2" },
  ]);

let ecPem: string;
let rsaPem: string;
beforeAll(async () => {
  [ecPem, rsaPem] = await Promise.all([pemFor({}), pemFor({ keyType: "rsa" })]);
});

describe("evaluateCsr — the kubelet's own requests", () => {
  it("approves an EC P-256 request with digital signature + server auth", async () => {
    const v = await evaluateCsr(csrObject(ecPem), NODE);
    expect(v).toEqual({ approve: true, reason: expect.stringContaining(USER) });
    expect(v.reason).toContain('"kina-control-plane"');
    expect(v.reason).toContain('"127.0.64.2"');
  });

  it("approves an RSA request with digital signature + key encipherment + server auth", async () => {
    const v = await evaluateCsr(csrObject(rsaPem, { usages: RSA_USAGES }), NODE);
    expect(v.approve).toBe(true);
  });

  it("approves usages in any order and a DNS SAN that is one of the node's hostnames", async () => {
    const pem = await pemFor({ dns: [NODE.nodeName, "kina"] });
    const node = { ...NODE, hostnames: ["kina"] };
    const v = await evaluateCsr(csrObject(pem, { usages: ["server auth", "digital signature"] }), node);
    expect(v.approve).toBe(true);
  });

  it("accepts a node address given with its prefix length, as container inspect prints it", async () => {
    const v = await evaluateCsr(csrObject(ecPem), { ...NODE, ips: ["127.0.64.2/24"] });
    expect(v.approve).toBe(true);
  });

  it("approves an IP-only request (the SAN list just has to be non-empty)", async () => {
    const v = await evaluateCsr(csrObject(await pemFor({ dns: [] })), NODE);
    expect(v.approve).toBe(true);
  });
});

type Hostile = { name: string; csr: () => Promise<V1CertificateSigningRequest>; reason: RegExp };

const hostile: Hostile[] = [
  {
    name: "an extra DNS SAN kubernetes.default.svc",
    csr: async () => csrObject(await pemFor({ dns: [NODE.nodeName, "kubernetes.default.svc"] })),
    reason: /DNS SAN "kubernetes\.default\.svc" is not a name of node kina-control-plane/,
  },
  {
    name: "an extra IP SAN 10.96.0.1 (the service IP)",
    csr: async () => csrObject(await pemFor({ ips: ["127.0.64.2", "10.96.0.1"] })),
    reason: /IP SAN "10\.96\.0\.1" is not an address of node kina-control-plane/,
  },
  {
    name: "an IP SAN that is not the VM's",
    csr: async () => csrObject(await pemFor({ ips: ["127.0.64.3"] })),
    reason: /IP SAN "127\.0\.64\.3" is not an address/,
  },
  {
    name: "a loopback IP SAN (no implicit allowance)",
    csr: async () => csrObject(await pemFor({ ips: ["127.0.64.2", "127.0.0.1"] })),
    reason: /IP SAN "127\.0\.0\.1" is not an address/,
  },
  {
    name: "a DNS SAN of another host",
    csr: async () => csrObject(await pemFor({ dns: ["kina-worker"] })),
    reason: /DNS SAN "kina-worker" is not a name of node/,
  },
  {
    name: "a wildcard DNS SAN",
    csr: async () => csrObject(await pemFor({ dns: [NODE.nodeName, "*.svc"] })),
    reason: /DNS SAN "\*\.svc" is not a name of node/,
  },
  {
    name: "requester system:node:other (with a matching CN)",
    csr: async () => csrObject(await pemFor({ cn: "system:node:other" }), { username: "system:node:other" }),
    reason: /requested by "system:node:other", not system:node:kina-control-plane/,
  },
  {
    name: "CN different from the requester",
    csr: async () => csrObject(await pemFor({ cn: "system:node:other" })),
    reason: /subject CN \["system:node:other"\] is not the requester "system:node:kina-control-plane"/,
  },
  {
    name: "O=system:masters",
    csr: async () => csrObject(await pemFor({ o: ["system:masters"] })),
    reason: /subject organization is \["system:masters"\], not \[system:nodes\]/,
  },
  {
    name: "O=system:nodes plus system:masters",
    csr: async () => csrObject(await pemFor({ o: ["system:nodes", "system:masters"] })),
    reason: /subject organization is \["system:nodes", "system:masters"\]/,
  },
  {
    name: "signer kubernetes.io/kube-apiserver-client",
    csr: async () => csrObject(ecPem, { signerName: "kubernetes.io/kube-apiserver-client" }),
    reason: /signer is "kubernetes\.io\/kube-apiserver-client", not kubernetes\.io\/kubelet-serving/,
  },
  {
    name: "signer kubernetes.io/kube-apiserver-client-kubelet",
    csr: async () => csrObject(ecPem, { signerName: "kubernetes.io/kube-apiserver-client-kubelet" }),
    reason: /signer is "kubernetes\.io\/kube-apiserver-client-kubelet"/,
  },
  {
    name: "an email SAN",
    csr: async () => csrObject(await pemFor({ emails: ["admin@example.com"] })),
    reason: /asks for an email SAN \(only DNS and IP SANs are allowed\)/,
  },
  {
    name: "a URI SAN",
    csr: async () => csrObject(await pemFor({ uris: ["spiffe://cluster.local/ns/default/sa/x"] })),
    reason: /asks for a URI SAN \(only DNS and IP SANs are allowed\)/,
  },
  {
    name: "usage client auth added",
    csr: async () => csrObject(ecPem, { usages: [...EC_USAGES, "client auth"] }),
    reason: /usages \["digital signature", "server auth", "client auth"\] are neither/,
  },
  {
    name: "duplicated usages",
    csr: async () => csrObject(ecPem, { usages: ["digital signature", "server auth", "server auth"] }),
    reason: /usages .* contain duplicates/,
  },
  {
    name: "only server auth",
    csr: async () => csrObject(ecPem, { usages: ["server auth"] }),
    reason: /usages \["server auth"\] are neither/,
  },
  {
    name: "a tampered request whose signature fails",
    csr: async () => csrObject(tamper(ecPem)),
    reason: /signature does not verify/,
  },
  {
    name: "two PEM blocks",
    csr: async () => csrObject(ecPem + (await pemFor({ dns: ["kubernetes.default.svc"] }))),
    reason: /holds 2 PEM blocks, not exactly one CERTIFICATE REQUEST/,
  },
  {
    name: "a PEM block of another type",
    csr: async () => csrObject(ecPem.replaceAll("CERTIFICATE REQUEST", "CERTIFICATE")),
    reason: /not a single PEM CERTIFICATE REQUEST block/,
  },
  {
    name: "garbage DER inside the PEM",
    csr: async () =>
      csrObject(x509.PemConverter.encode(new Uint8Array([48, 3, 2, 1, 0]).buffer, "CERTIFICATE REQUEST")),
    reason: /cannot be parsed/,
  },
  {
    name: "a request that is not base64",
    csr: async () => ({ ...csrObject(ecPem), spec: { ...csrObject(ecPem).spec, request: "not base64!" } }),
    reason: /not base64/,
  },
  {
    name: "no SAN at all",
    csr: async () => csrObject(await pemFor({ dns: [], ips: [] })),
    reason: /names no DNS or IP subject alternative name/,
  },
  {
    name: "two SAN extensions (the signer would use the last)",
    csr: async () =>
      csrObject(
        await rawCsr({ extensions: [ownSan(), san([{ type: "dns", value: "kubernetes.default.svc" }])] }),
      ),
    reason: /more than one subjectAltName extension/,
  },
  {
    name: "a second extensionRequest attribute hiding a SAN",
    csr: async () =>
      csrObject(
        await rawCsr({
          extensions: [ownSan()],
          attributes: [new x509.ExtensionsAttribute([san([{ type: "ip", value: "10.96.0.1" }])])],
        }),
      ),
    reason: /more than one subjectAltName extension/,
  },
  {
    name: "a request already Approved",
    csr: async () => ({
      ...csrObject(ecPem),
      status: { conditions: [{ type: "Approved", status: "True", reason: "Someone" }] },
    }),
    reason: /already Approved/,
  },
  {
    name: "a request already Denied",
    csr: async () => ({
      ...csrObject(ecPem),
      status: { conditions: [{ type: "Denied", status: "True", reason: "Someone" }] },
    }),
    reason: /already Denied/,
  },
  {
    name: "a request that already has a certificate",
    csr: async () => ({ ...csrObject(ecPem), status: { certificate: "LS0tLS1CRUdJTg==" } }),
    reason: /already has a certificate/,
  },
  {
    name: "a requester outside system:nodes",
    csr: async () => csrObject(ecPem, { groups: ["system:authenticated"] }),
    reason: /requester is not in group system:nodes/,
  },
  {
    name: "a username with a newline (quoted, cannot start a workflow command)",
    csr: async () => csrObject(ecPem, { username: "x\n::error::pwned" }),
    reason: /requested by "x\\n::error::pwned"/,
  },
];

describe("evaluateCsr — hostile requests stay unapproved, each with its reason", () => {
  it.each(hostile)("$name", async ({ csr, reason }) => {
    const v = await evaluateCsr(await csr(), NODE);
    expect(v.approve).toBe(false);
    expect(v.reason).toMatch(reason);
    expect(v.reason).not.toContain("\n");
  });
});
