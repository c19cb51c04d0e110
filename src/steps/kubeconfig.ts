import * as core from "@actions/core";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import * as os from "node:os";
import { parse, stringify } from "yaml";
import type { ContainerCli } from "../container/cli.js";
import type { NodeVm } from "./node-vm.js";

export interface KubeconfigResult {
  path: string;
  server: string;
}

interface Named<T> {
  name: string;
  [key: string]: unknown;
  value?: T;
}

/**
 * Turns kubeadm's admin.conf into the job's kubeconfig: one cluster, user and context named after the
 * cluster, the server at the API port published on 127.0.0.1 (covered by the certSANs).
 */
export function rewriteAdminConf(
  adminConf: string,
  clusterName: string,
  server: string,
): { yaml: string; secrets: string[] } {
  const doc = parse(adminConf) as Record<string, unknown>;
  const clusters = (doc.clusters ?? []) as Array<Named<unknown> & { cluster: Record<string, unknown> }>;
  const users = (doc.users ?? []) as Array<Named<unknown> & { user: Record<string, unknown> }>;
  const cluster = clusters[0]?.cluster;
  const user = users[0]?.user;
  if (!cluster || !user) throw new Error("admin.conf has no cluster or user");
  const secrets: string[] = [];
  for (const key of ["client-key-data", "client-certificate-data", "token", "password"]) {
    const v = user[key];
    if (typeof v !== "string" || !v) continue;
    secrets.push(v);
    if (key.endsWith("-data")) {
      // Mask the decoded PEM too, line by line, should anything ever print it.
      for (const line of Buffer.from(v, "base64").toString().split("\n")) {
        if (line && !line.startsWith("-----")) secrets.push(line);
      }
    }
  }
  const userName = `${clusterName}-admin`;
  const out = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: clusterName, cluster: { ...cluster, server } }],
    users: [{ name: userName, user }],
    contexts: [{ name: clusterName, context: { cluster: clusterName, user: userName } }],
    "current-context": clusterName,
    preferences: {},
  };
  return { yaml: stringify(out), secrets };
}

export function kubeconfigPath(clusterName: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.RUNNER_TEMP || os.tmpdir(), `${clusterName}.kubeconfig`);
}

export async function writeKubeconfig(
  cli: ContainerCli,
  node: NodeVm,
  clusterName: string,
  file: string,
): Promise<KubeconfigResult> {
  const adminConf = await cli.readFile(node.name, "/etc/kubernetes/admin.conf");
  const server = `https://127.0.0.1:${node.apiPort}`;
  const { yaml, secrets } = rewriteAdminConf(adminConf, clusterName, server);
  for (const s of secrets) core.setSecret(s);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, yaml, { mode: 0o600 });
  await fs.chmod(file, 0o600); // writeFile keeps the mode of an existing file
  return { path: file, server };
}
