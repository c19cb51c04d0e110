// Issue 6: the kubeconfig's key material is registered with the runner (::add-mask::) and never shown,
// even in debug mode, in main or post, on success or failure, nor in the diagnostics files.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runJob, type StepResult } from "../sim/runner.ts";
import { startSimulator, type Simulator } from "../sim/simulator.ts";

const DEBUG = { ACTIONS_STEP_DEBUG: "true", RUNNER_DEBUG: "1" };

interface Secrets {
  /** Values that must never be shown. */
  values: string[];
  /** Values that must each be registered with ::add-mask::. */
  masked: string[];
}

/** The kubeconfig's client key and any token: the base64 value and the decoded PEM's body lines. */
function secretsOf(kubeconfig: string): Secrets {
  const doc = parse(readFileSync(kubeconfig, "utf8")) as { users: Array<{ user: Record<string, string> }> };
  const user = doc.users[0]!.user;
  const values: string[] = [];
  const key = user["client-key-data"];
  expect(key, "the kubeconfig has a client key").toBeTruthy();
  values.push(key!);
  const body = Buffer.from(key!, "base64")
    .toString()
    .split("\n")
    .filter((l) => l && !l.startsWith("-----"));
  expect(body.length).toBeGreaterThan(0);
  values.push(...body);
  if (user.token) values.push(user.token);
  return { values, masked: values };
}

/** What the runner shows: its own ::add-mask:: commands are consumed, never displayed. */
const displayed = (r: StepResult) =>
  (r.stdout + "\n" + r.stderr)
    .split("\n")
    .filter((l) => !l.startsWith("::add-mask::"))
    .join("\n");

const masks = (r: StepResult) =>
  r.stdout
    .split("\n")
    .filter((l) => l.startsWith("::add-mask::"))
    .map((l) => l.slice("::add-mask::".length));

function expectNotShown(secrets: Secrets, ...steps: StepResult[]) {
  for (const step of steps) {
    const shown = displayed(step);
    for (const s of secrets.values) expect(shown.includes(s), `secret shown: ${s.slice(0, 12)}…`).toBe(false);
  }
}

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ images: ["docker.io/library/nginx:1.27"] });
});
afterAll(async () => sim?.stop());

describe("kubeconfig secrets, with step debug on", () => {
  it("are masked and never shown by a successful job", async () => {
    let secrets: Secrets | undefined;
    const { main, post } = await runJob({
      sim,
      env: DEBUG,
      afterMain: (m) => {
        const file = m.outputs.kubeconfig!;
        expect(statSync(file).mode & 0o777).toBe(0o600);
        secrets = secretsOf(file);
      },
    });
    expect(main.code, main.stdout.slice(-2000)).toBe(0);
    expect(post.code).toBe(0);
    expect(masks(main)).toEqual(expect.arrayContaining(secrets!.masked));
    expectNotShown(secrets!, main, post);
  });

  it("are never shown by a failed job, its diagnostics or its post step", async () => {
    // The last step, after the kubeconfig exists: the failure collects everything the API and the
    // node say. (Before issue 11 this failed the kubelet restart, which no longer happens.)
    sim.faults.push({
      when: /^ctr -n k8s\.io images import/, // in the node
      times: 1,
      code: 1,
      stderr: "ctr: content digest sha256:0000: not found",
    });
    let secrets: Secrets | undefined;
    const { main, post } = await runJob({
      sim,
      env: DEBUG,
      inputs: { "load-images": "nginx:1.27" },
      afterMain: () => {
        secrets = secretsOf(join(sim.runnerTemp, "kina.kubeconfig"));
      },
    });
    expect(main.code).not.toBe(0);
    expect(post.code).toBe(0);
    expect(masks(main)).toEqual(expect.arrayContaining(secrets!.masked));
    expectNotShown(secrets!, main, post);
    // Artifacts are not masked by the runner: the diagnostics folder must be clean too.
    const dir = main.outputs.diagnostics!;
    const files = readdirSync(dir);
    expect(files).toContain("nodes.txt");
    for (const f of files) {
      const text = readFileSync(join(dir, f), "utf8");
      for (const s of secrets!.values) expect(text.includes(s), `${f} holds a secret`).toBe(false);
    }
    // kubeadm's join token is blanked in the written kubeadm output.
    const kubeadm = readFileSync(join(dir, "kubeadm-init.txt"), "utf8");
    expect(kubeadm).toContain("--token ***");
  });
});
