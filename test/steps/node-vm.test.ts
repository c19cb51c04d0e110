import { describe, expect, it } from "vitest";
import { runArgs } from "../../src/container/cli.js";
import { bypassesProxy, classifyExisting, nodeSpec, proxyEnv, workerName } from "../../src/steps/node-vm.js";
import { inputs } from "../fixtures/inputs.ts";
import { runnerId } from "../../src/ownership.js";

function flagValues(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

const env = {
  RUNNER_NAME: "mac-1",
  GITHUB_REPOSITORY: "o/r",
  GITHUB_RUN_ID: "7",
  GITHUB_RUN_ATTEMPT: "1",
  GITHUB_JOB: "e2e",
};
const NOW = Date.parse("2026-11-30T12:00:00Z");
const spec = (i = inputs(), e: NodeJS.ProcessEnv = env) =>
  nodeSpec({ inputs: i, apiPort: 50123, env: e, vmNetworks: ["192.168.64.0/24"], now: NOW });

describe("nodeSpec and runArgs", () => {
  it("names, sizes, labels and publishes the node", () => {
    const args = runArgs(spec(inputs({ cpus: "4", memory: "6G" })), "1.2.2");
    expect(args.slice(0, 4)).toEqual(["run", "-d", "--name", "kina-control-plane"]);
    expect(flagValues(args, "-c")).toEqual(["4"]);
    expect(flagValues(args, "-m")).toEqual(["6144M"]);
    // Behaviour change (issue 12): the creation time is a label, so a leftover's age is known.
    expect(flagValues(args, "-l")).toEqual([
      "io.kina.created-by=kina-setup-cluster",
      "io.kina.cluster=kina",
      "io.kina.role=control-plane",
      "io.kina.runner=mac-1",
      // Defect 2: which runner install (RUNNER_NAME and its folder), as RUNNER_NAME is not unique on a Mac.
      `io.kina.runner-id=${runnerId(env)}`,
      "io.kina.job=o/r/7/1/e2e",
      "io.kina.created-at=2026-11-30T12:00:00.000Z",
    ]);
    expect(flagValues(args, "-p")).toEqual(["127.0.0.1:50123:6443"]);
    expect(args.at(-1)).toMatch(/^kindest\/node:v1\.37\.0@sha256:/);
  });

  it("labels a worker like the control plane, role worker, and publishes nothing (issue 13)", () => {
    const i = inputs();
    const names = [i.nodeName, workerName(i.clusterName, 1), workerName(i.clusterName, 2)];
    const w = nodeSpec({
      inputs: i,
      apiPort: 0,
      env: { ...env, HTTPS_PROXY: "http://proxy:3128" },
      vmNetworks: ["192.168.64.0/24"],
      now: NOW,
      worker: { name: "kina-worker-2" },
      nodeNames: names,
    });
    const args = runArgs(w, "1.2.2");
    expect(args.slice(0, 4)).toEqual(["run", "-d", "--name", "kina-worker-2"]);
    expect(flagValues(args, "-l")).toContain("io.kina.role=worker");
    expect(flagValues(args, "-l")).toContain("io.kina.cluster=kina");
    expect(flagValues(args, "-p")).toEqual([]);
    expect(w.cpus).toBe(spec(i).cpus);
    expect(w.memoryMiB).toBe(spec(i).memoryMiB);
    expect(w.env.NO_PROXY!.split(",")).toEqual(expect.arrayContaining(names));
  });

  it("asks only for what the installed CLI supports", () => {
    const flags = (v: string) => runArgs(spec(), v);
    expect(flagValues(flags("1.2.2"), "--cap-add")).toEqual(["ALL"]);
    expect(flagValues(flags("1.2.2"), "--read-only-path")).toEqual(["NONE"]);
    expect(flagValues(flags("1.2.2"), "--masked-path")).toEqual(["NONE"]);
    expect(flags("1.2.0")).not.toContain("--read-only-path");
    expect(flagValues(flags("1.2.0"), "--cap-add")).toEqual(["ALL"]);
    expect(flags("0.11.0")).not.toContain("--cap-add");
  });

  it("sizes the node from the host when cpus and memory are empty", () => {
    const args = runArgs(spec(), "1.2.2");
    expect(Number(flagValues(args, "-c")[0])).toBeGreaterThanOrEqual(2);
    expect(Number(flagValues(args, "-m")[0]!.replace("M", ""))).toBeGreaterThanOrEqual(2048);
  });

  it("puts environment names on the command line, never their values", () => {
    const s = spec(inputs(), { ...env, HTTPS_PROXY: "http://u:secret@proxy:3128" });
    const args = runArgs(s, "1.2.2");
    expect(flagValues(args, "-e")).toEqual(["HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"]);
    expect(args.join(" ")).not.toContain("secret");
    expect(s.env.HTTPS_PROXY).toBe("http://u:secret@proxy:3128");
  });
});

describe("proxyEnv", () => {
  it("passes nothing without a proxy", () => {
    expect(proxyEnv({}, inputs(), ["192.168.64.0/24"])).toEqual({});
  });

  it("passes the proxy and keeps the VM network and the cluster's own ranges off it", () => {
    // Behaviour change (issue 12): the VM network read from the runtime, not 192.168.0.0/16.
    const out = proxyEnv(
      { https_proxy: "http://proxy:3128", NO_PROXY: "corp.example" },
      inputs({ "pod-subnet": "10.200.0.0/16" }),
      ["192.168.65.0/24"],
    );
    expect(out.HTTPS_PROXY).toBe("http://proxy:3128");
    expect(out.https_proxy).toBe("http://proxy:3128");
    expect(out.HTTP_PROXY).toBeUndefined();
    expect(out.NO_PROXY!.split(",")).toEqual(
      expect.arrayContaining([
        "corp.example",
        "192.168.65.0/24",
        "10.200.0.0/16",
        "10.96.0.0/12",
        "kina-control-plane",
        "127.0.0.1",
      ]),
    );
    expect(out.no_proxy).toBe(out.NO_PROXY);
  });

  it("reads the variables in any case", () => {
    const out = proxyEnv({ Https_Proxy: "http://proxy:3128", no_proxy: "a.example" }, inputs(), []);
    expect(out.HTTPS_PROXY).toBe("http://proxy:3128");
    expect(out.NO_PROXY!.split(",")[0]).toBe("a.example");
  });

  it("bypassesProxy knows addresses and CIDRs", () => {
    expect(bypassesProxy("localhost,192.168.64.0/24", "192.168.64.3")).toBe(true);
    expect(bypassesProxy("localhost,192.168.64.0/24", "192.168.65.3")).toBe(false);
    expect(bypassesProxy("10.0.0.7", "10.0.0.7")).toBe(true);
  });
});

describe("classifyExisting with reclaim-after", () => {
  const labels = (runner: string, createdAt: string) => ({
    "io.kina.created-by": "kina-setup-cluster",
    "io.kina.cluster": "kina",
    "io.kina.runner": runner,
    "io.kina.created-at": createdAt,
  });
  const state = (l: Record<string, string>, startedDate?: string) => ({
    id: "kina-control-plane",
    state: "running",
    labels: l,
    ipv4: undefined,
    ipv4Prefix: undefined,
    mtu: undefined,
    startedDate,
  });
  const HOUR = 3_600_000;
  const i = { clusterName: "kina", reclaimAfterSeconds: 6 * 3600 };

  it("another runner's running node is busy while younger, abandoned once older", () => {
    const young = state(labels("mac-2", new Date(NOW - 5 * HOUR).toISOString()));
    const old = state(labels("mac-2", new Date(NOW - 7 * HOUR).toISOString()));
    expect(classifyExisting(young, i, env, NOW)).toBe("busy");
    expect(classifyExisting(old, i, env, NOW)).toBe("abandoned");
    expect(classifyExisting(old, { clusterName: "kina", reclaimAfterSeconds: undefined }, env, NOW)).toBe(
      "busy",
    );
  });

  it("a running node with our RUNNER_NAME but no runner-id label (older labels) is removed only once old", () => {
    // Defect 2: another runner install on this Mac may share the name; only reclaim-after may take it.
    const young = state(labels("mac-1", new Date(NOW - 5 * HOUR).toISOString()));
    const old = state(labels("mac-1", new Date(NOW - 7 * HOUR).toISOString()));
    expect(classifyExisting(young, i, env, NOW)).toBe("busy");
    expect(classifyExisting(old, i, env, NOW)).toBe("abandoned");
  });

  it("falls back to the start time inspect reports, and stays busy when the age is unknown", () => {
    const noLabel = labels("mac-2", "");
    expect(classifyExisting(state(noLabel, new Date(NOW - 7 * HOUR).toISOString()), i, env, NOW)).toBe(
      "abandoned",
    );
    expect(classifyExisting(state(noLabel), i, env, NOW)).toBe("busy");
  });
});
