import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import { apiStatus } from "../kube/errors.js";

const CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane";
const ATTEMPTS = 5;
const TIMEOUT_MS = 30_000;

/**
 * Lets workloads schedule on the single node by removing the control-plane NoSchedule taint; bounded,
 * since an API server that accepts connections but never answers would otherwise hold the job.
 */
export async function untaintNode(
  kc: KubeConfig,
  nodeName: string,
  timeoutMs = TIMEOUT_MS,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the API server did not answer within ${timeoutMs / 1000}s`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([removeTaint(kc, nodeName), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function removeTaint(kc: KubeConfig, nodeName: string): Promise<boolean> {
  const api = kc.makeApiClient(CoreV1Api);
  for (let attempt = 1; ; attempt++) {
    const node = await api.readNode({ name: nodeName });
    const index = (node.spec?.taints ?? []).findIndex((t) => t.key === CONTROL_PLANE_TAINT);
    if (index < 0) return false;
    try {
      // "test" makes the patch fail rather than remove another taint when the list changed meanwhile
      // (the node lifecycle controller drops node.kubernetes.io/not-ready as the node turns Ready); then
      // read again. Only the key is tested: client-node re-serialises timeAdded differently.
      await api.patchNode(
        {
          name: nodeName,
          body: [
            { op: "test", path: `/spec/taints/${index}/key`, value: CONTROL_PLANE_TAINT },
            { op: "remove", path: `/spec/taints/${index}` },
          ],
        },
        setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
      );
      return true;
    } catch (err) {
      const code = apiStatus(err)?.code;
      if (attempt >= ATTEMPTS || (code !== 409 && code !== 422)) throw err;
    }
  }
}
