// Approves the kubelet's serving-certificate CSR (serverTLSBootstrap) while the cluster comes up, and
// nothing else: every request goes through the rules in csr-rules.ts.
import {
  CertificatesV1Api,
  type KubeConfig,
  type V1CertificateSigningRequest,
  type V1CertificateSigningRequestCondition,
} from "@kubernetes/client-node";
import { bounded } from "./client.js";
import { evaluateCsr, KUBELET_SERVING_SIGNER, type NodeIdentity } from "./csr-rules.js";
import { reopeningWatch } from "./watch.js";

export type { NodeIdentity } from "./csr-rules.js";

export interface CsrDecision {
  name: string;
  approved: boolean;
  reason: string;
}

export interface CsrApprover {
  /**
   * Resolves with the name of the first kubelet-serving CSR of our node that was approved (by us, or
   * found already approved). Rejects if the approver is stopped first.
   */
  readonly firstApproval: Promise<string>;
  /** Every decision taken, in order. */
  decisions: CsrDecision[];
  /** Ends the watch, waits for an approval in flight, and leaves no timers or connections behind. */
  stop(): Promise<void>;
}

export interface CsrApproverLog {
  info(message: string): void;
  warning(message: string): void;
}

export interface CsrApproverOptions {
  /**
   * Deny kubelet-serving CSRs that fail the rules (with the reason as message) instead of leaving them
   * pending. Off by default: a pending CSR is never signed either, and a denial cannot be undone, so if
   * our view of the node's names ever misses one the kubelet uses, pending still lets someone
   * `kubectl certificate approve` after reading the reason in the log.
   */
  deny?: boolean;
}

const CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests";
const APPROVE_ATTEMPTS = 5;
/** About 15 s of failing, with the watch's backoff (100 ms doubling to 5 s). */
const WARN_AFTER_FAILURES = 8;

/**
 * Watches kubelet-serving CSRs and approves those of `nodes` that pass the rules (csr-rules.ts). With
 * several nodes, each CSR is judged against the one node whose name it was requested as, with that
 * node's own names and addresses only, never the union of all nodes' (a worker asking for the control
 * plane's address stays pending). A CSR of a node not in `nodes` stays pending (denied with `deny`).
 * `firstApproval` follows the first node (the control plane).
 */
