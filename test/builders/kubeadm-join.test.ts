import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  buildJoinConfiguration,
  caCertHash,
  KUBEADM_JOIN_CONFIG_PATH,
  renderJoinConfiguration,
  type JoinConfigInput,
} from "../../src/builders/kubeadm-join.js";
import { IGNORED_PREFLIGHT_ERRORS } from "../../src/steps/kubeadm-init.js";

// kubeadm's own test vector: a self-signed RSA certificate and its pin
// (kubernetes/kubernetes, cmd/kubeadm/app/util/pubkeypin/pubkeypin_test.go).
const KUBEADM_TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIDRDCCAiygAwIBAgIJAJgVaCXvC6HkMA0GCSqGSIb3DQEBBQUAMB8xHTAbBgNV
BAMTFGt1YmVhZG0ta2V5cGlucy10ZXN0MCAXDTE3MDcwNTE3NDMxMFoYDzIxMTcw
NjExMTc0MzEwWjAfMR0wGwYDVQQDExRrdWJlYWRtLWtleXBpbnMtdGVzdDCCASIw
DQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAK0ba8mHU9UtYlzM1Own2Fk/XGjR
J4uJQvSeGLtz1hID1IA0dLwruvgLCPadXEOw/f/IWIWcmT+ZmvIHZKa/woq2iHi5
+HLhXs7aG4tjKGLYhag1hLjBI7icqV7ovkjdGAt9pWkxEzhIYClFMXDjKpMSynu+
YX6nZ9tic1cOkHmx2yiZdMkuriRQnpTOa7bb03OC1VfGl7gHlOAIYaj4539WCOr8
+ACTUMJUFEHcRZ2o8a/v6F9GMK+7SC8SJUI+GuroXqlMAdhEv4lX5Co52enYaClN
+D9FJLRpBv2YfiCQdJRaiTvCBSxEFz6BN+PtP5l2Hs703ZWEkOqCByM6HV8CAwEA
AaOBgDB+MB0GA1UdDgQWBBRQgUX8MhK2rWBWQiPHWcKzoWDH5DBPBgNVHSMESDBG
gBRQgUX8MhK2rWBWQiPHWcKzoWDH5KEjpCEwHzEdMBsGA1UEAxMUa3ViZWFkbS1r
ZXlwaW5zLXRlc3SCCQCYFWgl7wuh5DAMBgNVHRMEBTADAQH/MA0GCSqGSIb3DQEB
BQUAA4IBAQCaAUif7Pfx3X0F08cxhx8/Hdx4jcJw6MCq6iq6rsXM32ge43t8OHKC
pJW08dk58a3O1YQSMMvD6GJDAiAfXzfwcwY6j258b1ZlI9Ag0VokvhMl/XfdCsdh
AWImnL1t4hvU5jLaImUUMlYxMcSfHBGAm7WJIZ2LdEfg6YWfZh+WGbg1W7uxLxk6
y4h5rWdNnzBHWAGf7zJ0oEDV6W6RSwNXtC0JNnLaeIUm/6xdSddJlQPwUv8YH4jX
c1vuFqTnJBPcb7W//R/GI2Paicm1cmns9NLnPR35exHxFTy+D1yxmGokpoPMdife
aH+sfuxT8xeTPb3kjzF9eJTlnEquUDLM
-----END CERTIFICATE-----
`;
const KUBEADM_TEST_PIN = "sha256:345959acb2c3b2feb87d281961c893f62a314207ef02599f1cc4a5fb255480b3";

const tmp = mkdtempSync(join(tmpdir(), "kina-join-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A self-signed CA made by the openssl CLI and its pin as kubeadm's documentation computes it. */
function opensslCa(keyAlg: string[]): { pem: string; pin: string } {
  const key = join(tmp, `${keyAlg.join("-")}.key`);
  const crt = join(tmp, `${keyAlg.join("-")}.crt`);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-nodes",
      "-newkey",
      ...keyAlg,
      "-keyout",
      key,
      "-out",
      crt,
      "-days",
      "1",
      "-subj",
      "/CN=kubernetes",
    ],
    { stdio: "ignore" },
  );
  const pubDer = execFileSync("sh", [
    "-c",
    `openssl x509 -pubkey -noout -in '${crt}' | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex`,
  ]).toString();
  return { pem: readFileSync(crt, "utf8"), pin: `sha256:${/([0-9a-f]{64})/.exec(pubDer)![1]}` };
}

describe("caCertHash", () => {
  it("is kubeadm's pin for kubeadm's own test certificate", () => {
    expect(caCertHash(KUBEADM_TEST_CERT)).toBe(KUBEADM_TEST_PIN);
  });

  it.each([
    ["RSA 2048 (kubeadm's default CA key)", ["rsa:2048"]],
    ["ECDSA P-256", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]],
  ])("matches the openssl recipe of kubeadm's docs for a %s CA", (_what, alg) => {
    const ca = opensslCa(alg);
    expect(caCertHash(ca.pem)).toBe(ca.pin);
  });

  it("throws on something that is not a certificate", () => {
    expect(() => caCertHash("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")).toThrow();
  });
});

const TOKEN = "k1n4ab.0123456789abcdef";
const input: JoinConfigInput = {
  nodeName: "kina-worker-1",
  nodeIP: "192.168.64.5",
  apiServerEndpoint: "192.168.64.4:6443",
  token: TOKEN,
  caCertHashes: [KUBEADM_TEST_PIN],
  ignorePreflightErrors: IGNORED_PREFLIGHT_ERRORS,
};

describe("buildJoinConfiguration", () => {
  it("joins by token discovery at the control plane's VM address with the CA pinned", () => {
    expect(buildJoinConfiguration(input)).toEqual({
      apiVersion: "kubeadm.k8s.io/v1beta4",
      kind: "JoinConfiguration",
      discovery: {
        bootstrapToken: {
          apiServerEndpoint: "192.168.64.4:6443",
          token: TOKEN,
          caCertHashes: [KUBEADM_TEST_PIN],
        },
      },
      nodeRegistration: {
        name: "kina-worker-1",
        criSocket: "unix:///run/containerd/containerd.sock",
        kubeletExtraArgs: [{ name: "node-ip", value: "192.168.64.5" }],
        ignorePreflightErrors: [
          "Swap",
          "SystemVerification",
          "FileContent--proc-sys-net-bridge-bridge-nf-call-iptables",
        ],
      },
    });
  });

  it("renders one YAML document that reads back as the built object", () => {
    const text = renderJoinConfiguration(input);
    expect(parse(text)).toEqual(buildJoinConfiguration(input));
    expect(text).not.toContain("unsafeSkipCAVerification");
    expect(KUBEADM_JOIN_CONFIG_PATH).toBe("/etc/kubernetes/kubeadm-join.yaml");
  });

  it.each([
    [{ token: "K1N4AB.0123456789abcdef" }, /bootstrap token is not of the form/],
    [{ caCertHashes: [] }, /expected CA pins/],
    [{ caCertHashes: ["sha256:abc"] }, /expected CA pins/],
    [{ caCertHashes: [KUBEADM_TEST_PIN.toUpperCase()] }, /expected CA pins/],
    [{ apiServerEndpoint: "192.168.64.4" }, /is not <IPv4 address>:<port>/],
    [{ apiServerEndpoint: "cp.example:6443" }, /is not <IPv4 address>:<port>/],
    [{ nodeIP: "192.168.64" }, /is not an IPv4 address/],
  ])("refuses %j", (change, message) => {
    expect(() => buildJoinConfiguration({ ...input, ...change })).toThrow(message);
  });

  it("never puts the token into an error message", () => {
    const secret = "k1n4ab.0123456789ABCDEF";
    let message = "";
    try {
      buildJoinConfiguration({ ...input, token: secret });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).not.toBe("");
    expect(message).not.toContain("0123456789ABCDEF");
  });
});
