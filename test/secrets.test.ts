// Credentials never reach the log: what is registered with the runner, and what redact() blanks.
import { describe, expect, it, vi } from "vitest";
import { displayUrl, proxyCredentials, redact } from "../src/secrets.js";

describe("redact", () => {
  it("blanks proxy credentials and kubeadm join secrets", () => {
    expect(redact('"HTTPS_PROXY=http://alice:s3cret@proxy.corp:3128"')).toBe(
      '"HTTPS_PROXY=http://***:***@proxy.corp:3128"',
    );
    expect(redact("kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef \\")).toBe(
      "kubeadm join 10.0.0.1:6443 --token *** \\",
    );
    expect(redact("--certificate-key=0123abcd --discovery-token-ca-cert-hash sha256:00")).toBe(
      "--certificate-key=*** --discovery-token-ca-cert-hash sha256:00",
    );
    expect(redact("http://proxy.corp:3128 and https://example.com/a@b")).toBe(
      "http://proxy.corp:3128 and https://example.com/a@b",
    );
  });
});

describe("proxyCredentials", () => {
  it("finds userinfo in proxy variables of any case, raw and percent-decoded", () => {
    const found = proxyCredentials({
      HTTPS_PROXY: "http://bot:p%40ss-word@proxy.example:3128",
      http_proxy: "http://bot:plain-pw@proxy.example:3128",
      All_Proxy: "socks5://sock:socks-pw@proxy.example:1080",
      no_proxy: "localhost,http://svc:np-pw@mirror.example",
      ftp_proxy: "user-token-only@proxy.example:21",
      PATH: "http://not:a-proxy@example.com",
    });
    expect(found).toEqual(
      expect.arrayContaining([
        "p%40ss-word",
        "p@ss-word",
        "bot:p%40ss-word",
        "plain-pw",
        "socks-pw",
        "np-pw",
        "user-token-only",
      ]),
    );
    expect(found).not.toContain("a-proxy");
  });

  it("takes the last '@' before the host when a password holds a raw one", () => {
    expect(proxyCredentials({ HTTPS_PROXY: "http://bot:p@ss@proxy.example:3128" })).toContain("p@ss");
    expect(redact("HTTPS_PROXY=http://bot:p@ss@proxy.example:3128")).toBe(
      "HTTPS_PROXY=http://***:***@proxy.example:3128",
    );
  });

  it("finds nothing in URLs without userinfo", () => {
    expect(
      proxyCredentials({ HTTPS_PROXY: "http://proxy.example:3128", NO_PROXY: "localhost,.svc" }),
    ).toEqual([]);
  });
});

describe("registered secrets", () => {
  it("are blanked wherever they appear, and registered with the runner once", async () => {
    vi.resetModules();
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((c: string | Uint8Array) => {
      out.push(c.toString());
      return true;
    });
    try {
      const s = await import("../src/secrets.js");
      s.registerSecret("tok-123456");
      s.registerSecret("tok-123456");
      s.registerSecret("ab"); // too short to register: it would blank every "ab" in the log
      expect(out.filter((l) => l.startsWith("::add-mask::"))).toEqual(["::add-mask::tok-123456\n"]);
      expect(s.redact("a tok-123456 b ab")).toBe("a *** b ab");
    } finally {
      spy.mockRestore();
    }
  });

  it("redacts PEM private keys and kubeconfig credential fields", () => {
    const pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----";
    expect(redact(`key:\n${pem}\n`)).toBe(
      "key:\n-----BEGIN EC PRIVATE KEY----- (redacted) -----END EC PRIVATE KEY-----\n",
    );
    expect(redact('client-key-data: LS0tLS1CRUdJTg==\ntoken: "abc"')).toBe(
      'client-key-data: ***\ntoken: "***"',
    );
    expect(redact("[bootstrap-token] Using token: abcdef.0123456789abcdef")).toBe(
      "[bootstrap-token] Using token: ***",
    );
    expect(redact("kubeadm token create abcdef.0123456789abcdef --ttl 1h")).toBe(
      "kubeadm token create ******.**************** --ttl 1h",
    );
  });
});

describe("displayUrl", () => {
  it.each([
    [
      "https://dl.k8s.io/release/v1.37.0/bin/darwin/arm64/kubectl",
      "https://dl.k8s.io/release/v1.37.0/bin/darwin/arm64/kubectl",
    ],
    ["http://user:T0ken@m.example/{version}/c.pkg", "http://***:***@m.example/{version}/c.pkg"],
    ["https://T0ken@m.example/k", "https://***@m.example/k"],
    ["https://m.example/k?token=abc&x=&sig=z#frag", "https://m.example/k?token=***&x=***&sig=***#frag"],
    ["https://u:p@m.example/k?t=1", "https://***:***@m.example/k?t=***"],
  ])("%s → %s", (url, shown) => {
    expect(displayUrl(url)).toBe(shown);
  });
});
