// What a single-node cluster holds right after `kubeadm init`, and the state changes the kubelet,
// the node lifecycle controller, the token controller and CoreDNS make afterwards.
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects here are untyped JSON */
import { randomBytes } from "node:crypto";
import { type Store, timestamp } from "./store.ts";

export interface ClusterFacts {
  nodeName: string;
  nodeIP: string;
  kubernetesVersion: string;
  /** The node's spec.podCIDR; undefined while (or when) the controller-manager allocates none. */
  podCIDR?: string;
}

export const CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane";
export const NOT_READY_TAINT = "node.kubernetes.io/not-ready";
export const CNI_NOT_READY =
  "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady " +
  "message:Network plugin returns error: cni plugin not initialized";
const COREDNS_RS = "coredns-674b8bbfcf";

const cond = (type: string, status: string, reason: string, message: string, heartbeat = false) => ({
  type,
  status,
  ...(heartbeat ? { lastHeartbeatTime: timestamp() } : {}),
  lastTransitionTime: timestamp(),
  reason,
  message,
});

function runningContainer(name: string, image: string) {
  return {
    name,
    image,
    imageID: "",
    containerID: `containerd://${randomBytes(32).toString("hex")}`,
    ready: true,
    started: true,
    restartCount: 0,
    state: { running: { startedAt: timestamp() } },
  };
}

function staticPod(f: ClusterFacts, component: string, image: string): any {
  return {
    metadata: {
      name: `${component}-${f.nodeName}`,
      namespace: "kube-system",
      labels: { component, tier: "control-plane" },
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name: f.nodeName, controller: true }],
    },
    spec: {
      nodeName: f.nodeName,
      hostNetwork: true,
      priorityClassName: "system-node-critical",
      containers: [{ name: component, image }],
    },
    status: {
      phase: "Running",
      hostIP: f.nodeIP,
      podIP: f.nodeIP,
      podIPs: [{ ip: f.nodeIP }],
      startTime: timestamp(),
      qosClass: "Burstable",
      conditions: [cond("Ready", "True", "", ""), cond("PodScheduled", "True", "", "")],
      containerStatuses: [runningContainer(component, image)],
    },
  };
}

function corednsPod(): any {
  return {
    metadata: {
      generateName: `${COREDNS_RS}-`,
      namespace: "kube-system",
      labels: { "k8s-app": "kube-dns", "pod-template-hash": COREDNS_RS.slice(8) },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: COREDNS_RS, controller: true }],
    },
    spec: {
      serviceAccountName: "coredns",
      priorityClassName: "system-cluster-critical",
      containers: [{ name: "coredns", image: "registry.k8s.io/coredns/coredns:v1.12.1" }],
      tolerations: [
        { key: "CriticalAddonsOnly", operator: "Exists" },
        { key: CONTROL_PLANE_TAINT, effect: "NoSchedule" },
      ],
    },
    status: {
      phase: "Pending",
      qosClass: "Burstable",
      conditions: [
        cond(
          "PodScheduled",
          "False",
          "Unschedulable",
          `0/1 nodes are available: 1 node(s) had untolerated taint {${NOT_READY_TAINT}: }. ` +
            "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
        ),
      ],
    },
  };
}

/** The n-th address of the node's podCIDR, where its ptp network puts pods (10.244.0.x without one). */
function podAddress(podCIDR: string | undefined, n: number): string {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\//.exec(podCIDR ?? "");
  if (!m) return `10.244.0.${n}`;
  const v = m.slice(1, 5).reduce((acc, o) => acc * 256 + Number(o), 0) + n;
  return [24, 16, 8, 0].map((s) => Math.floor(v / 2 ** s) % 256).join(".");
}

/** Records a core/v1 Event about `obj`. */
export function recordEvent(
  store: Store,
  obj: any,
  type: string,
  reason: string,
  message: string,
  component: string,
) {
  const namespace = obj.metadata.namespace ?? "default";
  store.create("events", {
    metadata: { name: `${obj.metadata.name}.${randomBytes(8).toString("hex")}`, namespace },
    involvedObject: {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
    },
    reason,
    message,
    type,
    source: { component },
    reportingComponent: component,
    firstTimestamp: timestamp(),
    lastTimestamp: timestamp(),
    count: 1,
  });
}

