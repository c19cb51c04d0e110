import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";

const CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane";

/** Lets workloads schedule on the single node by removing the control-plane NoSchedule taint. */
export async function untaintNode(kc: KubeConfig, nodeName: string): Promise<boolean> {
  const api = kc.makeApiClient(CoreV1Api);
  const node = await api.readNode({ name: nodeName });
  const taints = node.spec?.taints ?? [];
  const kept = taints.filter((t) => t.key !== CONTROL_PLANE_TAINT);
  if (kept.length === taints.length) return false;
  // "test" makes the patch fail instead of dropping a taint someone added meanwhile.
  await api.patchNode(
    {
      name: nodeName,
      body: [
        { op: "test", path: "/spec/taints", value: taints },
        { op: "replace", path: "/spec/taints", value: kept },
      ],
    },
    setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
  );
  return true;
}
