import * as core from "@actions/core";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import * as os from "node:os";
import { OTHER_BOUNDS } from "../bounds.js";
import type { ContainerCli } from "../container/cli.js";
import { describeFailure, errorMessage } from "../errors.js";
import { bounded as boundedRequest, probeServer } from "../kube/client.js";
import { redact } from "../secrets.js";

export interface DiagnosticsInput {
  clusterName: string;
  /** The node name, once main recorded it (the node may or may not exist). */
  node?: string;
  /** Worker nodes recorded so far: each gets the control plane's per-node sections, and its network. */
  workers?: string[];
  kubeconfig?: string;
  kubeadmOutput?: string;
  error: unknown;
  /** Bound on each section (default 10 s); sections are collected in parallel. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

const SECTION_TIMEOUT_MS = OTHER_BOUNDS.diagnosticsSection.seconds * 1000;
const PROBE_TIMEOUT_MS = 5_000;

type Section = (signal: AbortSignal) => Promise<string>;

/** Runs a section; on timeout aborts it, so no request or process outlives the step. */
async function bounded(fn: Section, ms: number): Promise<string> {
  const ac = new AbortController();
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn(ac.signal),
      new Promise<never>((_, reject) => {
        t = setTimeout(() => reject(new Error(`no answer within ${ms / 1000}s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(t);
    ac.abort();
  }
}

async function apiSections(kubeconfig: string, ms: number): Promise<Record<string, Section>> {
  const { CoreV1Api, CertificatesV1Api } = await import("@kubernetes/client-node");
  const { loadKubeConfig } = await import("../kube/client.js");
  const kc = await loadKubeConfig(kubeconfig);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error("no server in the kubeconfig");
  // Within the sections' own bound, so an unreachable server is reported as such. A live API server on
  // the VM network completes a handshake in milliseconds.
  const probe = probeServer(server, Math.min(PROBE_TIMEOUT_MS, Math.max(ms - 1000, ms / 2)));
  const reached = async () => {
    const why = await probe;
    if (why)
      throw new Error(
        `API server ${server} not reachable: ${why.code === "TIMEOUT" ? why.message : `${why.code}: ${why.message}`}`,
      );
  };
  const core1 = kc.makeApiClient(CoreV1Api);
  const certs = kc.makeApiClient(CertificatesV1Api);
  const conditions = (cs: Array<{ type: string; status: string; reason?: string; message?: string }> = []) =>
    cs.map((c) => `${c.type}=${c.status} ${c.reason ?? ""}: ${c.message ?? ""}`).join("; ");
  const when = (e: { lastTimestamp?: Date; eventTime?: Date; metadata?: { creationTimestamp?: Date } }) =>
    new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0);
  const sections: Record<string, Section> = {
    "nodes.txt": async (s) =>
      (await core1.listNode({}, await boundedRequest(s))).items
        .map((n) => `${n.metadata?.name}\t${n.spec?.podCIDR ?? ""}\t${conditions(n.status?.conditions)}`)
        .join("\n") || "(no nodes)",
    "pods.txt": async (s) =>
      (await core1.listPodForAllNamespaces({}, await boundedRequest(s))).items
        .map(
          (p) =>
            `${p.metadata?.namespace}/${p.metadata?.name}\t${p.status?.phase}\t${p.spec?.nodeName ?? ""}\t${p.status?.podIP ?? ""}\t${conditions(p.status?.conditions)}`,
        )
        .join("\n") || "(no pods)",
    "events.txt": async (s) =>
      (await core1.listEventForAllNamespaces({}, await boundedRequest(s))).items
        .sort((a, b) => when(a).getTime() - when(b).getTime())
        .slice(-200)
        .map(
          (e) =>
            `${when(e).toISOString()}\t${e.type}\t${e.involvedObject.kind}/${e.involvedObject.name}\t${e.reason}\t${e.message ?? ""}`,
        )
        .join("\n") || "(no events)",
    "csrs.txt": async (s) =>
      (await certs.listCertificateSigningRequest({}, await boundedRequest(s))).items
        .map(
          (c) =>
            `${c.metadata?.name}\t${c.spec.signerName}\t${c.spec.username ?? ""}\t${(c.status?.conditions ?? []).map((x) => `${x.type}: ${x.message ?? ""}`).join(", ") || "Pending"}${c.status?.certificate ? "\tissued" : ""}`,
        )
        .join("\n") || "(no CSRs)",
  };
  return Object.fromEntries(
    Object.entries(sections).map(([file, fn]) => [
      file,
      async (s: AbortSignal) => {
        await reached();
        return fn(s);
      },
    ]),
  );
}

/**
 * Collects what explains a failed creation, in parallel and each part bounded in time: the failure
 * itself, the kubeadm output, the node's boot log and journals, and what the API says when it answers.
 * Prints it in a collapsed group and writes it to $RUNNER_TEMP/kina-diagnostics/<cluster>/.
 */
export async function collectDiagnostics(cli: ContainerCli, d: DiagnosticsInput): Promise<string> {
  const start = performance.now();
  const env = d.env ?? process.env;
  const ms = d.timeoutMs ?? SECTION_TIMEOUT_MS;
  const dir = path.join(env.RUNNER_TEMP || os.tmpdir(), "kina-diagnostics", d.clusterName);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  for (const w of d.workers ?? []) await fs.mkdir(path.join(dir, w), { recursive: true });
  const sections: Record<string, Section> = {
    "failure.txt": async () => describeFailure(d.error),
  };
  if (d.kubeadmOutput) sections["kubeadm-init.txt"] = async () => d.kubeadmOutput!;
  if (d.node) {
    const node = d.node;
    // Each call is killed when its section times out; the adapter's own bound only backs that up.
    sections["containers.txt"] = (signal) => cli.listText(signal);
    sections["container-inspect.json"] = (signal) => cli.inspectText(node, signal);
    sections["container-boot.log"] = (signal) => cli.logs(node, { boot: true, signal });
    sections["container.log"] = (signal) => cli.logs(node, { lines: 300, signal });
    sections["kubelet.log"] = (signal) => cli.journal(node, "kubelet", 300, signal);
    sections["containerd.log"] = (signal) => cli.journal(node, "containerd", 200, signal);
  }
  const network =
    (node: string): Section =>
    async (signal) => {
      const r = await cli.exec(node, ["sh", "-c", "ip route; echo; iptables-save -t nat"], {
        allowFailure: true,
        signal,
      });
      return r.stdout + (r.code !== 0 ? `\n(exit ${r.code}) ${r.stderr}` : r.stderr);
    };
  if (d.workers?.length && d.node) sections["network.txt"] = network(d.node);
  for (const w of d.workers ?? []) {
    sections[`${w}/container-inspect.json`] = (signal) => cli.inspectText(w, signal);
    sections[`${w}/container-boot.log`] = (signal) => cli.logs(w, { boot: true, signal });
    sections[`${w}/kubelet.log`] = (signal) => cli.journal(w, "kubelet", 300, signal);
    sections[`${w}/containerd.log`] = (signal) => cli.journal(w, "containerd", 200, signal);
    sections[`${w}/network.txt`] = network(w);
  }
  if (d.kubeconfig) {
    try {
      Object.assign(sections, await apiSections(d.kubeconfig, ms));
    } catch (err) {
      sections["api.txt"] = async () => `could not use ${d.kubeconfig}: ${errorMessage(err)}`;
    }
  }
  const entries = await Promise.all(
    Object.entries(sections).map(async ([file, fn]) => {
      let text: string;
      try {
        text = await bounded(fn, ms);
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        text = `(could not collect: ${errorMessage(err)}${cause?.code || cause?.message ? ` (${cause.code ?? cause.message})` : ""})`;
      }
      text = redact(text);
      await fs.writeFile(path.join(dir, file), text.endsWith("\n") ? text : text + "\n");
      return [file, text] as const;
    }),
  );
  const seconds = ((performance.now() - start) / 1000).toFixed(2);
  await core.group(`Diagnostics (also in ${dir})`, async () => {
    for (const [file, text] of entries) core.info(`===== ${file} =====\n${text.trimEnd()}`);
    core.info(`Diagnostics collected in ${seconds}s`);
  });
  return dir;
}