/** A Node as its kubelet registers it (kubeadm labels and taints a control plane). */
function nodeObject(f: ClusterFacts, role: "control-plane" | "worker"): any {
  return {
    metadata: {
      name: f.nodeName,
      labels: {
        "beta.kubernetes.io/arch": "arm64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "arm64",
        "kubernetes.io/hostname": f.nodeName,
        "kubernetes.io/os": "linux",
        ...(role === "control-plane"
          ? { [CONTROL_PLANE_TAINT]: "", "node.kubernetes.io/exclude-from-external-load-balancers": "" }
          : {}),
      },
      annotations: {
        "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
      },
    },
    spec: {
      ...(f.podCIDR ? { podCIDR: f.podCIDR, podCIDRs: [f.podCIDR] } : {}),
      taints: [
        ...(role === "control-plane" ? [{ key: CONTROL_PLANE_TAINT, effect: "NoSchedule" }] : []),
        { key: NOT_READY_TAINT, effect: "NoSchedule" },
      ],
    },
    status: {
      addresses: [
        { type: "InternalIP", address: f.nodeIP },
        { type: "Hostname", address: f.nodeName },
      ],
      capacity: { cpu: "4", memory: "8129880Ki", pods: "110", "ephemeral-storage": "61202244Ki" },
      allocatable: { cpu: "4", memory: "8129880Ki", pods: "110", "ephemeral-storage": "61202244Ki" },
      conditions: [
        cond(
          "MemoryPressure",
          "False",
          "KubeletHasSufficientMemory",
          "kubelet has sufficient memory available",
          true,
        ),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", true),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", true),
        cond("Ready", "False", "KubeletNotReady", CNI_NOT_READY, true),
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: "arm64",
        operatingSystem: "linux",
        osImage: "Debian GNU/Linux 12 (bookworm)",
        kernelVersion: "6.12.28",
        containerRuntimeVersion: "containerd://2.1.1",
        kubeletVersion: f.kubernetesVersion,
        kubeProxyVersion: f.kubernetesVersion,
      },
    },
  };
}

function kubeProxyPod(f: ClusterFacts): any {
  const proxy = staticPod(f, "kube-proxy", `registry.k8s.io/kube-proxy:${f.kubernetesVersion}`);
  proxy.metadata = {
    generateName: "kube-proxy-",
    namespace: "kube-system",
    labels: { "k8s-app": "kube-proxy" },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "DaemonSet", name: "kube-proxy", controller: true }],
  };
  return proxy;
}

/** The Node a kubelet registers, with the events of its start and of the node controller. */
function registerNodeObjects(store: Store, f: ClusterFacts, role: "control-plane" | "worker"): any {
  const node = store.create("nodes", nodeObject(f, role));
  for (const [reason, message] of [
    ["Starting", "Starting kubelet."],
    ["NodeHasSufficientMemory", `Node ${f.nodeName} status is now: NodeHasSufficientMemory`],
    ["NodeHasNoDiskPressure", `Node ${f.nodeName} status is now: NodeHasNoDiskPressure`],
    ["NodeHasSufficientPID", `Node ${f.nodeName} status is now: NodeHasSufficientPID`],
    ["NodeAllocatableEnforced", "Updated Node Allocatable limit across pods"],
  ] as const) {
    recordEvent(store, node, "Normal", reason, message, "kubelet");
  }
  recordEvent(
    store,
    node,
    "Normal",
    "RegisteredNode",
    `Node ${f.nodeName} event: Registered Node ${f.nodeName} in Controller`,
    "node-controller",
  );
  return node;
}

/**
 * What `kubeadm join` leaves for a worker: its Node (NotReady, no podCIDR until the controller-manager
 * allocates one) and the kube-proxy DaemonSet's pod on it.
 */
export function registerWorker(store: Store, f: ClusterFacts): void {
  registerNodeObjects(store, { ...f, podCIDR: undefined }, "worker");
  store.create("pods", kubeProxyPod(f));
  store.update("daemonsets", "kube-system", "kube-proxy", (d) => {
    const n = (d.status?.desiredNumberScheduled ?? 0) + 1;
    d.status = { desiredNumberScheduled: n, currentNumberScheduled: n, numberReady: n, numberAvailable: n };
  });
}

