// prepareNode in a simulated node VM: a real shell, sysctl and iptables in the node's own network
// namespace, with the iptables backend kindest/node's entrypoint selected.
import { afterEach, describe, expect, it } from "vitest";
import { ContainerCli } from "../../src/container/cli.js";
import { prepareNode } from "../../src/steps/prepare-node.js";
import { hostShell, startSimulator, type Simulator } from "../sim/simulator.ts";

const NODE = "kina-control-plane";
let sim: Simulator | undefined;
const saved = { ...process.env };

afterEach(async () => {
  await sim?.stop();
  sim = undefined;
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

async function preparedNode(mode: "nft" | "legacy"): Promise<Simulator> {
  sim = await startSimulator({ serviceRunning: true, kernelInstalled: true, iptablesMode: mode });
  Object.assign(process.env, sim.env);
  const run = await hostShell(
    sim,
    `container run -d --name ${NODE} --cap-add ALL --read-only-path NONE --masked-path NONE kindest/node:v1.37.0`,
  );
  expect(run.code, run.stderr).toBe(0);
  await prepareNode(new ContainerCli(), { name: NODE, ip: sim.node(NODE).ip, mtu: 1280, apiPort: 0 });
  return sim;
}

const rules = async (s: Simulator, tool: string) =>
  (await s.execInNode(NODE, [tool, "-t", "mangle", "-S"])).stdout
    .split("\n")
    .filter((l) => l.startsWith("-A"));

const CLAMP = [
  "-A OUTPUT -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1220",
  "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1220",
];

describe("prepareNode", () => {
  it.each(["legacy", "nft"] as const)(
    "clamps the MSS in the backend the entrypoint selected (%s), where kube-proxy and ptp put theirs",
    async (mode) => {
      const s = await preparedNode(mode);
      const other = mode === "nft" ? "legacy" : "nft";
      expect(await rules(s, `iptables-${mode}`)).toEqual(expect.arrayContaining(CLAMP));
      expect(await rules(s, `iptables-${other}`)).toEqual([]);
      expect((await s.execInNode(NODE, ["cat", "/proc/sys/net/ipv4/ip_forward"])).stdout).toBe("1\n");
      expect(
        (await s.execInNode(NODE, ["cat", "/etc/containerd/conf.d/native-snapshotter.toml"])).stdout,
      ).toContain('snapshotter = "native"');
    },
  );
});
