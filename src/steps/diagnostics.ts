import * as core from "@actions/core";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import * as net from "node:net";
import * as os from "node:os";
import * as tls from "node:tls";
import type { ConfigurationOptions, RequestContext, ResponseContext } from "@kubernetes/client-node";
import { ContainerError, type ContainerCli } from "../container/cli.js";
import { errorMessage, PhaseError } from "../phase.js";

export interface DiagnosticsInput {
  clusterName: string;
  /** The node name, once main recorded it (the node may or may not exist). */
  node?: string;
  kubeconfig?: string;
  kubeadmOutput?: string;
  error: unknown;
  /** Bound on each section (default 10 s); sections are collected in parallel. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

const SECTION_TIMEOUT_MS = 10_000;
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

/** The chain of causes, outermost first. */
function causes(error: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = error; e !== undefined && out.length < 10; e = (e as { cause?: unknown }).cause) {
    out.push(e);
    if (!(e instanceof Error)) break;
  }
  return out;
}

const systemCode = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
};

/**
 * The one-line error for ::error::. `fetch failed` alone explains nothing: the socket error under it
 * (ECONNREFUSED, ECONNRESET, …) is appended.
 */
export function failureMessage(error: unknown): string {
  const msg = errorMessage(error);
  const low = causes(error)
    .slice(1)
    .findLast((e) => e instanceof Error && systemCode(e));
  if (!(low instanceof Error) || msg.includes(low.message)) return msg;
  return `${msg} (${systemCode(low)}: ${low.message})`;
}

export function describeFailure(error: unknown): string {
  const chain = causes(error);
  const phase = chain.find((e): e is PhaseError => e instanceof PhaseError);
  const cause = phase ? phase.cause : error;
  const lines = [`failed step: ${phase?.phase ?? "unknown"}`, `error: ${errorMessage(cause)}`];
  for (const e of causes(cause).slice(1)) {
    const code = systemCode(e);
    lines.push(`caused by: ${e instanceof Error ? e.message : String(e)}${code ? ` (${code})` : ""}`);
  }
  const failed = chain.find((e): e is ContainerError => e instanceof ContainerError);
  if (failed) {
    lines.push(
      `command: container ${failed.args.join(" ")}`,
      `exit code: ${failed.code}`,
      "stderr:",
      failed.stderr.trimEnd() || "(empty)",
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Files in the diagnostics folder are uploaded as artifacts, which the runner does not mask: credentials
 * in proxy URLs of the node's environment and kubeadm's join secrets are blanked.
 */
export function redact(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:"']+:[^\s/@"']+@/gi, "$1***:***@")
    .replace(/(--(?:token|certificate-key)[= ]+)[^\s\\]+/g, "$1***");
}

/**
 * Options that bind a client-node request to `signal`: the fetch is aborted and the request's own
 * dispatcher (client-node makes one per request) destroyed, closing its kept-alive socket. A socket
 * still in its TLS handshake survives both until undici's 10 s connect timeout: hence probeServer.
 */
async function abortable(signal: AbortSignal): Promise<ConfigurationOptions> {
  const { Observable } = await import("@kubernetes/client-node");
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          ctx.setSignal(signal);
          const dispatcher = ctx.getDispatcher() as { destroy?: () => Promise<void> } | undefined;
          const destroy = () => void dispatcher?.destroy?.().catch(() => undefined);
          if (signal.aborted) destroy();
          else signal.addEventListener("abort", destroy, { once: true });
          return new Observable(Promise.resolve(ctx));
        },
        post: (ctx: ResponseContext) => new Observable(Promise.resolve(ctx)),
      },
    ],
    middlewareMergeStrategy: "append",
  };
}

/**
 * Why the API server cannot be reached, or undefined when it completes a TLS handshake within `ms`. A
 * socket of our own can be closed mid-handshake; one of undici's lingers until its connect timeout.
 */