/** The controller-manager's range allocator gives the node its podCIDR, or records that none is left. */
export function assignPodCidr(store: Store, nodeName: string, podCIDR: string | undefined): void {
  if (podCIDR === undefined) {
    const node = store.get("nodes", undefined, nodeName);
    if (node)
      recordEvent(
        store,
        node,
        "Normal",
        "CIDRNotAvailable",
        `Node ${nodeName} status is now: CIDRNotAvailable`,
        "cidrAllocator",
      );
    return;
  }
  store.update("nodes", undefined, nodeName, (n) => {
    n.spec.podCIDR = podCIDR;
    n.spec.podCIDRs = [podCIDR];
  });
}

/**
 * kube-controller-manager's range allocator (pkg/controller/nodeipam/ipam/cidrset): `--cluster-cidr`
 * cut into /`maskSize` subnets, handed out lowest free first. Written here independently of the
 * product's builders/node-cidrs.ts, so the two check each other.
 */
export class PodCidrAllocator {
  private readonly base: number;
  private readonly size: number;
  private readonly count: number;
  private readonly used = new Set<number>();
  readonly maskSize: number;

  /** Throws what kube-controller-manager says when the flags do not fit. */
  constructor(clusterCidr: string, maskSize: number) {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(clusterCidr);
    const prefix = Number(m?.[5]);
    if (!m || prefix > 32) throw new Error(`invalid --cluster-cidr "${clusterCidr}"`);
    if (!Number.isInteger(maskSize) || maskSize < prefix || maskSize > 32) {
      throw new Error(
        "Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less than or equal to --node-cidr-mask-size configured for CIDR family",
      );
    }
    this.base = m.slice(1, 5).reduce((acc, o) => acc * 256 + Number(o), 0);
    this.maskSize = maskSize;
    this.size = 2 ** (32 - maskSize);
    this.count = 2 ** (maskSize - prefix);
  }

  next(): string | undefined {
    for (let i = 0; i < this.count; i++) {
      if (this.used.has(i)) continue;
      this.used.add(i);
      const n = this.base + i * this.size;
      return `${[24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".")}/${this.maskSize}`;
    }
    return undefined;
  }
}

