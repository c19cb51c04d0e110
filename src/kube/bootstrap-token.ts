import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import { bootstrapTokenSecret, type BootstrapToken } from "../builders/bootstrap-token.js";

/**
 * How long a join token is valid. Workers join right after the control plane is up, in parallel, and
 * need the token only for discovery and TLS bootstrap, which take seconds each; 15 minutes leaves room
 * for a slow Mac and is far below kubeadm's 24 h default. The controller-manager's token cleaner
 * deletes the Secret once it expires.
 */
export const JOIN_TOKEN_TTL_MS = 15 * 60_000;
const TIMEOUT_MS = 30_000;

export interface CreateTokenOptions {
  ttlMs?: number;
  /** Bound on the API call (default 30 s). */
  timeoutMs?: number;
  /** For the expiration (default: now). */
  now?: Date;
}

/**
 * Makes `token` valid for `kubeadm join` by creating its `bootstrap-token-<id>` Secret in kube-system
 * through the API: the token never appears on a command line or in a file on the host. Returns the
 * expiration. Throws the API's error (HTTP 409 when a token with this id exists), or
 * "the API server did not answer … within N s" when the call exceeds `timeoutMs`.
 */
export async function createBootstrapToken(
  kc: KubeConfig,
  token: BootstrapToken,
  o: CreateTokenOptions = {},
): Promise<Date> {
  const expiration = new Date((o.now ?? new Date()).getTime() + (o.ttlMs ?? JOIN_TOKEN_TTL_MS));
  const body = bootstrapTokenSecret(token, {
    expiration,
    description: "kina/setup-cluster: lets this job's workers join; expires on its own",
  }) as V1Secret;
  const timeoutMs = o.timeoutMs ?? TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `the API server did not answer the creation of bootstrap token ${token.id} within ${timeoutMs / 1000}s`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    await Promise.race([
      kc.makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: "kube-system", body }),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
  return expiration;
}