export function probeServer(server: string, ms: number): Promise<string | undefined> {
  const u = new URL(server);
  const secure = u.protocol === "https:";
  const port = Number(u.port || (secure ? 443 : 80));
  return new Promise((resolve) => {
    const sock = secure
      ? tls.connect({
          host: u.hostname,
          port,
          rejectUnauthorized: false,
          ...(net.isIP(u.hostname) ? {} : { servername: u.hostname }),
        })
      : net.connect({ host: u.hostname, port });
    const done = (why?: string) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(why);
    };
    const timer = setTimeout(
      () => done(`no ${secure ? "TLS handshake" : "connection"} within ${ms / 1000}s`),
      ms,
    );
    sock.once(secure ? "secureConnect" : "connect", () => done());
    sock.once("error", (e: NodeJS.ErrnoException) => done(e.code ? `${e.code}: ${e.message}` : e.message));
  });
}

async function apiSections(kubeconfig: string, ms: number): Promise<Record<string, Section>> {
  const { CoreV1Api, CertificatesV1Api } = await import("@kubernetes/client-node");
  const { loadKubeConfig } = await import("../kube/client.js");
  const kc = loadKubeConfig(kubeconfig);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error("no server in the kubeconfig");
  // Within the sections' own bound, so an unreachable server is reported as such. A live API server on
  // the VM network completes a handshake in milliseconds.
  const probe = probeServer(server, Math.min(PROBE_TIMEOUT_MS, Math.max(ms - 1000, ms / 2)));
  const reached = async () => {
    const why = await probe;
    if (why) throw new Error(`API server ${server} not reachable: ${why}`);
  };
  const core1 = kc.makeApiClient(CoreV1Api);
  const certs = kc.makeApiClient(CertificatesV1Api);
  const conditions = (cs: Array<{ type: string; status: string; reason?: string; message?: string }> = []) =>
    cs.map((c) => `${c.type}=${c.status} ${c.reason ?? ""}: ${c.message ?? ""}`).join("; ");
  const when = (e: { lastTimestamp?: Date; eventTime?: Date; metadata?: { creationTimestamp?: Date } }) =>
    new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0);
  const sections: Record<string, Section> = {
    "nodes.txt": async (s) =>
      (await core1.listNode({}, await abortable(s))).items
        .map((n) => `${n.metadata?.name}\t${conditions(n.status?.conditions)}`)
        .join("\n") || "(no nodes)",
    "pods.txt": async (s) =>
      (await core1.listPodForAllNamespaces({}, await abortable(s))).items
        .map(
          (p) =>
            `${p.metadata?.namespace}/${p.metadata?.name}\t${p.status?.phase}\t${p.spec?.nodeName ?? ""}\t${p.status?.podIP ?? ""}\t${conditions(p.status?.conditions)}`,
        )
        .join("\n") || "(no pods)",
    "events.txt": async (s) =>
      (await core1.listEventForAllNamespaces({}, await abortable(s))).items
        .sort((a, b) => when(a).getTime() - when(b).getTime())
        .slice(-200)
        .map(
          (e) =>
            `${when(e).toISOString()}\t${e.type}\t${e.involvedObject.kind}/${e.involvedObject.name}\t${e.reason}\t${e.message ?? ""}`,
        )
        .join("\n") || "(no events)",
    "csrs.txt": async (s) =>
      (await certs.listCertificateSigningRequest({}, await abortable(s))).items
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
  const sections: Record<string, Section> = {
    "failure.txt": async () => describeFailure(d.error),
  };
  if (d.kubeadmOutput) sections["kubeadm-init.txt"] = async () => d.kubeadmOutput!;
  if (d.node) {
    const node = d.node;
    // Killed when the section times out; the call's own bound only backs that up.
    const out = (args: string[]) => async (signal: AbortSignal) => {
      const r = await cli.callWithin(args, ms + 1000, { signal });
      return r.stdout + (r.code !== 0 ? `\n(exit ${r.code}) ${r.stderr}` : r.stderr);
    };
    sections["containers.txt"] = out(["list", "--all"]);
    sections["container-inspect.json"] = out(["inspect", node]);
    sections["container-boot.log"] = out(["logs", "--boot", node]);
    sections["container.log"] = out(["logs", "-n", "300", node]);
    sections["kubelet.log"] = out(["exec", node, "journalctl", "-u", "kubelet", "--no-pager", "-n", "300"]);
    sections["containerd.log"] = out([
      "exec",
      node,
      "journalctl",
      "-u",
      "containerd",
      "--no-pager",
      "-n",
      "200",
    ]);
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
