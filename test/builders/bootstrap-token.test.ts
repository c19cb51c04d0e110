import { describe, expect, it } from "vitest";
import {
  BOOTSTRAP_TOKEN_PATTERN,
  bootstrapTokenSecret,
  generateBootstrapToken,
  NODE_BOOTSTRAP_GROUP,
  parseBootstrapToken,
} from "../../src/builders/bootstrap-token.js";

describe("bootstrap tokens", () => {
  it("parses <6>.<16> of [a-z0-9] and nothing else", () => {
    expect(parseBootstrapToken("abcdef.0123456789abcdef")).toEqual({
      id: "abcdef",
      secret: "0123456789abcdef",
      value: "abcdef.0123456789abcdef",
    });
    for (const bad of [
      "ABCDEF.0123456789abcdef",
      "abcde.0123456789abcdef",
      "abcdef.0123456789abcde",
      "abcdef0123456789abcdef",
      "abcdef.0123456789abcdef\n",
      " abcdef.0123456789abcdef",
      "abc-ef.0123456789abcdef",
    ]) {
      expect(parseBootstrapToken(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it("generates tokens of that shape from the random source, every character reachable", () => {
    let n = 0;
    const counting = (max: number) => n++ % max;
    const t = generateBootstrapToken(counting);
    expect(t.value).toBe("012345.6789abcdefghijkl");
    expect(parseBootstrapToken(t.value)).toEqual(t);
    const last = generateBootstrapToken((max) => max - 1);
    expect(last.value).toBe("zzzzzz.zzzzzzzzzzzzzzzz");
    expect(() => generateBootstrapToken((max) => max)).toThrow(/outside \[0, 36\)/);
  });

  it("draws a fresh token each time with node:crypto by default", () => {
    const tokens = Array.from({ length: 50 }, () => generateBootstrapToken().value);
    for (const t of tokens) expect(t).toMatch(BOOTSTRAP_TOKEN_PATTERN);
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it("builds the kube-system Secret that `kubeadm token create` writes, data base64-encoded", () => {
    const token = parseBootstrapToken("k1n4ab.0123456789abcdef")!;
    const s = bootstrapTokenSecret(token, {
      expiration: new Date("2026-12-01T10:15:30.250Z"),
      description: "kina worker join",
    }) as { metadata: object; type: string; data: Record<string, string> };
    expect(s).toMatchObject({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "bootstrap-token-k1n4ab", namespace: "kube-system" },
      type: "bootstrap.kubernetes.io/token",
    });
    const data = Object.fromEntries(
      Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
    );
    expect(data).toEqual({
      "token-id": "k1n4ab",
      "token-secret": "0123456789abcdef",
      // RFC 3339 as Go's time.RFC3339 parses it: no fractional seconds.
      expiration: "2026-12-01T10:15:30Z",
      "usage-bootstrap-authentication": "true",
      "usage-bootstrap-signing": "true",
      "auth-extra-groups": NODE_BOOTSTRAP_GROUP,
      description: "kina worker join",
    });
    expect(NODE_BOOTSTRAP_GROUP).toBe("system:bootstrappers:kubeadm:default-node-token");
  });
});
