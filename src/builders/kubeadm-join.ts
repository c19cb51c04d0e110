import { createHash, X509Certificate } from "node:crypto";
import { stringify } from "yaml";
import { parseIPv4 } from "../cidr.js";
import { BOOTSTRAP_TOKEN_PATTERN } from "./bootstrap-token.js";
import { CRI_SOCKET } from "./kubeadm-config.js";

/** Written with mode 0600 (it holds the token) and removed once the join has run. */
export const KUBEADM_JOIN_CONFIG_PATH = "/etc/kubernetes/kubeadm-join.yaml";
const CA_CERT_HASH = /^sha256:[0-9a-f]{64}$/;

/**
 * The CA pin `kubeadm join` checks during discovery: `sha256:` and the hex SHA-256 of the CA
 * certificate's DER SubjectPublicKeyInfo (kubeadm's pubkeypin, cmd/kubeadm/app/util/pubkeypin;
 * https://kubernetes.io/docs/reference/setup-tools/kubeadm/kubeadm-join/#token-based-discovery-with-ca-pinning).
 * `caPem` is the cluster CA certificate (PEM). Throws when it is not a certificate.
 */
export function caCertHash(caPem: string): string {
  const spki = new X509Certificate(caPem).publicKey.export({ type: "spki", format: "der" });
  return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}

export interface JoinConfigInput {
  nodeName: string;
  /** The node's own VM address: the kubelet's `node-ip`. */
  nodeIP: string;
  /** The control plane's VM address and API port, `192.168.64.2:6443`. */
  apiServerEndpoint: string;
  /** `<id>.<secret>`: a credential, so this document goes to the node on stdin into a 0600 file. */
  token: string;
  /** From caCertHash. */
  caCertHashes: string[];
  /** The same checks `kubeadm init` ignores (steps/kubeadm-init.ts, IGNORED_PREFLIGHT_ERRORS). */
  ignorePreflightErrors: string[];
}

/**
 * A kubeadm v1beta4 JoinConfiguration for a worker: token discovery against the control plane's VM
 * address with the CA pinned (never unsafeSkipCAVerification), the kubelet registering under the
 * node's name and VM address. Throws on a malformed token, hash or endpoint; messages never contain
 * the token.
 */
export function buildJoinConfiguration(j: JoinConfigInput): object {
  if (!BOOTSTRAP_TOKEN_PATTERN.test(j.token))
    throw new Error("the bootstrap token is not of the form <6 chars>.<16 chars> of [a-z0-9]");
  if (j.caCertHashes.length === 0 || !j.caCertHashes.every((h) => CA_CERT_HASH.test(h)))
    throw new Error(`expected CA pins of the form sha256:<64 hex>, got ${JSON.stringify(j.caCertHashes)}`);
  const endpoint = /^([0-9.]+):(\d{1,5})$/.exec(j.apiServerEndpoint);
  if (!endpoint || parseIPv4(endpoint[1]!) === undefined || Number(endpoint[2]) > 65535)
    throw new Error(`apiServerEndpoint ${j.apiServerEndpoint} is not <IPv4 address>:<port>`);
  if (parseIPv4(j.nodeIP) === undefined) throw new Error(`node IP ${j.nodeIP} is not an IPv4 address`);
  return {
    apiVersion: "kubeadm.k8s.io/v1beta4",
    kind: "JoinConfiguration",
    discovery: {
      bootstrapToken: {
        apiServerEndpoint: j.apiServerEndpoint,
        token: j.token,
        caCertHashes: [...j.caCertHashes],
      },
    },
    nodeRegistration: {
      name: j.nodeName,
      criSocket: CRI_SOCKET,
      kubeletExtraArgs: [{ name: "node-ip", value: j.nodeIP }],
      ignorePreflightErrors: [...j.ignorePreflightErrors],
    },
  };
}

export function renderJoinConfiguration(j: JoinConfigInput): string {
  return stringify(buildJoinConfiguration(j));
}