export function startCsrApprover(
  kc: KubeConfig,
  nodeOrNodes: NodeIdentity | NodeIdentity[],
  log: CsrApproverLog,
  opts: CsrApproverOptions = {},
): CsrApprover {
  const nodes = Array.isArray(nodeOrNodes) ? nodeOrNodes : [nodeOrNodes];
  if (!nodes.length) throw new Error("startCsrApprover needs at least one node");
  const api = kc.makeApiClient(CertificatesV1Api);
  const decisions: CsrDecision[] = [];
  const requester = `system:node:${nodes[0]!.nodeName}`;
  // A requester that is none of ours is judged against the first node, whose rules reject it by name.
  const nodeOf = (csr: V1CertificateSigningRequest) =>
    nodes.find((n) => csr.spec?.username === `system:node:${n.nodeName}`) ?? nodes[0]!;
  // name → resourceVersion last handled, so each version of a CSR is looked at once, even when a
  // re-established watch replays every CSR as ADDED.
  const handled = new Map<string, string>();
  let stopped = false;
  let queue: Promise<void> = Promise.resolve();
  const watching = new AbortController();

  let resolveFirst!: (name: string) => void;
  let rejectFirst!: (err: Error) => void;
  const firstApproval = new Promise<string>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  // Nobody has to await firstApproval; its rejection on stop() must not become an unhandled one.
  firstApproval.catch(() => undefined);

  const decide = (name: string, approved: boolean, reason: string) => {
    decisions.push({ name, approved, reason });
  };

  const onEvent = (type: string, obj: V1CertificateSigningRequest) => {
    if (stopped) return;
    const name = obj?.metadata?.name;
    if (!name) return;
    if (type === "DELETED") {
      handled.delete(name);
      return;
    }
    if (type !== "ADDED" && type !== "MODIFIED") return;
    const rv = obj.metadata?.resourceVersion ?? "";
    if (handled.get(name) === rv) return;
    handled.set(name, rv);
    // One CSR at a time: approvals are few, and ordering keeps the log readable.
    queue = queue
      .then(() => handle(name, obj))
      .catch((err: unknown) => {
        log.warning(`could not handle CSR ${name}: ${message(err)}`);
      });
  };

  // Other signers' requests (the kubelet's client certificate among them) belong to other approvers.
  const ours = (csr: V1CertificateSigningRequest) => csr.spec?.signerName === KUBELET_SERVING_SIGNER;

  async function handle(name: string, first: V1CertificateSigningRequest): Promise<void> {
    let csr = first;
    for (let attempt = 1; !stopped && ours(csr); attempt++) {
      if (isDecided(csr)) {
        if (isApproved(csr) && csr.spec.username === requester) resolveFirst(name);
        return;
      }
      const verdict = await evaluateCsr(csr, nodeOf(csr));
      if (stopped) return;
      if (!verdict.approve && !opts.deny) {
        decide(name, false, verdict.reason);
        log.info(`left CSR ${name} pending: ${verdict.reason}`);
        return;
      }
      const condition: V1CertificateSigningRequestCondition = verdict.approve
        ? {
            type: "Approved",
            status: "True",
            reason: "KinaApprove",
            message: `kina approved the ${verdict.reason}`,
          }
        : {
            type: "Denied",
            status: "True",
            reason: "KinaDeny",
            message: `kina denied it: ${verdict.reason}`,
          };
      condition.lastUpdateTime = new Date();
      const body = {
        ...csr,
        status: { ...csr.status, conditions: [...(csr.status?.conditions ?? []), condition] },
      };
      try {
        await api.replaceCertificateSigningRequestApproval({ name, body }, await bounded());
      } catch (err) {
        if (statusCode(err) !== 409 || attempt >= APPROVE_ATTEMPTS || stopped) {
          log.warning(`could not ${verdict.approve ? "approve" : "deny"} CSR ${name}: ${message(err)}`);
          return;
        }
        // Someone else wrote the CSR since we read it: judge the current version again.
        csr = await api.readCertificateSigningRequest({ name }, await bounded());
        continue;
      }
      decide(name, verdict.approve, verdict.reason);
      if (verdict.approve) {
        log.info(`approved CSR ${name}: ${verdict.reason}`);
        resolveFirst(name);
      } else {
        log.info(`denied CSR ${name}: ${verdict.reason}`);
      }
      return;
    }
  }

  // A brief outage (the API server restarting) is routine; only a long one is worth a warning.
  const watched = reopeningWatch<V1CertificateSigningRequest>(kc, {
    path: CSR_PATH,
    query: { fieldSelector: `spec.signerName=${KUBELET_SERVING_SIGNER}` },
    signal: watching.signal,
    onEvent,
    onFailure: (err, failures) => {
      const what = `the CSR watch ended${err ? `: ${message(err)}` : " early"}`;
      if (failures === WARN_AFTER_FAILURES) log.warning(`${what}; still retrying`);
      else log.info(`${what}; retrying`);
    },
  });

  return {
    firstApproval,
    decisions,
    async stop() {
      if (stopped) return;
      stopped = true;
      watching.abort();
      await watched;
      await queue;
      rejectFirst(new Error("the CSR approver stopped before it approved a kubelet serving certificate"));
    },
  };
}

function isDecided(csr: V1CertificateSigningRequest): boolean {
  const conditions = csr.status?.conditions ?? [];
  return (
    Boolean(csr.status?.certificate) ||
    conditions.some((c) => ["Approved", "Denied", "Failed"].includes(c.type))
  );
}

function isApproved(csr: V1CertificateSigningRequest): boolean {
  const conditions = csr.status?.conditions ?? [];
  return conditions.some((c) => c.type === "Approved" && c.status === "True");
}

function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

// One short line: client-node's ApiException message spans lines and carries the whole response.
function message(err: unknown): string {
  const code = statusCode(err);
  const body = (err as { body?: { message?: unknown } } | null)?.body;
  let text: string;
  if (code !== undefined)
    text = `HTTP ${code}${typeof body?.message === "string" ? `: ${body.message}` : ""}`;
  else if (err instanceof Error) {
    // undici says only "fetch failed"; the cause says why (ECONNREFUSED, a TLS error…).
    const cause = err.cause instanceof Error ? err.cause.message : undefined;
    text = cause ? `${err.message} (${cause})` : err.message;
  } else text = String(err);
  text = text.replace(/\s+/g, " ").trim();
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
