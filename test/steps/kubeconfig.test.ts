import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { rewriteAdminConf } from "../../src/steps/kubeconfig.js";

const key = Buffer.from(
  "-----BEGIN EC PRIVATE KEY-----\nSECRETKEYLINE\n-----END EC PRIVATE KEY-----\n",
).toString("base64");
const admin = stringify({
  apiVersion: "v1",
  kind: "Config",
  clusters: [
    {
      name: "kubernetes",
      cluster: { server: "https://192.0.2.2:6443", "certificate-authority-data": "Q0E=" },
    },
  ],
  users: [
    { name: "kubernetes-admin", user: { "client-certificate-data": "Q0VSVA==", "client-key-data": key } },
  ],
  contexts: [
    { name: "kubernetes-admin@kubernetes", context: { cluster: "kubernetes", user: "kubernetes-admin" } },
  ],
  "current-context": "kubernetes-admin@kubernetes",
});

describe("rewriteAdminConf", () => {
  it("names everything after the cluster and points at the published port", () => {
    const { yaml } = rewriteAdminConf(admin, "ci-a", "https://127.0.0.1:50123");
    const kc = parse(yaml);
    expect(kc.clusters).toEqual([
      { name: "ci-a", cluster: { server: "https://127.0.0.1:50123", "certificate-authority-data": "Q0E=" } },
    ]);
    expect(kc.users[0].name).toBe("ci-a-admin");
    expect(kc.contexts).toEqual([{ name: "ci-a", context: { cluster: "ci-a", user: "ci-a-admin" } }]);
    expect(kc["current-context"]).toBe("ci-a");
  });
  it("returns the key material to mask, encoded and decoded", () => {
    const { secrets } = rewriteAdminConf(admin, "kina", "https://127.0.0.1:1");
    expect(secrets).toContain(key);
    expect(secrets).toContain("SECRETKEYLINE");
    expect(secrets.some((s) => s.startsWith("-----"))).toBe(false);
  });
  it("refuses an admin.conf without a user", () => {
    expect(() => rewriteAdminConf("clusters: []", "kina", "https://127.0.0.1:1")).toThrow(
      /no cluster or user/,
    );
  });
});
