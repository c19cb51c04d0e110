// Issue 12: failures that explain themselves. Each case is a report from people running Kubernetes in
// Apple container VMs or self-hosted Mac runners; the ::error:: must say what is wrong and what to do,
// not pass on a socket error or advice that cannot help.
import { errors, runJob, runStep } from "../sim/runner.ts";
import type { Simulator } from "../sim/simulator.ts";
import { describe, expect, test, WARM } from "../fixtures/mac.ts";

const NODE = "kina-control-plane";
const containerCalls = (sim: Simulator, sub: string) =>
  sim.calls.filter((c) => c.tool === "container" && c.argv[0] === sub);

function oneError(stdout: string): string {
  const errs = errors(stdout);
  expect(errs, stdout.slice(-3000)).toHaveLength(1);
  return errs[0]!;
}

describe("the API server's published port resets or refuses connections", () => {
  // apple/container#1180 and #1702: without the macOS Local Network permission the port published on
  // 127.0.0.1 accepts and resets, or refuses; ddev/ddev#8656: the same with a Homebrew-installed CLI.
  test.for(["reset", "refuse"] as const)("%s: says so and names the known causes", async (mode, { mac }) => {
    const sim = await mac({ ...WARM, portForwarding: mode });
    const { main, post } = await runJob({ sim, timeoutMs: 90_000 });
    expect(main.code).not.toBe(0);
    const err = oneError(main.stdout);
    expect(err).toMatch(/127\.0\.0\.1:\d+/);
    expect(err).toContain(mode === "reset" ? "resets connections" : "refuses connections");
    expect(err).toContain("Local Network");
    expect(err).toContain("signed installer");
    // Defect 8: that the API server answers inside is checked, not assumed.
    expect(err).toContain("answers inside the node (its /livez says ok)");
    expect(err).not.toMatch(/^Untaint control plane: fetch failed/);
    expect(post.code).toBe(0);
    expect(sim.containers()).toEqual([]);
  });

  test("when the API server is down inside the node too, says so instead of blaming the port", async ({
    mac,
  }) => {
    // Defect 8: the API server stops right after main read the kubeconfig (kubeadm init had reached it).
    const sim = await mac(WARM);
    sim.faults.push({
      when: /^container exec kina-control-plane cat \/etc\/kubernetes\/admin\.conf/,
      times: 1,
      passThrough: true,
      run: () => sim.node(NODE).api?.stop(),
    });
    const { main, post } = await runJob({ sim, timeoutMs: 90_000 });
    expect(main.code).not.toBe(0);
    const err = oneError(main.stdout);
    expect(err).toMatch(
      /^API server port: the API server does not answer inside the node either \(`kubectl get --raw \/livez` in kina-control-plane: exit 1: The connection to the server .* was refused/,
    );
    expect(err).toMatch(/so the API server itself is down, not only 127\.0\.0\.1:\d+/);
    expect(err).not.toContain("Local Network");
    expect(post.code).toBe(0);
  });
});

describe("a runner outside a GUI login session", () => {
  test("is detected in preflight, with what works instead of the CLI's own advice", async ({ mac }) => {
    const sim = await mac({ launchdSession: "Background", kernelInstalled: true });
    const r = await runStep("main", { sim });
    expect(r.code).not.toBe(0);
    const err = oneError(r.stdout);
    expect(err).toMatch(/^Preflight: /);
    expect(err).toContain("launchctl managername");
    expect(err).toContain("Background");
    expect(err).toContain("LaunchAgent");
    // The CLI's advice is what failed; it must not be passed on.
    expect(err).not.toContain("Ensure container system service has been started");
    expect(containerCalls(sim, "system")).toEqual([]);
  });

  test("works when the user is logged in at the Mac (its GUI domain exists)", async ({ mac }) => {
    const sim = await mac({ ...WARM, serviceRunning: false, launchdSession: "Background", guiLogin: true });
    const { main } = await runJob({ sim });
    expect(errors(main.stdout), main.stdout.slice(-2000)).toEqual([]);
    expect(main.code).toBe(0);
  });
});

describe("a failing node script", () => {
  test("reports the step that failed, its exit code and output, not the whole script", async ({ mac }) => {
    const sim = await mac(WARM);
    sim.faults.push({
      when: /^systemctl restart containerd/, // in the node
      code: 1,
      stderr:
        'Job for containerd.service failed because the control process exited with error code.\nSee "systemctl status containerd.service" and "journalctl -xeu containerd.service" for details.',
    });
    const { main, post } = await runJob({ sim });
    expect(main.code).not.toBe(0);
    const err = oneError(main.stdout);
    expect(err).toMatch(/^Node preparation: /);
    expect(err).toContain("`systemctl restart containerd`");
    expect(err).toContain("exit 1");
    expect(err).toContain("Job for containerd.service failed");
    // Not the script: no other step's text.
    expect(err).not.toContain("native-snapshotter");
    expect(err).not.toContain("TCPMSS");
    expect(err.length).toBeLessThan(600);
    expect(post.code).toBe(0);
  });
});

describe("load-images", () => {
  test("an image the host does not have fails before the VM is created", async ({ mac }) => {
    const sim = await mac({ ...WARM, images: [...WARM.images!, "docker.io/library/nginx:1.27"] });
    const r = await runStep("main", {
      sim,
      inputs: { "load-images": "nginx:1.27\nregistry.example/team/app:missing" },
    });
    expect(r.code).not.toBe(0);
    const err = oneError(r.stdout);
    expect(err).toContain("load-images");
    expect(err).toContain("registry.example/team/app:missing");
    expect(err).not.toContain("nginx");
    expect(err).toContain("container image pull registry.example/team/app:missing");
    expect(containerCalls(sim, "run")).toEqual([]);
  });
});

describe("a Kubernetes version YAML read as a number", () => {
  test("gets a hint to quote it", async ({ mac }) => {
    // `kubernetes-version: 1.30` unquoted reaches the action as "1.3".
    const sim = await mac(WARM);
    const r = await runStep("main", { sim, inputs: { "kubernetes-version": "1.3" } });
    expect(r.code).not.toBe(0);
    const err = oneError(r.stdout);
    expect(err).toContain("kubernetes-version");
    expect(err).toContain('"1.30"');
    expect(err).toMatch(/quote/i);
    expect(sim.containers().filter((c) => c.name === NODE)).toEqual([]);
  });
});
