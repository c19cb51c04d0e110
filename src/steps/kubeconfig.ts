import * as fs from "node:fs/promises";
import * as path from "node:path";
import * as os from "node:os";
import { buildHostKubeconfig } from "../builders/kubeconfig.js";
import type { ContainerCli } from "../container/cli.js";
import { registerSecret } from "../secrets.js";
import type { NodeVm } from "./node-vm.js";

export interface KubeconfigResult {
  path: string;
  server: string;
}

/** kubeadm's admin.conf is a few KiB; anything far larger is not one. */
const ADMIN_CONF_MAX_BYTES = 256 * 1024;

export function kubeconfigPath(clusterName: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.RUNNER_TEMP || os.tmpdir(), `${clusterName}.kubeconfig`);
}

/**
 * Reads the node's admin.conf (untrusted), builds the job's kubeconfig from its allowlisted fields
 * (builders/kubeconfig.ts; refused with UntrustedKubeconfigError otherwise, before anything is written),
 * masks the key material and writes the file with mode 0600.
 */
export async function writeKubeconfig(
  cli: ContainerCli,
  node: NodeVm,
  clusterName: string,
  file: string,
): Promise<KubeconfigResult> {
  const adminConf = await cli.readFile(node.name, "/etc/kubernetes/admin.conf", ADMIN_CONF_MAX_BYTES);
  const server = `https://127.0.0.1:${node.apiPort}`;
  const { yaml, secrets } = buildHostKubeconfig(adminConf, clusterName, server);
  for (const s of secrets) registerSecret(s);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, yaml, { mode: 0o600 });
  await fs.chmod(file, 0o600); // writeFile keeps the mode of an existing file
  return { path: file, server };
}
