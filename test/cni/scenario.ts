// Pods attached to one lab with one conflist: the first pod publishes HOST_PORT → HTTP_PORT.
import {
  addNetworkList,
  delNetworkList,
  type Attachment,
  type DriverOptions,
  type NetworkConfigList,
} from "./cni-driver.ts";
import { CNI_BIN_DIR, type Lab } from "./netns-lab.ts";
import { HOST_PORT, HTTP_PORT, startServers, type PodUnderTest } from "./ptp-checks.ts";

export interface Scenario {
  lab: Lab;
  list: NetworkConfigList;
  driver: DriverOptions;
  pods: PodUnderTest[];
  /** ADD failures by pod name. */
  addErrors: Map<string, Error>;
}

function attachment(pod: Lab["pods"][number], index: number): Attachment {
  return {
    containerId: pod.containerId,
    netnsPath: pod.netnsPath,
    ifName: "eth0",
    runtimeConfig:
      index === 0
        ? { portMappings: [{ hostPort: HOST_PORT, containerPort: HTTP_PORT, protocol: "tcp" as const }] }
        : {},
  };
}

export async function attachAll(
  lab: Lab,
  list: NetworkConfigList,
  faults: Pick<DriverOptions, "withholdPrevResultFrom"> = {},
): Promise<Scenario> {
  const driver: DriverOptions = {
    nodeNs: lab.nodeNs,
    binDir: CNI_BIN_DIR,
    ipamDataDir: lab.ipamDataDir,
    ...faults,
  };
  const addErrors = new Map<string, Error>();
  // Like a kubelet starting pods, ADDs run concurrently; host-local serialises on its lock.
  const pods = await Promise.all(
    lab.pods.map(async (p, i): Promise<PodUnderTest> => {
      const base = { name: p.name, ns: p.ns, containerId: p.containerId };
      try {
        return { ...base, result: await addNetworkList(list, attachment(p, i), driver) };
      } catch (e) {
        addErrors.set(p.name, e as Error);
        return base;
      }
    }),
  );
  return { lab, list, driver, pods, addErrors };
}

export async function detachAll(s: Scenario): Promise<void> {
  await Promise.all(
    s.lab.pods.map((p, i) => delNetworkList(s.list, attachment(p, i), s.pods[i]?.result, s.driver)),
  );
}

/**
 * attachAll with the HTTP agents starting alongside the ADDs. The ADDs are awaited even when an agent
 * fails, so the caller can still DEL what was attached.
 */
export async function attachWithServers(
  lab: Lab,
  list: NetworkConfigList,
  faults: Pick<DriverOptions, "withholdPrevResultFrom"> = {},
): Promise<Scenario> {
  const [attached, servers] = await Promise.allSettled([
    attachAll(lab, list, faults),
    startServers(lab, lab.pods),
  ]);
  if (attached.status === "rejected") throw attached.reason;
  if (servers.status === "rejected") {
    await detachAll(attached.value).catch(() => {});
    throw servers.reason;
  }
  return attached.value;
}
