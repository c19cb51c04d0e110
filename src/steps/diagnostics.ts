import * as core from "@actions/core";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import * as os from "node:os";
import { ContainerError, type ContainerCli } from "../container/cli.js";
import { errorMessage, PhaseError } from "../phase.js";

export interface DiagnosticsInput {
  clusterName: string;
  /** The node name, when creation got that far. */
  node?: string;
  kubeconfig?: string;
  kubeadmOutput?: string;
  error: unknown;
}

const SECTION_TIMEOUT_MS = 10_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>(
      (_, reject) => (t = setTimeout(() => reject(new Error(`no answer within ${ms / 1000}s`)), ms)),
    ),
  ]);
}

export function describeFailure(error: unknown): string {
  const lines: string[] = [];
  const phase = error instanceof PhaseError ? error.phase : "unknown";
  const cause = error instanceof PhaseError ? error.cause : error;
  lines.push(`failed step: ${phase}`, `error: ${errorMessage(cause)}`);
  if (cause instanceof ContainerError) {
    lines.push(
      `command: container ${cause.args.join(" ")}`,
      `exit code: ${cause.code}`,
      "stderr:",
      cause.stderr.trimEnd(),
    );
  }
  return lines.join("\n") + "\n";
}

async function apiSections(kubeconfig: string): Promise<Record<string, () => Promise<string>>> {
  const { CoreV1Api, CertificatesV1Api } = await import("@kubernetes/client-node");
  const { loadKubeConfig } = await import("../kube/client.js");
  const kc = loadKubeConfig(kubeconfig);
  const core1 = kc.makeApiClient(CoreV1Api);
  const certs = kc.makeApiClient(CertificatesV1Api);
  return {
    "nodes.txt": async () =>
      (await core1.listNode()).items
        .map(
          (n) =>
            `${n.metadata?.name}\t${(n.status?.conditions ?? []).map((c) => `${c.type}=${c.status} ${c.reason ?? ""}: ${c.message ?? ""}`).join("; ")}`,
        )
        .join("\n"),
    "pods.txt": async () =>
      (await core1.listPodForAllNamespaces()).items
        .map(
          (p) =>
            `${p.metadata?.namespace}/${p.metadata?.name}\t${p.status?.phase}\t${p.spec?.nodeName ?? ""}\t${p.status?.podIP ?? ""}`,
        )
        .join("\n"),
    "events.txt": async () =>
      (await core1.listEventForAllNamespaces()).items
        .slice(-200)
        .map(
          (e) =>
            `${e.lastTimestamp ?? e.eventTime ?? ""}\t${e.type}\t${e.involvedObject.kind}/${e.involvedObject.name}\t${e.reason}\t${e.message ?? ""}`,
        )
        .join("\n"),
    "csrs.txt": async () =>
      (await certs.listCertificateSigningRequest()).items
        .map(
          (c) =>
            `${c.metadata?.name}\t${c.spec.signerName}\t${c.spec.username ?? ""}\t${(c.status?.conditions ?? []).map((x) => `${x.type}: ${x.message ?? ""}`).join(", ") || "Pending"}`,
        )
        .join("\n"),
  };
}

/** Collects what explains a failed creation, prints it in a collapsed group and writes it to a folder. */
export async function collectDiagnostics(cli: ContainerCli, d: DiagnosticsInput): Promise<string> {
  const dir = path.join(process.env.RUNNER_TEMP || os.tmpdir(), "kina-diagnostics", d.clusterName);
  await fs.mkdir(dir, { recursive: true });
  const sections: Record<string, () => Promise<string>> = {
    "failure.txt": async () => describeFailure(d.error),
  };
  if (d.kubeadmOutput) sections["kubeadm-init.txt"] = async () => d.kubeadmOutput!;
  if (d.node) {
    const node = d.node;
    const out = async (args: string[]) => {
      const r = await cli.call(args, { allowFailure: true });
      return r.stdout + (r.code !== 0 ? `\n(exit ${r.code}) ${r.stderr}` : r.stderr);
    };
    sections["container-inspect.json"] = () => out(["inspect", node]);
    sections["container-boot.log"] = () => out(["logs", "--boot", node]);
    sections["container.log"] = () => out(["logs", node]);
    sections["kubelet.log"] = () =>
      out(["exec", node, "journalctl", "-u", "kubelet", "--no-pager", "-n", "300"]);
    sections["containerd.log"] = () =>
      out(["exec", node, "journalctl", "-u", "containerd", "--no-pager", "-n", "200"]);
  }
  if (d.kubeconfig) {
    try {
      Object.assign(sections, await apiSections(d.kubeconfig));
    } catch (err) {
      sections["api.txt"] = async () =>
        `API not reachable: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  const entries = await Promise.all(
    Object.entries(sections).map(async ([file, fn]) => {
      let text: string;
      try {
        text = await withTimeout(fn(), SECTION_TIMEOUT_MS);
      } catch (err) {
        text = `(could not collect: ${err instanceof Error ? err.message : String(err)})`;
      }
      await fs.writeFile(path.join(dir, file), text.endsWith("\n") ? text : text + "\n");
      return [file, text] as const;
    }),
  );
  await core.group(`Diagnostics (also in ${dir})`, async () => {
    for (const [file, text] of entries) core.info(`===== ${file} =====\n${text.trimEnd()}`);
  });
  return dir;
}
