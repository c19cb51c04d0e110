import { displayUrl } from "./secrets.js";
import * as os from "node:os";
import { podSubnetCapacityProblem } from "./builders/node-cidrs.js";
import { createHash } from "node:crypto";
import { type Cidr, cidrOverlaps, parseCidr } from "./cidr.js";
import {
  compareVersions,
  CONTAINER_VERSIONS,
  MIN_KUBERNETES_VERSION,
  NODE_IMAGES,
  resolveKubernetesVersion,
  supportedKubernetesVersions,
  unsupportedContainerReason,
  versionFromImage,
  newestKubernetesVersion,
  releaseOf,
} from "./versions.js";

export interface Inputs {
  /** Full version without the v, e.g. `1.35.8`; undefined when a node-image override has no version tag. */
  kubernetesVersion: string | undefined;
  nodeImage: string;
  podSubnet: Cidr;
  serviceSubnet: Cidr;
  /** Lowercase letters, digits and '-' (cluster-name normalised, see clusterNameFrom). */
  clusterName: string;
  /** cluster-name as given, when normalising changed it (for a notice). */
  clusterNameGiven: string | undefined;
  nodeName: string;
  /**
   * `supported`: the installed CLI when it is supported, else the newest tested release;
   * `installed`: the installed CLI, never installing; `X.Y.Z`: exactly that release.
   */
  containerVersion: ContainerVersionPolicy;
  installerUrl: string | undefined;
  kubectlVersion: string | undefined;
  /** kubectl mirror template; `{version}` is replaced, the checksum is at `<url>.sha256`. */
  kubectlUrl: string | undefined;
  /** Undefined: derive from the host. */
  cpus: number | undefined;
  /** In MiB; undefined: derive from the host. */
  memoryMiB: number | undefined;
  /** Readiness budget; also the bound on starting the node VM and on kubeadm init (container/bounds.ts). */
  waitSeconds: number;
  /**
   * A running node of this cluster made by another runner is removed when older than this (seconds);
   * undefined: never.
   */
  reclaimAfterSeconds: number | undefined;
  cache: boolean;
  cleanup: boolean;
  approveCsrs: boolean;
  loadImages: string[];
  /** Worker nodes besides the control plane; 0 is the single-node cluster. */
  workers: number;
  /** Inputs that are valid but do not do what they say (main prints each as a warning). */
  warnings: string[];
}

/** The Mac the nodes share. */
export interface HostResources {
  cpus: number;
  memoryMiB: number;
}

export function hostResources(): HostResources {
  return { cpus: os.cpus().length, memoryMiB: Math.floor(os.totalmem() / 1024 / 1024) };
}

/**
 * Each node VM's size: the inputs, else a quarter of the host with at least 2 CPUs and 2 GiB, as
 * Apple's k8s plugin sizes its nodes (the same rule as steps/node-vm.ts, nodeResources).
 */
export function resolveNodeResources(
  inputs: Pick<Inputs, "cpus" | "memoryMiB">,
  host: HostResources,
): HostResources {
  return {
    cpus: inputs.cpus ?? Math.max(2, Math.floor(host.cpus / 4)),
    memoryMiB: inputs.memoryMiB ?? Math.max(2048, Math.floor(host.memoryMiB / 4)),
  };
}

/**
 * How many workers fit next to the control plane, every node of size `node`: together the nodes
 * may use all of the host's CPUs (more vCPUs than cores starves etcd and the kubelets, and a CI job
 * then fails on timeouts, not on its tests) and three quarters of its memory (the rest for macOS,
 * the runner and the container service). With the default sizes that allows 2 workers.
 */
export function maxWorkers(host: HostResources, node: HostResources): number {
  const nodes = Math.min(
    Math.floor(host.cpus / node.cpus),
    Math.floor((host.memoryMiB * 3) / 4 / node.memoryMiB),
  );
  return Math.max(0, nodes - 1);
}

export type ContainerVersionPolicy = "supported" | "installed" | `${number}.${number}.${number}`;

export interface InputSource {
  get(name: string): string;
  getBoolean(name: string): boolean;
}

export class InputError extends Error {
  constructor(
    readonly input: string,
    readonly value: string,
    accepted: string,
  ) {
    super(`Input '${input}' has an invalid value '${value}': ${accepted}`);
    this.name = "InputError";
  }
}

