// Issue 12: the VM network is read, not assumed. Apple's default network is usually 192.168.64.0/24 but
// not always (192.168.65.0/24 after a service restart, user-set subnets): pod and service subnets are
// checked against what `container network ls` reports (macOS 26) and against the node's own address and
// prefix from `container inspect` (everywhere), and the node's NO_PROXY is built from the same.
import { cidrContains, parseCidr } from "../../src/cidr.js";
import { errors, runJob, runStep } from "../sim/runner.ts";
import type { Simulator } from "../sim/simulator.ts";
import { describe, expect, test, WARM } from "../fixtures/mac.ts";

const NODE = "kina-control-plane";
const PROXY = { HTTPS_PROXY: "http://proxy.example:3128" };

const nodeEnv = (sim: Simulator, name: string) =>
  sim
    .node(NODE)
    .spec.env.find((e) => e.startsWith(`${name}=`))
    ?.slice(name.length + 1);

/** Whether a NO_PROXY list keeps `ip` off the proxy: the address itself, or a CIDR that holds it. */
const bypasses = (noProxy: string, ip: string) =>
  noProxy.split(",").some((e) => e === ip || (parseCidr(e) !== undefined && cidrContains(parseCidr(e)!, ip)));

const runCalls = (sim: Simulator) => sim.calls.filter((c) => c.tool === "container" && c.argv[0] === "run");

describe("a default network other than 192.168.64.0/24 (macOS 26)", () => {
  const opts = { ...WARM, vmNetwork: "192.168.65.0/24" };

  test("192.168.64.0/24 is a usable pod subnet when the VMs are elsewhere", async ({ mac }) => {
    const sim = await mac(opts);
    const { main } = await runJob({ sim, inputs: { "pod-subnet": "192.168.64.0/24" } });
    expect(errors(main.stdout), main.stdout.slice(-2000)).toEqual([]);
    expect(main.code).toBe(0);
  });

  test.for([
    ["pod-subnet", "192.168.65.0/24"],
    ["service-subnet", "192.168.65.0/28"],
    ["pod-subnet", "192.168.0.0/16"],
  ])("%s %s overlapping it fails before the VM is created", async ([input, value], { mac }) => {
    const sim = await mac(opts);
    const r = await runStep("main", { sim, inputs: { [input!]: value! } });
    expect(r.code).not.toBe(0);
    const errs = errors(r.stdout);
    expect(errs, r.stdout.slice(-2000)).toHaveLength(1);
    expect(errs[0]).toContain(`${input} ${value}`);
    expect(errs[0]).toContain("192.168.65.0/24");
    expect(errs[0]).toContain("container network");
    expect(runCalls(sim)).toEqual([]);
  });
});

describe("the node's NO_PROXY", () => {
  test("holds the network the runtime reports, so node traffic stays off the proxy", async ({ mac }) => {
    const sim = await mac(WARM);
    const { main } = await runJob({
      sim,
      env: PROXY,
      afterMain: () => {
        const noProxy = nodeEnv(sim, "NO_PROXY")!;
        expect(noProxy.split(",")).toContain("127.0.64.0/24");
        expect(bypasses(noProxy, sim.node(NODE).ip)).toBe(true);
        expect(nodeEnv(sim, "no_proxy")).toBe(noProxy);
      },
    });
    expect(errors(main.stdout), main.stdout.slice(-2000)).toEqual([]);
    expect(main.code).toBe(0);
  });

  test("on macOS 15 (no network listing) is built from the node's own address and prefix", async ({
    mac,
  }) => {
    const sim = await mac({ ...WARM, macos: "15.6" });
    const { main } = await runJob({
      sim,
      env: PROXY,
      afterMain: () => {
        expect(bypasses(nodeEnv(sim, "NO_PROXY")!, sim.node(NODE).ip)).toBe(true);
      },
    });
    expect(errors(main.stdout), main.stdout.slice(-2000)).toEqual([]);
    expect(main.code).toBe(0);
  });
});

describe("the node's own address and prefix (everywhere)", () => {
  test("a pod subnet inside the node's network fails, naming the address inspect reports", async ({
    mac,
  }) => {
    // macOS 15: no listing to check beforehand. The simulated node reports 127.0.64.N/1, i.e. a network
    // 0.0.0.0/1 that holds the default pod subnet 10.244.0.0/16.
    const sim = await mac({ ...WARM, macos: "15.6", vmPrefix: 1 });
    const { main, post } = await runJob({ sim });
    expect(main.code).not.toBe(0);
    const errs = errors(main.stdout);
    expect(errs, main.stdout.slice(-2000)).toHaveLength(1);
    expect(errs[0]).toContain("pod-subnet 10.244.0.0/16");
    expect(errs[0]).toContain("0.0.0.0/1");
    expect(post.code).toBe(0);
    expect(sim.containers()).toEqual([]);
  });
});
