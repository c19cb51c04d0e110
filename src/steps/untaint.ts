import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import { OTHER_BOUNDS } from "../bounds.js";
import { apiStatus, TimeoutError } from "../errors.js";
import { bounded } from "../kube/client.js";

const CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane";
const ATTEMPTS = 5;
const TIMEOUT_MS = OTHER_BOUNDS.untaint.seconds * 1000;

/**
 * Lets workloads schedule on the single node by removing the control-plane NoSchedule taint. Every
 * request and the whole step are bounded: an API server that accepts connections but never answers
 * would otherwise hold the job. Returns false when the taint was already gone.
 */
export async function untaintNode(
  kc: KubeConfig,
  nodeName: string,
  timeoutMs = TIMEOUT_MS,
): Promise<boolean> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    return await removeTaint(kc, nodeName, signal);
  } catch (err) {
    if (!signal.aborted) throw err;
    throw new TimeoutError(
      `removing the control-plane taint from ${nodeName}`,
      timeoutMs / 1000,
      "The API server accepts connections but does not answer: see the kube-apiserver and kubelet state in the diagnostics.",
      "did not finish",
    );
  }
}

async function removeTaint(kc: KubeConfig, nodeName: string, signal: AbortSignal): Promise<boolean> {
  const api = kc.makeApiClient(CoreV1Api);
  for (let attempt = 1; ; attempt++) {
    const node = await api.readNode({ name: nodeName }, await bounded(signal));
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
        setHeaderOptions("Content-Type", PatchStrategy.JsonPatch, await bounded(signal)),
      );
      return true;
    } catch (err) {
      const code = apiStatus(err)?.code;
      if (attempt >= ATTEMPTS || (code !== 409 && code !== 422)) throw err;
    }
  }
}