const LOOPBACK = parseCidr("127.0.0.0/8")!;
const NODE_SUFFIX = "-control-plane";
// Apple's container names allow [a-zA-Z0-9][a-zA-Z0-9_.-]+ up to 63 characters; the node name is also a
// Kubernetes node name (RFC 1123, lowercase), so the cluster name takes the intersection.
const CLUSTER_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const MAX_CONTAINER_NAME = 63;
export const MAX_CLUSTER_NAME = MAX_CONTAINER_NAME - NODE_SUFFIX.length;
const MAX_WAIT_SECONDS = 3600;
/** Below this, reclaim-after is more likely a typo ("6" for 6 hours) than a decision. */
const MIN_RECLAIM_SECONDS = 3600;

/** Hex digits of the hash a changed or cut cluster name carries: 16.7 million values. */
const NAME_HASH_LENGTH = 6;

/**
 * A valid cluster name (lowercase letters, digits and '-', at most MAX_CLUSTER_NAME characters) from what
 * the workflow gave, so `kina-${{ runner.name }}` works for any runner name. Lowercasing alone keeps the
 * name readable (`Mac-Studio-02` → `mac-studio-02`). When more changes (every run of other characters
 * becomes one '-', '-' is trimmed from the ends) or the name is too long, it ends in `-` and the first 6
 * hex digits of the SHA-256 of the name as given: `mac_1`, `mac.1` and `kina-🚀` would otherwise become
 * `mac-1`, `mac-1` and the default `kina`, and two runners sharing a Mac would share a cluster.
 * Undefined when no letter or digit is left.
 */
export function clusterNameFrom(given: string): string | undefined {
  const lower = given.toLowerCase();
  let name = lower.replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  if (!name) return undefined;
  if (name !== lower || name.length > MAX_CLUSTER_NAME) {
    const hash = createHash("sha256").update(given).digest("hex").slice(0, NAME_HASH_LENGTH);
    const room = MAX_CLUSTER_NAME - NAME_HASH_LENGTH - 1;
    name = `${name.slice(0, room).replace(/-+$/, "")}-${hash}`;
  }
  return CLUSTER_NAME.test(name) ? name : undefined;
}

function cidrInput(src: InputSource, name: string, minPrefix: number, maxPrefix: number): Cidr {
  const value = src.get(name);
  const cidr = parseCidr(value);
  const accepted = `expected an IPv4 network such as 10.244.0.0/16 (host bits zero) with a prefix from /${minPrefix} to /${maxPrefix}`;
  if (!cidr || cidr.prefix < minPrefix || cidr.prefix > maxPrefix)
    throw new InputError(name, value, accepted);
  if (cidrOverlaps(cidr, LOOPBACK))
    throw new InputError(name, value, `it overlaps the loopback network 127.0.0.0/8; ${accepted}`);
  return cidr;
}

/**
 * Why the pod or service subnet cannot be used on this VM network, or undefined. Pod and service
 * addresses that shadow the VMs' own network make the node unreachable from inside the cluster.
 * `network` is the VM network; `source` says where it was read (for the message).
 */
export function vmNetworkConflict(
  inputs: Pick<Inputs, "podSubnet" | "serviceSubnet">,
  network: Cidr,
  source: string,
): string | undefined {
  for (const [input, cidr] of [
    ["pod-subnet", inputs.podSubnet],
    ["service-subnet", inputs.serviceSubnet],
  ] as const) {
    if (cidrOverlaps(cidr, network))
      return (
        `${input} ${cidr.text} overlaps the container VM network ${network.text} (${source}); its addresses ` +
        `would shadow the node's own. Choose a ${input} outside ${network.text}.`
      );
  }
  return undefined;
}

/** `90`, `90s`, `5m`, `1m30s`, `6h`, `5d` → seconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/.exec(text.trim());
  if (!m || text.trim() === "" || (m[1] ?? m[2] ?? m[3] ?? m[4]) === undefined) return undefined;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
}

/** `4G`, `4096M`, `4096MB`, `4g` → MiB. */
export function parseMemory(text: string): number | undefined {
  const m = /^(\d+)\s*([KMGT])i?B?$/i.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]!.toUpperCase();
  const mib = unit === "K" ? n / 1024 : unit === "M" ? n : unit === "G" ? n * 1024 : n * 1024 * 1024;
  return Math.floor(mib);
}

