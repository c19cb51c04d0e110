import os from "node:os";
import { describe, expect, it } from "vitest";
import { parseCidr } from "../src/cidr.js";
import {
  clusterNameFrom,
  hostResources,
  InputError,
  MAX_CLUSTER_NAME,
  maxWorkers,
  parseDuration,
  parseInputs,
  parseMemory,
  resolveNodeResources,
  vmNetworkConflict,
  type HostResources,
} from "../src/inputs.js";
import { inputSource } from "./fixtures/inputs.ts";

const source = inputSource;

function failure(overrides: Record<string, string>): InputError {
  try {
    parseInputs(source(overrides));
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error("expected an InputError");
}

describe("node-image with kubernetes-version (defect 12)", () => {
  const img = (tag: string) => `kindest/node:${tag}`;
  it.each([
    ["the default kubernetes-version", { "node-image": img("v1.36.4") }, 0],
    ["the image's own version", { "node-image": img("v1.36.4"), "kubernetes-version": "1.36" }, 0],
    ["another version", { "node-image": img("v1.36.4"), "kubernetes-version": "1.35" }, 1],
    [
      "an image tag without a version",
      { "node-image": "reg:5000/node:dev", "kubernetes-version": "1.35" },
      1,
    ],
  ] as const)("%s: %i warning(s)", (_, overrides, n) => {
    expect(parseInputs(source(overrides)).warnings).toHaveLength(n);
  });
  it("refuses a pre-release older than 1.31 by its release, and keeps its own version", () => {
    expect(failure({ "node-image": img("v1.30.0-rc.1") }).input).toBe("node-image");
    expect(parseInputs(source({ "node-image": img("v1.37.0-alpha.1") })).kubernetesVersion).toBe(
      "1.37.0-alpha.1",
    );
  });
});

describe("parseInputs", () => {
  it("resolves the defaults", () => {
    const i = parseInputs(source());
    expect(i.kubernetesVersion).toBe("1.37.0");
    expect(i.nodeImage).toBe(
      "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
    );
    expect(i.containerVersion).toBe("supported");
    expect(i.podSubnet.text).toBe("10.244.0.0/16");
    expect(i.serviceSubnet.text).toBe("10.96.0.0/12");
    expect(i.nodeName).toBe("kina-control-plane");
    expect(i.waitSeconds).toBe(300);
    expect(i.cpus).toBeUndefined();
    expect(i).toMatchObject({ cache: true, cleanup: true, approveCsrs: true, loadImages: [] });
  });

  it.each([
    ["v1.35", "1.35.8"],
    ["1.35", "1.35.8"],
    ["1.34", "1.34.11"],
    ["v1.34.0", "1.34.0"],
    ["1.31.4", "1.31.4"],
    ["1.36", "1.36.4"],
    ["v1.37", "1.37.0"],
  ])("kubernetes-version %s resolves to %s", (v, want) => {
    expect(parseInputs(source({ "kubernetes-version": v })).kubernetesVersion).toBe(want);
  });

  it("takes node-image as given and its version from the tag", () => {
    const i = parseInputs(source({ "node-image": "example.com/node:v1.36.1", "kubernetes-version": "1.99" }));
    expect(i.nodeImage).toBe("example.com/node:v1.36.1");
    expect(i.kubernetesVersion).toBe("1.36.1");
    expect(
      parseInputs(source({ "node-image": "example.com/node:latest" })).kubernetesVersion,
    ).toBeUndefined();
  });

  it.each([
    [{ "pod-subnet": "10.244.0.0/33" }, "pod-subnet", "10.244.0.0/33"],
    [{ "pod-subnet": "banana" }, "pod-subnet", "banana"],
    [{ "pod-subnet": "10.244.1.0/16" }, "pod-subnet", "host bits zero"],
    [{ "pod-subnet": "10.0.0.0/4" }, "pod-subnet", "/8 to /24"],
    [{ "pod-subnet": "127.0.0.0/16" }, "pod-subnet", "loopback"],
    [
      { "pod-subnet": "10.96.0.0/16", "service-subnet": "10.96.0.0/12" },
      "pod-subnet",
      "overlaps service-subnet 10.96.0.0/12",
    ],
    [{ "service-subnet": "10.0.0.0/8" }, "service-subnet", "/12 to /28"],
    [{ "kubernetes-version": "1.99" }, "kubernetes-version", "1.31.4"],
    [{ "kubernetes-version": "latest" }, "kubernetes-version", "node-image"],
    [{ "kubernetes-version": "1.3" }, "kubernetes-version", 'quote the version (kubernetes-version: "1.30")'],
    [{ "kubernetes-version": "v1.4" }, "kubernetes-version", "unquoted 1.40 as the number 1.4"],
    [{ "cluster-name": "---" }, "cluster-name", "runner.name"],
    [{ "cluster-name": "" }, "cluster-name", "letters or digits"],
    [{ "reclaim-after": "6" }, "reclaim-after", "at least 1h"],
    [{ "reclaim-after": "soon" }, "reclaim-after", "120h"],
    [{ wait: "-5" }, "wait", "from 1s"],
    [{ wait: "0" }, "wait", "from 1s"],
    [{ wait: "2h" }, "wait", "60m"],
    [{ wait: "soon" }, "wait", "5m"],
    [{ cpus: "1" }, "cpus", "from 2 to 64"],
    [{ cpus: "two" }, "cpus", "from 2 to 64"],
    [{ memory: "512M" }, "memory", "at least 2G"],
    [{ memory: "4 apples" }, "memory", "4G"],
    [{ "container-version": "latest" }, "container-version", "'supported'"],
    [{ "container-version": "1.4.0" }, "container-version", "never released"],
    [{ "container-version": "1.2.0" }, "container-version", "/proc/sys read-only"],
    [{ "container-version": "1.1.0" }, "container-version", "from 1.2.1 on"],
    [{ "container-version": "0.11.0" }, "container-version", "--cap-add"],
    [{ "node-image": "kindest/node:v1.30.0" }, "node-image", "Kubernetes 1.30.0"],
    [{ "node-image": `kindest/node:v1.30.13@sha256:${"a".repeat(64)}` }, "node-image", "older than 1.31"],
    [{ "kubernetes-version": "1.30" }, "kubernetes-version", "1.37.0"],
    [{ "installer-url": "ftp://x" }, "installer-url", "http"],
    [{ "kubectl-version": "1.35" }, "kubectl-version", "v1.35.8"],
    // Defect 10: the checksum goes on the path, before any query.
    [{ "kubectl-url": "dl.k8s.io/kubectl" }, "kubectl-url", ".sha256 after the path"],
    [{ "load-images": "nginx:1 busybox" }, "load-images", "one image"],
  ])("%o is refused naming %s", (overrides, input, text) => {
    const err = failure(overrides as Record<string, string>);
    expect(err.input).toBe(input);
    expect(err.message).toContain(`Input '${input}'`);
    expect(err.message).toContain(text);
  });

  it.each(["supported", "installed", "1.2.1", "1.3.0", "1.5.0", "1.6.0"])(
    "accepts container-version %s",
    (v) => {
      expect(parseInputs(source({ "container-version": v })).containerVersion).toBe(v);
    },
  );

  it("reads container-version empty as 'supported'", () => {
    expect(parseInputs(source({ "container-version": " " })).containerVersion).toBe("supported");
  });

  it("accepts a node image of 1.31 or newer, or one whose tag is no version", () => {
    expect(parseInputs(source({ "node-image": "kindest/node:v1.31.0" })).kubernetesVersion).toBe("1.31.0");
    expect(parseInputs(source({ "node-image": "registry.local/node:ci" })).kubernetesVersion).toBeUndefined();
  });

  // Behaviour change (issue 12): names are normalised, so `kina-${{ runner.name }}` works as written;
  // before, 'Kina' and 'bad name!' were refused. The VM network is checked against what the runtime
  // reports (vmNetworkConflict), not a fixed 192.168.64.0/24.
  // Behaviour change (tester findings): a name whose characters were replaced or dropped, not only
  // lowercased, ends in a hash of the name as given (sha256, 6 hex digits), so `mac_1`, `mac.1` and
  // `kina-🚀` no longer become `mac-1`, `mac-1` and `kina`.
  it.each([
    ["Mac-Studio-02", "mac-studio-02"],
    ["kina-Build Mac.local", "kina-build-mac-local-c0b4da"],
    ["  kina_mac__3 ", "kina-mac-3-3eb435"],
    ["bad name!", "bad-name-12ad77"],
    ["kina-🚀", "kina-ec7849"],
    ["kina-", "kina-82da87"],
  ])("cluster-name %j is used as %j", (given, name) => {
    const i = parseInputs(source({ "cluster-name": given }));
    expect(i.clusterName).toBe(name);
    expect(i.nodeName).toBe(`${name}-control-plane`);
    expect(i.clusterNameGiven).toBe(given.trim());
  });

  it("gives distinct names for names that differ in replaced or dropped characters", () => {
    const given = [
      "kina-mac_1",
      "kina-mac.1",
      "kina-mac 1",
      "kina-mac-1",
      "kina-é",
      "kina-è",
      "kina-🚀",
      "kina",
    ];
    const names = given.map((g) => clusterNameFrom(g));
    expect(new Set(names).size).toBe(given.length);
    expect(clusterNameFrom("kina-mac-1")).toBe("kina-mac-1");
    expect(clusterNameFrom("KINA-MAC-1")).toBe("kina-mac-1");
    expect(clusterNameFrom("🚀")).toBeUndefined();
  });

  it("keeps a valid cluster-name as it is, and cuts a long one with a hash of the whole", () => {
    expect(parseInputs(source({ "cluster-name": "ci-a" })).clusterNameGiven).toBeUndefined();
    const a = clusterNameFrom("runner-" + "a".repeat(60))!;
    const b = clusterNameFrom("runner-" + "a".repeat(61))!;
    expect(a.length).toBeLessThanOrEqual(MAX_CLUSTER_NAME);
    expect(`${a}-control-plane`.length).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^runner-a+-[0-9a-f]{6}$/);
  });

  it("accepts any pod subnet outside loopback; vmNetworkConflict checks it against the VM network", () => {
    const i = parseInputs(source({ "pod-subnet": "192.168.64.0/24" }));
    expect(vmNetworkConflict(i, parseCidr("192.168.65.0/24")!, "listed")).toBeUndefined();
    expect(vmNetworkConflict(i, parseCidr("192.168.64.0/24")!, "listed")).toBe(
      "pod-subnet 192.168.64.0/24 overlaps the container VM network 192.168.64.0/24 (listed); its addresses would shadow the node's own. Choose a pod-subnet outside 192.168.64.0/24.",
    );
    const j = parseInputs(source({ "service-subnet": "192.168.64.0/28" }));
    expect(vmNetworkConflict(j, parseCidr("192.168.0.0/16")!, "x")).toMatch(
      /^service-subnet 192\.168\.64\.0\/28 overlaps/,
    );
  });

  it("reads reclaim-after: action.yml's 120h, a duration, or empty for never", () => {
    expect(parseInputs(source()).reclaimAfterSeconds).toBe(120 * 3600);
    expect(parseInputs(source({ "reclaim-after": "6h" })).reclaimAfterSeconds).toBe(6 * 3600);
    expect(parseInputs(source({ "reclaim-after": "5d" })).reclaimAfterSeconds).toBe(5 * 86400);
    expect(parseInputs(source({ "reclaim-after": "" })).reclaimAfterSeconds).toBeUndefined();
  });

  it("reads the kubectl mirror, empty meaning dl.k8s.io", () => {
    expect(parseInputs(source()).kubectlUrl).toBeUndefined();
    const url = "https://mirror.example/k8s/v{version}/kubectl";
    expect(parseInputs(source({ "kubectl-url": ` ${url} ` })).kubectlUrl).toBe(url);
  });

  it("reads sizes, durations and image lists", () => {
    const i = parseInputs(
      source({ cpus: "4", memory: "6G", wait: "1m30s", "load-images": "nginx:1.27\n\n# c\n busybox \n" }),
    );
    expect(i).toMatchObject({
      cpus: 4,
      memoryMiB: 6144,
      waitSeconds: 90,
      loadImages: ["nginx:1.27", "busybox"],
    });
  });
});

