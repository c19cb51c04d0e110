// The host kubeconfig is built from an allowlist of kubeadm's admin.conf (GHSA-44v5-vx46-ghv6): a table
// of hostile admin.conf files, each refused with the field named, and the one shape kubeadm writes, taken.
// Certificates and keys are real ones made in the test.
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { buildHostKubeconfig, UntrustedKubeconfigError } from "../../src/builders/kubeconfig.js";
import { createCa, issueCert } from "../sim/kube/certs.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const ca = await createCa();
const admin = await issueCert(ca, { cn: "kubernetes-admin", o: ["kubeadm:cluster-admins"], usage: "client" });
const other = await issueCert(ca, { cn: "someone-else", usage: "client" });

// The admin.conf as parsed YAML, edited freely by the hostile cases.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

/** kubeadm's admin.conf, as `kubeadm init` writes it. */
function adminConf(): Doc {
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "kubernetes",
        cluster: { "certificate-authority-data": b64(ca.certPem), server: "https://192.0.2.2:6443" },
      },
    ],
    contexts: [
      { name: "kubernetes-admin@kubernetes", context: { cluster: "kubernetes", user: "kubernetes-admin" } },
    ],
    "current-context": "kubernetes-admin@kubernetes",
    preferences: {},
    users: [
      {
        name: "kubernetes-admin",
        user: { "client-certificate-data": b64(admin.certPem), "client-key-data": b64(admin.keyPem) },
      },
    ],
  };
}

const build = (doc: unknown) => buildHostKubeconfig(stringify(doc), "ci-a", "https://127.0.0.1:50123");

