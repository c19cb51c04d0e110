import { randomInt } from "node:crypto";

// Bootstrap tokens as kubeadm and the API server's bootstrap authenticator define them
// (kubernetes/kubernetes, staging/src/k8s.io/cluster-bootstrap/token/api/types.go and
// https://kubernetes.io/docs/reference/access-authn-authz/bootstrap-tokens/).

/** `<token-id>.<token-secret>`: 6 and 16 characters of [a-z0-9]. */
export const BOOTSTRAP_TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";
/** The group kubeadm init binds to CSR creation, node client CSR auto-approval and the join ConfigMaps. */
export const NODE_BOOTSTRAP_GROUP = "system:bootstrappers:kubeadm:default-node-token";
export const BOOTSTRAP_TOKEN_SECRET_TYPE = "bootstrap.kubernetes.io/token";

export interface BootstrapToken {
  /** Public part; also the Secret's name suffix (`bootstrap-token-<id>`). */
  id: string;
  /** The credential. */
  secret: string;
  /** `<id>.<secret>`, what `kubeadm join` takes. A credential: mask it, never put it on a command line. */
  value: string;
}

/** Parses `<id>.<secret>`; undefined for anything else. */
export function parseBootstrapToken(text: string): BootstrapToken | undefined {
  const m = BOOTSTRAP_TOKEN_PATTERN.exec(text);
  return m ? { id: m[1]!, secret: m[2]!, value: text } : undefined;
}

/**
 * A new random token. `random(n)` returns an integer in [0, n); the default is node:crypto's
 * uniform, cryptographically strong randomInt.
 */
export function generateBootstrapToken(random: (n: number) => number = randomInt): BootstrapToken {
  const pick = (length: number) =>
    Array.from({ length }, () => ALPHABET[random(ALPHABET.length)] ?? "").join("");
  const token = parseBootstrapToken(`${pick(6)}.${pick(16)}`);
  if (!token) throw new Error("the random source returned a value outside [0, 36)");
  return token;
}

export interface BootstrapTokenSecretOptions {
  /** After this instant the API server refuses the token and the token cleaner deletes it. */
  expiration: Date;
  description: string;
}

/**
 * The `bootstrap-token-<id>` Secret in kube-system that makes the API server accept the token, the
 * shape `kubeadm token create` writes: usable for authentication (TLS bootstrap as
 * `system:bootstrap:<id>` in NODE_BOOTSTRAP_GROUP) and for signing (the bootstrap signer adds its JWS
 * to the cluster-info ConfigMap, which `kubeadm join` discovery verifies). `data` is base64 as stored.
 */
export function bootstrapTokenSecret(token: BootstrapToken, o: BootstrapTokenSecretOptions): object {
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  // RFC 3339 without fractions, as Go's time.RFC3339 parses it.
  const expiration = o.expiration.toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: `bootstrap-token-${token.id}`, namespace: "kube-system" },
    type: BOOTSTRAP_TOKEN_SECRET_TYPE,
    data: {
      "token-id": b64(token.id),
      "token-secret": b64(token.secret),
      expiration: b64(expiration),
      "usage-bootstrap-authentication": b64("true"),
      "usage-bootstrap-signing": b64("true"),
      "auth-extra-groups": b64(NODE_BOOTSTRAP_GROUP),
      description: b64(o.description),
    },
  };
}