describe("parseDuration / parseMemory", () => {
  it.each([
    ["300", 300],
    ["5m", 300],
    ["90s", 90],
    ["1h", 3600],
    ["1m30s", 90],
    ["6h", 21600],
    ["2d", 172800],
    ["", undefined],
    ["m", undefined],
    ["-5", undefined],
  ])("parseDuration(%j) = %j", (t, v) => expect(parseDuration(t)).toBe(v));
  it.each([
    ["4G", 4096],
    ["4096M", 4096],
    ["4096MB", 4096],
    ["2g", 2048],
    ["2GiB", 2048],
    ["4", undefined],
  ])("parseMemory(%j) = %j", (t, v) => expect(parseMemory(t)).toBe(v));
});

describe("workers", () => {
  /** An M2 Mac mini: 8 cores, 16 GiB. Default nodes: 2 CPUs, 4 GiB. */
  const MINI: HostResources = { cpus: 8, memoryMiB: 16384 };
  const parse = (o: Record<string, string>, host = MINI) => parseInputs(source(o), host);
  const refusal = (o: Record<string, string>, host = MINI): InputError => {
    try {
      parse(o, host);
    } catch (err) {
      if (err instanceof InputError) return err;
      throw err;
    }
    throw new Error("expected an InputError");
  };

  it("defaults to 0, a single-node cluster, whatever the host", () => {
    expect(parse({}).workers).toBe(0);
    expect(parse({ workers: " " }).workers).toBe(0);
    // A host too small for even one node of the requested size is no concern of `workers: 0`.
    expect(parse({ cpus: "8", memory: "16G" }, { cpus: 2, memoryMiB: 4096 }).workers).toBe(0);
  });

  it("allows as many workers as fit next to the control plane", () => {
    expect(parse({ workers: "2" }).workers).toBe(2);
    expect(parse({ workers: "3", memory: "3G" }).workers).toBe(3);
    // 32 cores, 128 GiB, nodes of 2 CPUs and 4 GiB: CPUs bound it to 16 nodes.
    expect(parse({ workers: "15", cpus: "2", memory: "4G" }, { cpus: 32, memoryMiB: 131072 }).workers).toBe(
      15,
    );
  });

  it.each([
    [{ workers: "two" }, "expected a whole number of worker nodes"],
    [{ workers: "-1" }, "expected a whole number of worker nodes"],
    [{ workers: "1.5" }, "expected a whole number of worker nodes"],
    [
      { workers: "3" },
      "this Mac has 8 CPUs and 16384 MiB; 4 nodes of 2 CPUs and 4096 MiB each need 8 CPUs and 16384 MiB, " +
        "but all nodes together get at most the host's CPUs and three quarters of its memory, so at most 2 workers",
    ],
    [{ workers: "2", cpus: "3" }, "so at most 1 worker;"],
    [{ workers: "1", cpus: "8" }, "so at most 0 workers"],
    [{ workers: "2", "pod-subnet": "10.244.0.0/24" }, "pod-subnet 10.244.0.0/24 holds 1 node CIDR of /24"],
    [{ workers: "2", "pod-subnet": "10.244.0.0/23" }, "use a pod-subnet of /22 or larger"],
  ])("%o is refused naming workers", (o, text) => {
    const err = refusal(o);
    expect(err.input).toBe("workers");
    expect(err.message).toContain(`Input 'workers' has an invalid value '${o.workers}'`);
    expect(err.message).toContain(text);
  });

  it("sizes default nodes at a quarter of the host, at least 2 CPUs and 2 GiB", () => {
    expect(resolveNodeResources({ cpus: undefined, memoryMiB: undefined }, MINI)).toEqual({
      cpus: 2,
      memoryMiB: 4096,
    });
    expect(
      resolveNodeResources({ cpus: undefined, memoryMiB: undefined }, { cpus: 24, memoryMiB: 196608 }),
    ).toEqual({
      cpus: 6,
      memoryMiB: 49152,
    });
    expect(resolveNodeResources({ cpus: 3, memoryMiB: 3072 }, MINI)).toEqual({ cpus: 3, memoryMiB: 3072 });
    expect(maxWorkers(MINI, { cpus: 2, memoryMiB: 4096 })).toBe(2);
    expect(maxWorkers({ cpus: 4, memoryMiB: 4096 }, { cpus: 2, memoryMiB: 4096 })).toBe(0);
  });

  it("reads this machine's CPUs and memory when no host is given", () => {
    expect(hostResources()).toEqual({
      cpus: os.cpus().length,
      memoryMiB: Math.floor(os.totalmem() / 1048576),
    });
  });
});
