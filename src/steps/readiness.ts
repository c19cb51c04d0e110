import * as core from "@actions/core";
import {
  Health,
  type KubeConfig,
  type V1CertificateSigningRequest,
  type V1Deployment,
  type V1Node,
  type V1ServiceAccount,
} from "@kubernetes/client-node";
import { Backoff, sleep } from "../backoff.js";
import { REQUEST_TIMEOUT_MS } from "../kube/client.js";
import { watchUntil } from "../kube/watch-until.js";

export interface ReadinessOptions {
  /** Every node of the cluster, control plane first. */
  nodeNames: string[];
  /** Absolute deadline (Date.now() scale) shared by every stage. */
  deadline: number;
  /** Wait for the kubelet's serving certificate (only when something approves it). */
  servingCertificate: boolean;
}

interface Stage {
  name: string;
  last: string;
  run: (signal: AbortSignal) => Promise<unknown>;
}

function condition(
  obj: {
    status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
  },
  type: string,
) {
  return obj.status?.conditions?.find((c) => c.type === type);
}

function clusterStages(kc: KubeConfig, o: ReadinessOptions): Stage[] {
  const one = o.nodeNames.length === 1;
  const ready = new Map<string, string>(o.nodeNames.map((n) => [n, "no Node object seen"]));
  const notReady = () =>
    [...ready].filter(([, s]) => s !== "Ready=True").map(([n, s]) => (one ? s : `${n}: ${s}`));
  const node: Stage = {
    name: one ? "node Ready" : "nodes Ready",
    last: notReady().join(", "),
    run: (s) =>
      watchUntil<V1Node>(kc, {
        path: "/api/v1/nodes",
        // One node: only its object; several: every Node, each counted once it is Ready.
        query: one ? { fieldSelector: `metadata.name=${o.nodeNames[0]}` } : {},
        signal: s,
        observe: (n) => {
          const name = n.metadata?.name ?? "";
          if (!ready.has(name)) return;
          const c = condition(n, "Ready");
          ready.set(
            name,
            c?.status === "True"
              ? "Ready=True"
              : c
                ? `Ready=${c.status} (${c.reason ?? ""}: ${c.message ?? ""})`
                : "no Ready condition",
          );
          node.last = notReady().join(", ");
        },
        done: () => notReady().length === 0,
      }),
  };
  const coredns: Stage = {
    name: "CoreDNS available",
    last: "no coredns Deployment seen",
    run: (s) =>
      watchUntil<V1Deployment>(kc, {
        path: "/apis/apps/v1/namespaces/kube-system/deployments",
        query: { fieldSelector: "metadata.name=coredns" },
        signal: s,
        observe: (d) => {
          coredns.last = `${d.status?.availableReplicas ?? 0}/${d.spec?.replicas ?? "?"} replicas available`;
        },
        done: (d) => (d.status?.availableReplicas ?? 0) >= 1,
      }),
  };
  const sa: Stage = {
    name: "default ServiceAccount",
    last: "not created yet",
    run: (s) =>
      watchUntil<V1ServiceAccount>(kc, {
        path: "/api/v1/namespaces/default/serviceaccounts",
        query: { fieldSelector: "metadata.name=default" },
        signal: s,
        done: () => true,
      }),
  };
  const requesters = new Map(o.nodeNames.map((n) => [`system:node:${n}`, n]));
  const issued = new Set<string>();
  const certLast = new Map<string, string>();
  const missing = () => o.nodeNames.filter((n) => !issued.has(n));
  const cert: Stage = {
    name: one ? "kubelet serving certificate issued" : "kubelet serving certificates issued",
    last: "no kubelet-serving CSR from the node seen",
    run: (s) =>
      watchUntil<V1CertificateSigningRequest>(kc, {
        path: "/apis/certificates.k8s.io/v1/certificatesigningrequests",
        signal: s,
        observe: (c) => {
          const n = requesters.get(c.spec.username ?? "");
          if (c.spec.signerName !== "kubernetes.io/kubelet-serving" || !n) return;
          const conds = (c.status?.conditions ?? []).map((x) => x.type).join(",") || "Pending";
          if (c.status?.certificate) issued.add(n);
          certLast.set(
            n,
            `CSR ${c.metadata?.name}: ${conds}${c.status?.certificate ? ", certificate issued" : ""}`,
          );
          cert.last = missing()
            .map((m) => {
              const l = certLast.get(m) ?? "no kubelet-serving CSR from the node seen";
              return one ? l : `${m}: ${l}`;
            })
            .join("; ");
        },
        done: () => missing().length === 0,
      }),
  };
  return [node, coredns, sa, ...(o.servingCertificate ? [cert] : [])];
}

/**
 * Waits until the cluster is usable, in stages sharing one budget: the API answers /readyz, then —
 * observed in parallel — every node is Ready, CoreDNS is available, the default ServiceAccount exists and
 * each node's kubelet serving certificate is issued. A timeout names what was not ready (with workers,
 * the nodes that were not). Returns each stage's time in seconds.
 */
export async function waitReady(kc: KubeConfig, o: ReadinessOptions): Promise<Record<string, number>> {
  const controller = new AbortController();
  const remaining = o.deadline - Date.now();
  const timer = setTimeout(() => controller.abort(new Error("budget")), Math.max(remaining, 0));
  const t0 = performance.now();
  const times: Record<string, number> = {};
  const done = (name: string) => {
    times[name] = Math.round(performance.now() - t0) / 1000;
    core.info(`${name} after ${times[name]}s`);
  };
  const api: Stage = {
    name: "API server ready (/readyz)",
    last: "no answer yet",
    run: async (signal) => {
      const health = new Health(kc);
      const backoff = new Backoff({ minMs: 50, maxMs: 500 });
      for (;;) {
        try {
          const request = AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
          if (await health.readyz({ signal: request })) return;
          api.last = "/readyz answered not ready";
        } catch (err) {
          if (signal.aborted) throw err;
          const cause = (err as { cause?: { message?: string; code?: string } }).cause;
          api.last = cause?.code ?? cause?.message ?? String(err);
        }
        await sleep(backoff.next(), signal);
      }
    },
  };
  const pending = new Set<Stage>();
  const track = async (s: Stage) => {
    pending.add(s);
    await s.run(controller.signal);
    pending.delete(s);
    done(s.name);
  };
  try {
    await track(api);
    await Promise.all(clusterStages(kc, o).map(track));
    return times;
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    const budget = Math.round(remaining / 1000);
    const lines = [...pending].map((s) => `${s.name} (last observed: ${s.last})`);
    throw new Error(`not ready within the wait budget (${budget}s): ${lines.join("; ")}`, { cause: err });
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}