export function seedCluster(store: Store, f: ClusterFacts, caPem: string): void {
  for (const name of ["default", "kube-node-lease", "kube-public", "kube-system"]) {
    store.create("namespaces", {
      metadata: { name, labels: { "kubernetes.io/metadata.name": name } },
      spec: { finalizers: ["kubernetes"] },
      status: { phase: "Active" },
    });
    store.create("configmaps", {
      metadata: { name: "kube-root-ca.crt", namespace: name },
      data: { "ca.crt": caPem },
    });
  }
  registerNodeObjects(store, f, "control-plane");
  const v = f.kubernetesVersion;
  store.create("pods", staticPod(f, "etcd", "registry.k8s.io/etcd:3.6.5-0"));
  for (const c of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
    store.create("pods", staticPod(f, c, `registry.k8s.io/${c}:${v}`));
  }
  store.create("pods", kubeProxyPod(f));
  store.create("daemonsets", {
    metadata: { name: "kube-proxy", namespace: "kube-system", labels: { "k8s-app": "kube-proxy" } },
    spec: { selector: { matchLabels: { "k8s-app": "kube-proxy" } } },
    status: { desiredNumberScheduled: 1, currentNumberScheduled: 1, numberReady: 1, numberAvailable: 1 },
  });

  const deploy = store.create("deployments", {
    metadata: { name: "coredns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { "k8s-app": "kube-dns" } },
      template: { metadata: { labels: { "k8s-app": "kube-dns" } }, spec: corednsPod().spec },
    },
    status: {
      observedGeneration: 1,
      replicas: 2,
      updatedReplicas: 2,
      unavailableReplicas: 2,
      availableReplicas: 0,
      conditions: [
        cond(
          "Available",
          "False",
          "MinimumReplicasUnavailable",
          "Deployment does not have minimum availability.",
        ),
        cond("Progressing", "True", "ReplicaSetUpdated", `ReplicaSet "${COREDNS_RS}" is progressing.`),
      ],
    },
  });
  recordEvent(
    store,
    deploy,
    "Normal",
    "ScalingReplicaSet",
    `Scaled up replica set ${COREDNS_RS} from 0 to 2`,
    "deployment-controller",
  );
  for (let i = 0; i < 2; i++) {
    const pod = store.create("pods", corednsPod());
    recordEvent(
      store,
      pod,
      "Warning",
      "FailedScheduling",
      pod.status.conditions[0].message,
      "default-scheduler",
    );
  }

  store.create("services", {
    metadata: {
      name: "kubernetes",
      namespace: "default",
      labels: { component: "apiserver", provider: "kubernetes" },
    },
    spec: {
      type: "ClusterIP",
      clusterIP: "10.96.0.1",
      ports: [{ name: "https", port: 443, targetPort: 6443 }],
    },
  });
  store.create("services", {
    metadata: { name: "kube-dns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
    spec: { type: "ClusterIP", clusterIP: "10.96.0.10", selector: { "k8s-app": "kube-dns" } },
  });
  for (const name of [
    "coredns",
    "kube-proxy",
    "attachdetach-controller",
    "bootstrap-signer",
    "node-controller",
  ]) {
    store.create("serviceaccounts", { metadata: { name, namespace: "kube-system" } });
  }
}

/** What the token controller does shortly after start: a `default` ServiceAccount per namespace. */
export function createDefaultServiceAccounts(store: Store): void {
  for (const ns of store.list("namespaces")) {
    if (!store.get("serviceaccounts", ns.metadata.name, "default")) {
      store.create("serviceaccounts", { metadata: { name: "default", namespace: ns.metadata.name } });
    }
  }
}

/** The kubelet, restarted with a working CNI, posts Ready. */
export function markNodeReady(store: Store, f: ClusterFacts): void {
  const node = store.update("nodes", undefined, f.nodeName, (n) => {
    const ready = n.status.conditions.find((c: any) => c.type === "Ready");
    Object.assign(ready, cond("Ready", "True", "KubeletReady", "kubelet is posting ready status", true));
  });
  recordEvent(store, node, "Normal", "NodeReady", `Node ${f.nodeName} status is now: NodeReady`, "kubelet");
}

/** The node lifecycle controller drops the not-ready taint once the node is Ready. */
export function removeNotReadyTaint(store: Store, f: ClusterFacts): void {
  store.update("nodes", undefined, f.nodeName, (n) => {
    n.spec.taints = (n.spec.taints ?? []).filter((t: any) => t.key !== NOT_READY_TAINT);
    if (n.spec.taints.length === 0) delete n.spec.taints;
  });
}

/** CoreDNS pods get scheduled, start and pass readiness; the Deployment becomes Available. */
export function markCorednsReady(store: Store, f: ClusterFacts): void {
  store
    .list("pods", "kube-system")
    .filter((p) => p.metadata.labels?.["k8s-app"] === "kube-dns")
    .forEach((p, i) => {
      const pod = store.update("pods", "kube-system", p.metadata.name, (o) => {
        o.spec.nodeName = f.nodeName;
        const ip = podAddress(f.podCIDR, i + 2);
        o.status = {
          ...o.status,
          phase: "Running",
          hostIP: f.nodeIP,
          podIP: ip,
          podIPs: [{ ip }],
          startTime: timestamp(),
          conditions: [cond("PodScheduled", "True", "", ""), cond("Ready", "True", "", "")],
          containerStatuses: [runningContainer("coredns", o.spec.containers[0].image)],
        };
      });
      recordEvent(
        store,
        pod,
        "Normal",
        "Scheduled",
        `Successfully assigned kube-system/${p.metadata.name} to ${f.nodeName}`,
        "default-scheduler",
      );
      recordEvent(store, pod, "Normal", "Started", "Started container coredns", "kubelet");
    });
  store.update("deployments", "kube-system", "coredns", (d) => {
    d.status = {
      observedGeneration: d.metadata.generation,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
      conditions: [
        cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
        cond(
          "Progressing",
          "True",
          "NewReplicaSetAvailable",
          `ReplicaSet "${COREDNS_RS}" has successfully progressed.`,
        ),
      ],
    };
  });
}
