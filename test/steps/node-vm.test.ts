import { describe, expect, it } from "vitest";
import { proxyEnv, runArgs } from "../../src/steps/node-vm.js";
import { inputs } from "../fixtures/inputs.ts";

function flagValues(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

describe("runArgs", () => {
  const env = {
    RUNNER_NAME: "mac-1",
    GITHUB_REPOSITORY: "o/r",
    GITHUB_RUN_ID: "7",
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_JOB: "e2e",
  };

  it("names, sizes, labels and publishes the node", () => {
    const args = runArgs({
      inputs: inputs({ cpus: "4", memory: "6G" }),
      cliVersion: "1.2.2",
      apiPort: 50123,
      env,
    });
    expect(args.slice(0, 4)).toEqual(["run", "-d", "--name", "kina-control-plane"]);
    expect(flagValues(args, "-c")).toEqual(["4"]);
    expect(flagValues(args, "-m")).toEqual(["6144M"]);
    expect(flagValues(args, "-l")).toEqual([
      "io.kina.created-by=kina-setup-cluster",
      "io.kina.cluster=kina",
      "io.kina.role=control-plane",
      "io.kina.runner=mac-1",
      "io.kina.job=o/r/7/1/e2e",
    ]);
    expect(flagValues(args, "-p")).toEqual(["127.0.0.1:50123:6443"]);
    expect(args.at(-1)).toMatch(/^kindest\/node:v1\.37\.0@sha256:/);
  });

  it("asks only for what the installed CLI supports", () => {
    const flags = (v: string) => runArgs({ inputs: inputs(), cliVersion: v, apiPort: 1, env });
    expect(flagValues(flags("1.2.2"), "--cap-add")).toEqual(["ALL"]);
    expect(flagValues(flags("1.2.2"), "--read-only-path")).toEqual(["NONE"]);
    expect(flagValues(flags("1.2.2"), "--masked-path")).toEqual(["NONE"]);
    expect(flags("1.2.0")).not.toContain("--read-only-path");
    expect(flagValues(flags("1.2.0"), "--cap-add")).toEqual(["ALL"]);
    expect(flags("0.11.0")).not.toContain("--cap-add");
  });

  it("sizes the node from the host when cpus and memory are empty", () => {
    const args = runArgs({ inputs: inputs(), cliVersion: "1.2.2", apiPort: 1, env });
    expect(Number(flagValues(args, "-c")[0])).toBeGreaterThanOrEqual(2);
    expect(Number(flagValues(args, "-m")[0]!.replace("M", ""))).toBeGreaterThanOrEqual(2048);
  });
});

describe("proxyEnv", () => {
  it("passes nothing without a proxy", () => {
    expect(proxyEnv({}, inputs())).toEqual([]);
  });
  it("passes the proxy and keeps the cluster's own ranges off it", () => {
    const out = proxyEnv(
      { https_proxy: "http://proxy:3128", NO_PROXY: "corp.example" },
      inputs({ "pod-subnet": "10.200.0.0/16" }),
    );
    expect(out).toContain("HTTPS_PROXY=http://proxy:3128");
    expect(out).toContain("https_proxy=http://proxy:3128");
    const noProxy = out
      .find((e) => e.startsWith("NO_PROXY="))!
      .split("=")[1]!
      .split(",");
    expect(noProxy).toEqual(
      expect.arrayContaining([
        "corp.example",
        "192.168.0.0/16",
        "10.200.0.0/16",
        "10.96.0.0/12",
        "kina-control-plane",
        "127.0.0.1",
      ]),
    );
    expect(out.some((e) => e.startsWith("HTTP_PROXY="))).toBe(false);
  });
});