describe("buildHostKubeconfig", () => {
  it("takes kubeadm's admin.conf: one cluster, user and context named after the cluster, at the published port", () => {
    const { yaml } = build(adminConf());
    expect(parse(yaml)).toEqual({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "ci-a",
          cluster: { server: "https://127.0.0.1:50123", "certificate-authority-data": b64(ca.certPem) },
        },
      ],
      users: [
        {
          name: "ci-a-admin",
          user: { "client-certificate-data": b64(admin.certPem), "client-key-data": b64(admin.keyPem) },
        },
      ],
      contexts: [{ name: "ci-a", context: { cluster: "ci-a", user: "ci-a-admin" } }],
      "current-context": "ci-a",
      preferences: {},
    });
  });

  it("returns the key material to mask, encoded and decoded, without the PEM armour", () => {
    const { secrets } = build(adminConf());
    expect(secrets).toContain(b64(admin.keyPem));
    const body = admin.keyPem.split("\n").filter((l) => l && !l.startsWith("-----"));
    expect(body.length).toBeGreaterThan(0);
    expect(secrets).toEqual(expect.arrayContaining(body));
    expect(secrets.some((s) => s.startsWith("-----"))).toBe(false);
  });

  const hostile: Array<[string, (d: Doc) => void, string]> = [
    [
      "an exec credential plugin",
      (d) => (d.users[0].user.exec = { command: "/bin/sh" }),
      "users[0].user.exec",
    ],
    [
      "an auth-provider",
      (d) => (d.users[0].user["auth-provider"] = { name: "gcp", config: { "cmd-path": "/bin/sh" } }),
      "users[0].user.auth-provider",
    ],
    ["a token", (d) => (d.users[0].user.token = "abc"), "users[0].user.token"],
    ["a tokenFile", (d) => (d.users[0].user.tokenFile = "/etc/passwd"), "users[0].user.tokenFile"],
    ["a username", (d) => (d.users[0].user.username = "admin"), "users[0].user.username"],
    ["impersonation", (d) => (d.users[0].user.as = "system:admin"), "users[0].user.as"],
    [
      "a key file path",
      (d) => (d.users[0].user["client-key"] = "/root/.ssh/id_rsa"),
      "users[0].user.client-key",
    ],
    [
      "a CA file path",
      (d) => (d.clusters[0].cluster["certificate-authority"] = "/etc/ssl/ca.pem"),
      "clusters[0].cluster.certificate-authority",
    ],
    [
      "a proxy-url",
      (d) => (d.clusters[0].cluster["proxy-url"] = "http://127.0.0.1:1"),
      "clusters[0].cluster.proxy-url",
    ],
    [
      "insecure-skip-tls-verify",
      (d) => (d.clusters[0].cluster["insecure-skip-tls-verify"] = true),
      "clusters[0].cluster.insecure-skip-tls-verify",
    ],
    [
      "a tls-server-name",
      (d) => (d.clusters[0].cluster["tls-server-name"] = "evil.example"),
      "clusters[0].cluster.tls-server-name",
    ],
    ["extensions", (d) => (d.clusters[0].cluster.extensions = [{ name: "x", extension: {} }]), "extensions"],
    [
      "a second cluster",
      (d) => d.clusters.push({ name: "x", cluster: { server: "https://x" } }),
      "clusters[1]",
    ],
    ["a second user", (d) => d.users.push({ name: "x", user: { token: "t" } }), "users[1]"],
    [
      "a second context",
      (d) => d.contexts.push({ name: "x", context: { cluster: "x", user: "x" } }),
      "contexts[1]",
    ],
    [
      "a namespace in the context",
      (d) => (d.contexts[0].context.namespace = "x"),
      "contexts[0].context.namespace",
    ],
    ["another current-context", (d) => (d["current-context"] = "x"), "current-context"],
    ["preferences", (d) => (d.preferences = { colors: true }), "preferences"],
    ["an unknown top-level key", (d) => (d.extra = 1), "extra"],
    [
      "a context pointing elsewhere",
      (d) => (d.contexts[0].context.cluster = "elsewhere"),
      "contexts[0].context.cluster",
    ],
    [
      "a CA that is not a certificate",
      (d) => (d.clusters[0].cluster["certificate-authority-data"] = b64("hello")),
      "certificate-authority-data",
    ],
    [
      "a certificate that is not base64",
      (d) => (d.users[0].user["client-certificate-data"] = "not base64!"),
      "client-certificate-data",
    ],
    [
      "a key that does not match the certificate",
      (d) => (d.users[0].user["client-key-data"] = b64(other.keyPem)),
      "does not match",
    ],
    [
      "two keys in one field",
      (d) => (d.users[0].user["client-key-data"] = b64(admin.keyPem + other.keyPem)),
      "client-key-data",
    ],
    [
      "a server that is not https",
      (d) => (d.clusters[0].cluster.server = "http://192.0.2.2:6443"),
      "clusters[0].cluster.server",
    ],
    ["no user", (d) => (d.users = []), "users is missing"],
    ["no client key", (d) => delete d.users[0].user["client-key-data"], "client-key-data is missing"],
  ];

  it.each(hostile)("refuses %s, naming it", (_, edit, field) => {
    const doc = adminConf();
    edit(doc);
    let err: unknown;
    try {
      build(doc);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UntrustedKubeconfigError);
    expect((err as Error).message).toContain(field);
    expect((err as Error).message).toContain("GHSA-44v5-vx46-ghv6");
  });

  it("refuses YAML aliases, which expand a small file into a huge one", () => {
    const text = `a: &a [x, x, x]\nb: [*a, *a, *a]\n${stringify(adminConf())}`;
    expect(() => buildHostKubeconfig(text, "kina", "https://127.0.0.1:1")).toThrow(UntrustedKubeconfigError);
  });

  it("prints a hostile key safely: quoted, cut, never a workflow command", () => {
    const doc = adminConf();
    doc.users[0].user["\n::warning::owned" + "x".repeat(100)] = 1;
    expect(() => build(doc)).toThrow(/users\[0\]\.user\."\\n::warning::owned/);
    try {
      build(doc);
    } catch (e) {
      expect((e as Error).message).not.toContain("\n");
    }
  });
});