/** `host`: the Mac's size, which bounds `workers` (default: this machine's). */
export function parseInputs(src: InputSource, host: HostResources = hostResources()): Inputs {
  const podSubnet = cidrInput(src, "pod-subnet", 8, 24);
  const serviceSubnet = cidrInput(src, "service-subnet", 12, 28);
  if (cidrOverlaps(podSubnet, serviceSubnet)) {
    throw new InputError(
      "pod-subnet",
      podSubnet.text,
      `it overlaps service-subnet ${serviceSubnet.text}; choose two disjoint ranges`,
    );
  }

  const nodeImageInput = src.get("node-image").trim();
  const requested = src.get("kubernetes-version").trim();
  let kubernetesVersion: string | undefined;
  let nodeImage: string;
  const warnings: string[] = [];
  if (nodeImageInput) {
    if (/\s/.test(nodeImageInput)) {
      throw new InputError(
        "node-image",
        nodeImageInput,
        "expected an image reference such as kindest/node:v1.35.8",
      );
    }
    nodeImage = nodeImageInput;
    kubernetesVersion = versionFromImage(nodeImage);
    // Refused before any pull: kubeadm before 1.31 cannot read the v1beta4 config the action writes.
    if (kubernetesVersion && compareVersions(releaseOf(kubernetesVersion), MIN_KUBERNETES_VERSION) < 0) {
      throw new InputError(
        "node-image",
        nodeImageInput,
        `its tag says Kubernetes ${kubernetesVersion}, and node images older than ${MIN_KUBERNETES_VERSION.replace(/\.0$/, "")} cannot read the kubeadm v1beta4 config this action writes; use a newer kindest/node image or set kubernetes-version (${supportedKubernetesVersions().join(", ")})`,
      );
    }
    // The default (the newest supported) cannot be told from an explicit choice of it.
    const asked = requested ? resolveKubernetesVersion(requested) : undefined;
    if (requested && asked !== newestKubernetesVersion() && asked !== kubernetesVersion) {
      warnings.push(
        `node-image ${nodeImageInput} is used and kubernetes-version ${requested} is ignored: the image decides the ` +
          `Kubernetes version (${kubernetesVersion ? `its tag says ${kubernetesVersion}` : "its tag names none"}). ` +
          "Remove kubernetes-version, or node-image to use the pinned image of that version.",
      );
    }
  } else {
    kubernetesVersion = resolveKubernetesVersion(requested);
    if (!kubernetesVersion) {
      // YAML reads an unquoted `1.30` as the number 1.3, which reaches the action as "1.3".
      const number = /^v?(\d+)\.(\d)$/.exec(requested);
      const hint = number
        ? ` YAML reads an unquoted ${number[1]}.${number[2]}0 as the number ${number[1]}.${number[2]}: ` +
          `quote the version (kubernetes-version: "${number[1]}.${number[2]}0").`
        : "";
      throw new InputError(
        "kubernetes-version",
        requested,
        `expected one of ${supportedKubernetesVersions().join(", ")} (also as v1.35, 1.35 or v1.35.8), or set node-image.${hint}`,
      );
    }
    nodeImage = NODE_IMAGES[kubernetesVersion]!;
  }

  const clusterNameInput = src.get("cluster-name").trim();
  const clusterName = clusterNameFrom(clusterNameInput);
  if (!clusterName) {
    throw new InputError(
      "cluster-name",
      clusterNameInput,
      `expected a name with letters or digits, e.g. kina or kina-\${{ runner.name }} (the node VM is named <cluster-name>${NODE_SUFFIX})`,
    );
  }

  const containerVersion = (src.get("container-version").trim() || "supported") as ContainerVersionPolicy;
  if (!["supported", "installed"].includes(containerVersion)) {
    if (!/^\d+\.\d+\.\d+$/.test(containerVersion)) {
      throw new InputError(
        "container-version",
        containerVersion,
        "expected 'supported' (the installed CLI when it is supported, else the newest tested release), 'installed', or a release such as 1.5.0",
      );
    }
    const why = unsupportedContainerReason(containerVersion);
    if (why) {
      throw new InputError(
        "container-version",
        containerVersion,
        `${why}; choose a release from ${CONTAINER_VERSIONS.minimum} on (tested: ${CONTAINER_VERSIONS.tested.join(", ")}) or 'supported'`,
      );
    }
  }

  const installerUrl = src.get("installer-url").trim() || undefined;
  if (installerUrl !== undefined && !/^(https?|file):\/\/\S+$/.test(installerUrl)) {
    throw new InputError(
      "installer-url",
      displayUrl(installerUrl),
      "expected an http(s):// or file:// URL; {version} is replaced",
    );
  }

  const kubectlInput = src.get("kubectl-version").trim();
  const kubectlMatch = /^v?(\d+\.\d+\.\d+)$/.exec(kubectlInput);
  if (kubectlInput && !kubectlMatch) {
    throw new InputError("kubectl-version", kubectlInput, "expected a release such as v1.35.8, or empty");
  }

  const kubectlUrl = src.get("kubectl-url").trim() || undefined;
  if (kubectlUrl !== undefined && !/^(https?|file):\/\/\S+$/.test(kubectlUrl)) {
    throw new InputError(
      "kubectl-url",
      displayUrl(kubectlUrl),
      "expected an http(s):// or file:// URL of a darwin/arm64 kubectl with its checksum at the same URL with .sha256 after the path; {version} is replaced",
    );
  }

  const cpusText = src.get("cpus").trim();
  let cpus: number | undefined;
  if (cpusText) {
    cpus = /^\d+$/.test(cpusText) ? Number(cpusText) : NaN;
    // kubeadm's preflight needs 2 CPUs and about 1.7 GiB; below that init fails after minutes of work.
    if (!(cpus >= 2 && cpus <= 64))
      throw new InputError("cpus", cpusText, "expected a whole number from 2 to 64, or empty");
  }

  const memoryText = src.get("memory").trim();
  let memoryMiB: number | undefined;
  if (memoryText) {
    memoryMiB = parseMemory(memoryText);
    if (memoryMiB === undefined || memoryMiB < 2048) {
      throw new InputError(
        "memory",
        memoryText,
        "expected a size with a unit such as 4G or 4096M, at least 2G, or empty",
      );
    }
  }

  const waitText = src.get("wait").trim();
  const waitSeconds = parseDuration(waitText);
  if (waitSeconds === undefined || waitSeconds < 1 || waitSeconds > MAX_WAIT_SECONDS) {
    throw new InputError(
      "wait",
      waitText,
      `expected seconds (300) or a duration (5m, 90s, 1m30s) from 1s to ${MAX_WAIT_SECONDS / 60}m`,
    );
  }

  const workersText = src.get("workers").trim() || "0";
  if (!/^\d{1,3}$/.test(workersText)) {
    throw new InputError(
      "workers",
      workersText,
      "expected a whole number of worker nodes (0: a single-node cluster)",
    );
  }
  const workers = Number(workersText);
  if (workers > 0) {
    // Before any VM: a cluster that cannot fit fails now, not after minutes of creating nodes.
    const subnetProblem = podSubnetCapacityProblem(podSubnet, workers + 1);
    if (subnetProblem) throw new InputError("workers", workersText, subnetProblem);
    const node = resolveNodeResources({ cpus, memoryMiB }, host);
    const max = maxWorkers(host, node);
    if (workers > max) {
      throw new InputError(
        "workers",
        workersText,
        `this Mac has ${host.cpus} CPUs and ${host.memoryMiB} MiB; ${workers + 1} nodes of ${node.cpus} CPUs ` +
          `and ${node.memoryMiB} MiB each need ${(workers + 1) * node.cpus} CPUs and ${(workers + 1) * node.memoryMiB} MiB, ` +
          `but all nodes together get at most the host's CPUs and three quarters of its memory, so at most ` +
          `${max} worker${max === 1 ? "" : "s"}; set smaller cpus and memory, or fewer workers`,
      );
    }
  }

  const reclaimText = src.get("reclaim-after").trim();
  let reclaimAfterSeconds: number | undefined;
  if (reclaimText) {
    reclaimAfterSeconds = parseDuration(reclaimText);
    if (reclaimAfterSeconds === undefined || reclaimAfterSeconds < MIN_RECLAIM_SECONDS) {
      throw new InputError(
        "reclaim-after",
        reclaimText,
        "expected a duration of at least 1h, such as 6h or 120h, or empty to never remove another runner's node",
      );
    }
  }

  const loadImages = src
    .get("load-images")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  for (const image of loadImages) {
    if (/\s/.test(image)) throw new InputError("load-images", image, "expected one image reference per line");
  }

  return {
    kubernetesVersion,
    nodeImage,
    podSubnet,
    serviceSubnet,
    clusterName,
    clusterNameGiven: clusterName === clusterNameInput ? undefined : clusterNameInput,
    nodeName: clusterName + NODE_SUFFIX,
    containerVersion,
    installerUrl,
    kubectlVersion: kubectlMatch?.[1],
    kubectlUrl,
    cpus,
    memoryMiB,
    waitSeconds,
    reclaimAfterSeconds,
    cache: src.getBoolean("cache"),
    cleanup: src.getBoolean("cleanup"),
    approveCsrs: src.getBoolean("approve-csrs"),
    loadImages,
    workers,
    warnings,
  };
}
