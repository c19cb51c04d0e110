// Issue 6: the kubeconfig's key material is registered with the runner (::add-mask::) and never shown,
// even in debug mode, in main or post, on success or failure, nor in the diagnostics files.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { parse } from "yaml";
import { startDownloadServer, type DownloadServer } from "../sim/download-server.ts";
import { errors, runJob, runStep, type StepResult } from "../sim/runner.ts";
import { describe, expect, test } from "../fixtures/mac.ts";

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

/** The values registered with ::add-mask::, unescaped as the runner reads a command's data. */
const masks = (r: StepResult) =>
  r.stdout
    .split("\n")
    .filter((l) => l.startsWith("::add-mask::"))
    .map((l) =>
      l.slice("::add-mask::".length).replace(/%0D/g, "\r").replace(/%0A/g, "\n").replace(/%25/g, "%"),
    );

function expectNotShown(secrets: Secrets, ...steps: StepResult[]) {
  for (const step of steps) {
    const shown = displayed(step);
    for (const s of secrets.values) expect(shown.includes(s), `secret shown: ${s.slice(0, 12)}…`).toBe(false);
  }
}

describe("kubeconfig secrets, with step debug on", () => {
  test("are masked and never shown by a successful job", async ({ mac }) => {
    const sim = await mac();
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

  test("are never shown by a failed job, its diagnostics or its post step", async ({ mac }) => {
    const sim = await mac({ images: ["docker.io/library/nginx:1.27"] });
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

// Issue 12: proxy credentials in the runner's environment, in any case of the variable's name and
// percent-encoded or not, are masked before anything is printed, and written to no diagnostics file.
describe("proxy credentials, with step debug on", () => {
  const PASSWORDS = ["S3cr3t-P@ss", "lower-case-pw", "socks-pw-77", "no-proxy-pw-5"];
  const ENV = {
    ...DEBUG,
    // '@' in a password is percent-encoded in a URL; people also leave it raw.
    HTTPS_PROXY: "http://ci-bot:S3cr3t-P%40ss@proxy.example:3128",
    http_proxy: "http://ci-bot:lower-case-pw@proxy.example:3128",
    all_proxy: "socks5://ci-bot:socks-pw-77@proxy.example:1080",
    NO_PROXY: "localhost,127.0.0.1,http://svc:no-proxy-pw-5@mirror.example",
  };
  /** Every form a password can take on its way to the log. */
  const forms = PASSWORDS.flatMap((p) => [p, encodeURIComponent(p)]);

  function expectClean(...steps: StepResult[]) {
    for (const step of steps) {
      const shown = displayed(step);
      for (const s of forms) expect(shown.includes(s), `password shown: ${s}`).toBe(false);
    }
  }

  test("are masked and never shown, and still reach the node", async ({ mac }) => {
    const sim = await mac();
    const { main, post } = await runJob({
      sim,
      env: ENV,
      afterMain: () => {
        const env = sim.node("kina-control-plane").spec.env;
        expect(env).toContain(`HTTPS_PROXY=${ENV.HTTPS_PROXY}`);
        expect(env).toContain(`https_proxy=${ENV.HTTPS_PROXY}`);
      },
    });
    expect(main.code, main.stdout.slice(-2000)).toBe(0);
    expect(post.code).toBe(0);
    expect(masks(main)).toEqual(expect.arrayContaining(["S3cr3t-P%40ss", "S3cr3t-P@ss", "lower-case-pw"]));
    expect(masks(post)).toEqual(expect.arrayContaining(["S3cr3t-P%40ss", "S3cr3t-P@ss"]));
    expectClean(main, post);
    // The command line itself carries no value: `-e NAME` makes the CLI read it from its environment.
    const run = sim.calls.find((c) => c.tool === "container" && c.argv[0] === "run")!;
    for (const s of forms) expect(run.argv.join(" ")).not.toContain(s);
  });

  test("are in no diagnostics file of a failed job", async ({ mac }) => {
    const sim = await mac();
    // In the node, after the VM got its proxy environment: diagnostics collect the node's side too.
    sim.faults.push({
      when: /^kubeadm init/,
      times: 1,
      code: 1,
      stderr: "error execution phase wait-control-plane: the kubelet is not healthy",
    });
    const { main, post } = await runJob({ sim, env: ENV });
    expect(main.code).not.toBe(0);
    expect(post.code).toBe(0);
    expectClean(main, post);
    const dir = main.outputs.diagnostics!;
    const files = readdirSync(dir);
    expect(files).toContain("container-inspect.json");
    // The node's environment is in the inspect output; its proxy URL is there, without the password.
    expect(readFileSync(join(dir, "container-inspect.json"), "utf8")).toContain("proxy.example:3128");
    for (const f of files) {
      const text = readFileSync(join(dir, f), "utf8");
      for (const s of forms) expect(text.includes(s), `${f} holds ${s}`).toBe(false);
    }
  });
});

// Defect 10: mirror URLs with credentials in their userinfo or query.
describe("mirror URLs with credentials, with step debug on", () => {
  let dl: DownloadServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kina-e2e-mirror-"));
    dl = await startDownloadServer({ dir, installers: {}, kubectl: ["1.37.0"] });
  });
  afterAll(async () => {
    await dl.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const TOKENS = ["Mirr0r-Passw0rd", "Qu3ry-T0ken-77"];
  /** http://ci-bot:PASSWORD@127.0.0.1:PORT/…?token=TOKEN */
  const withCredentials = (url: string) =>
    `${url.replace("http://", `http://ci-bot:${TOKENS[0]}@`)}?token=${TOKENS[1]}&arch=arm64`;
  /** What the runner shows: our output with every registered value masked, as the runner masks it. */
  const shownByRunner = (r: StepResult) =>
    masks(r).reduce((text, m) => (m ? text.split(m).join("***") : text), displayed(r));

  test("are shown masked, and the kubectl checksum is fetched from the path, not after the query", async ({
    mac,
  }) => {
    const sim = await mac({
      serviceRunning: true,
      kernelInstalled: true,
      // Stop once kubectl is in place.
      faults: [{ when: /^container run /, code: 1, stderr: "Error: stop here" }],
    });
    const before = { ...dl.counters };
    const r = await runStep("main", {
      sim,
      env: DEBUG,
      inputs: { "kubectl-url": withCredentials(dl.kubectlUrl), "kubectl-version": "v1.37.0" },
    });
    expect(r.stdout, r.stdout.slice(-2000)).toContain("kubectl 1.37.0 on PATH");
    expect(dl.counters.sha256 - before.sha256).toBe(1);
    expect(dl.counters.notFound - before.notFound).toBe(0);
    // Our own lines mask every part of it; the tool cache's debug lines are masked by the runner.
    expect(r.stdout).toMatch(
      /Downloading http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:\d+\/release\/v1\.37\.0\/bin\/darwin\/arm64\/kubectl\?token=\*\*\*&arch=\*\*\*/,
    );
    for (const t of TOKENS) expect(shownByRunner(r).includes(t), `shown: ${t}`).toBe(false);
  });

  test("an installer URL that 404s is masked in the error, which says the release may not exist", async ({
    mac,
  }) => {
    const sim = await mac({ installedVersion: null });
    const r = await runStep("main", {
      sim,
      env: DEBUG,
      inputs: { "container-version": "1.3.1", "installer-url": withCredentials(dl.installerUrl) },
    });
    expect(r.code).not.toBe(0);
    const [err] = errors(r.stdout);
    expect(err).toMatch(
      /^Container CLI: the container 1\.3\.1 installer is not at http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:\d+\/\S+\?token=\*\*\*\S* \(HTTP 404\): release 1\.3\.1 may not exist on this mirror\. This action is tested with 1\.2\.1, 1\.2\.2, 1\.3\.1, 1\.4\.1, 1\.5\.0/,
    );
    for (const t of TOKENS) expect(shownByRunner(r).includes(t), `shown: ${t}`).toBe(false);
  });
});
