// Real X.509 material for the simulated cluster: a CA, serving/client certificates, PKCS#10 requests.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface CertKey {
  certPem: string;
  keyPem: string;
}
/** A certificate authority; only the two PEMs are needed, so a CA read from disk works too. */
export type CA = CertKey;

export interface IssueOptions {
  cn: string;
  o?: string[];
  dns?: string[];
  ips?: string[];
  usage: "server" | "client";
  days?: number;
}

export interface CsrOptions {
  keyType: "ec" | "rsa";
  cn: string;
  o: string[];
  dns?: string[];
  ips?: string[];
  emails?: string[];
  uris?: string[];
}

const EC_GEN = { name: "ECDSA", namedCurve: "P-256" };
const EC_SIGN = { name: "ECDSA", hash: "SHA-256" };
const RSA_GEN = {
  name: "RSASSA-PKCS1-v1_5",
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: "SHA-256",
};
const DAY_MS = 86_400_000;

async function newKeys(type: "ec" | "rsa"): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(type === "ec" ? EC_GEN : RSA_GEN, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
}

async function keyToPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

function subject(cn: string, o: string[] = []): x509.JsonName {
  return [...o.map((v) => ({ O: [v] })), { CN: [cn] }];
}

function sanExtension(names: x509.JsonGeneralName[]): x509.Extension[] {
  return names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [];
}

function altNames(o: { dns?: string[]; ips?: string[]; emails?: string[]; uris?: string[] }) {
  return [
    ...(o.dns ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(o.ips ?? []).map((value) => ({ type: "ip" as const, value })),
    ...(o.emails ?? []).map((value) => ({ type: "email" as const, value })),
    ...(o.uris ?? []).map((value) => ({ type: "url" as const, value })),
  ];
}

interface LoadedCa {
  cert: x509.X509Certificate;
  key: CryptoKey;
  signingAlgorithm: Algorithm;
}
const loaded = new WeakMap<CA, Promise<LoadedCa>>();

function loadCa(ca: CA): Promise<LoadedCa> {
  let p = loaded.get(ca);
  if (!p) {
    p = (async () => {
      const cert = new x509.X509Certificate(ca.certPem);
      const alg = cert.publicKey.algorithm as Algorithm;
      const ec = alg.name === "ECDSA";
      const importAlg = ec ? alg : { name: alg.name, hash: "SHA-256" };
      const der = x509.PemConverter.decodeFirst(ca.keyPem);
      const key = (await webcrypto.subtle.importKey("pkcs8", der, importAlg, false, ["sign"])) as CryptoKey;
      return { cert, key, signingAlgorithm: ec ? EC_SIGN : { name: alg.name } };
    })();
    loaded.set(ca, p);
  }
  return p;
}

async function sign(
  ca: CA,
  subjectName: x509.JsonName | x509.Name,
  publicKey: x509.PublicKeyType,
  days: number,
  extensions: x509.Extension[],
): Promise<string> {
  const { cert, key, signingAlgorithm } = await loadCa(ca);
  const now = Date.now();
  const issued = await x509.X509CertificateGenerator.create({
    subject: subjectName,
    issuer: cert.subjectName,
    publicKey,
    signingKey: key,
    signingAlgorithm,
    // Backdated a little, as kube's signers do, to tolerate clock skew.
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + days * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      await x509.AuthorityKeyIdentifierExtension.create(cert.publicKey),
      ...extensions,
    ],
  });
  return issued.toString("pem");
}

function usageExtensions(usage: "server" | "client", rsa: boolean): x509.Extension[] {
  const flags = x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : 0);
  const eku = usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth;
  return [new x509.KeyUsagesExtension(flags, true), new x509.ExtendedKeyUsageExtension([eku])];
}

/** A self-signed EC P-256 CA, valid 10 years. */
export async function createCa(cn = "kubernetes"): Promise<CA> {
  const keys = await newKeys("ec");
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: subject(cn),
    keys,
    signingAlgorithm: EC_SIGN,
    notBefore: new Date(Date.now() - 5 * 60_000),
    notAfter: new Date(Date.now() + 3650 * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await keyToPem(keys.privateKey) };
}

/** A leaf certificate (EC P-256 key) signed by `ca`. */
export async function issueCert(ca: CA, opts: IssueOptions): Promise<CertKey> {
  const keys = await newKeys("ec");
  const certPem = await sign(ca, subject(opts.cn, opts.o), keys.publicKey, opts.days ?? 365, [
    ...usageExtensions(opts.usage, false),
    ...sanExtension(altNames(opts)),
  ]);
  return { certPem, keyPem: await keyToPem(keys.privateKey) };
}

/** Signs a PKCS#10 request as given (subject and SANs copied); throws if its signature does not verify. */
export async function signCsr(
  ca: CA,
  csrPem: string,
  opts: { days: number; usage?: "server" | "client" },
): Promise<string> {
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  if (!(await csr.verify())) throw new Error("CSR signature does not verify");
  // Lookup by OID: lookup by class returns null for CSR extensions in @peculiar/x509 2.x.
  const san = csr.getExtension("2.5.29.17");
  const rsa = csr.publicKey.algorithm.name !== "ECDSA";
  return sign(ca, csr.subjectName, csr.publicKey, opts.days, [
    ...usageExtensions(opts.usage ?? "server", rsa),
    ...(san ? [san] : []),
  ]);
}

/** A PKCS#10 CERTIFICATE REQUEST with subject O…, CN and a SAN extension request (if any names). */
export async function createCsr(opts: CsrOptions): Promise<{ csrPem: string; keyPem: string }> {
  const keys = await newKeys(opts.keyType);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject(opts.cn, opts.o),
    keys,
    signingAlgorithm: opts.keyType === "ec" ? EC_SIGN : RSA_GEN,
    extensions: sanExtension(altNames(opts)),
  });
  return { csrPem: csr.toString("pem"), keyPem: await keyToPem(keys.privateKey) };
}

/** True when `certPem` is signed by the CA's key and names it as issuer. */
export async function certChainsTo(certPem: string, ca: CA): Promise<boolean> {
  const cert = new x509.X509Certificate(certPem);
  const caCert = new x509.X509Certificate(ca.certPem);
  return (
    cert.issuer === caCert.subject &&
    (await cert.verify({ publicKey: caCert.publicKey, signatureOnly: true }))
  );
}

/** Splits SANs given as plain strings into DNS names and IP addresses. */
export function splitSans(sans: string[]): { dns: string[]; ips: string[] } {
  return { dns: sans.filter((s) => !isIP(s)), ips: sans.filter((s) => isIP(s)) };
}

export interface CsrInfo {
  cn: string;
  o: string[];
  dns: string[];
  ips: string[];
  emails: string[];
  uris: string[];
  signatureValid: boolean;
}

/** Reads a PKCS#10 PEM the way a signer would; throws when it is not one. */
export async function describeCsr(csrPem: string): Promise<CsrInfo> {
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  const names =
    (csr.getExtension("2.5.29.17") as x509.SubjectAlternativeNameExtension | null)?.names.items ?? [];
  const of = (t: string) => names.filter((n) => n.type === t).map((n) => n.value);
  return {
    cn: csr.subjectName.getField("CN")[0] ?? "",
    o: csr.subjectName.getField("O"),
    dns: of("dns"),
    ips: of("ip"),
    emails: of("email"),
    uris: of("url"),
    signatureValid: await csr.verify(),
  };
}
