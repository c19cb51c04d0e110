import * as core from "@actions/core";
import type { KubeConfig } from "@kubernetes/client-node";
import { ContainerCli } from "./container/cli.js";
import { errorMessage, failureMessage, PhaseError } from "./errors.js";
import { parseInputs, type Inputs } from "./inputs.js";
import { phase, timings } from "./phase.js";
import { killAll } from "./process.js";
import { maskProxyCredentials, registerUrlSecrets } from "./secrets.js";
import { save, saved, STATE } from "./state.js";
import type { CsrApprover } from "./kube/csr-approver.js";
import { preflight } from "./steps/preflight.js";
import { ensureCli } from "./steps/cli.js";
import { ensureService } from "./steps/service.js";
import { ensureKernel } from "./steps/kernel.js";
import { ensureNodeImage } from "./steps/node-image.js";
import { ensureKubectl } from "./steps/kubectl.js";
import { cacheOpener } from "./cache/actions-cache.js";
import { createNodeVms, type NodeVm, type VmNode } from "./steps/node-vm.js";
import { prepareNode } from "./steps/prepare-node.js";
import { kubeadmInit } from "./steps/kubeadm-init.js";
import { kubeconfigPath, writeKubeconfig } from "./steps/kubeconfig.js";
import { installCni } from "./steps/cni.js";
import { checkApiPort } from "./steps/api-port.js";
import { checkLoadImages } from "./steps/load-images.js";
import { collectDiagnostics } from "./steps/diagnostics.js";
import { bounded } from "./kube/client.js";
import { register } from "./jobs.js";

async function run(): Promise<void> {
  // Before anything is printed: the runner masks what is registered from here on.
  maskProxyCredentials();
  let cli = new ContainerCli();
  let inputs: Inputs | undefined;
  let node: NodeVm | undefined;
  // Worker names as recorded in state (before each one's `container run`).
  const workerNames: string[] = [];
  let kubeconfig: string | undefined;
  let kubeadmOutput: string | undefined;
  let approver: CsrApprover | undefined;
  onCancel(() => approver?.stop());
  let diagnose = false;
  try {
    try {
      inputs = parseInputs({ get: (n) => core.getInput(n), getBoolean: (n) => core.getBooleanInput(n) });
    } catch (err) {
      throw new PhaseError("inputs", err);
    }
    const i = inputs;
    for (const w of i.warnings) core.warning(w);
    // Mirror URLs may carry tokens: masked before anything could print them.
    registerUrlSecrets(i.installerUrl);
    registerUrlSecrets(i.kubectlUrl);
    // The slow creation stages (VM start, kubeadm init) are bounded by `wait` too (container/bounds.ts).
    cli = new ContainerCli({ waitSeconds: i.waitSeconds });
    if (i.clusterNameGiven)
      core.notice(
        `cluster-name '${i.clusterNameGiven}' is used as '${i.clusterName}' (lowercase letters, digits, '-'` +
          (i.clusterName === i.clusterNameGiven.toLowerCase()
            ? ")."
            : "; it ends in a hash of the name as given, so names that differ in other characters stay distinct)."),
      );
    save(STATE.clusterName, i.clusterName);
    save(STATE.cleanup, String(i.cleanup));
    // Before the service is touched: another job's post step then leaves it running for this one.
    await register(process.env).catch((e: unknown) =>
      core.warning(
        `could not register this job as a user of the container service (${errorMessage(e)}); another job's post step may stop the service while this job uses it`,
      ),
    );

    const pf = await phase("Preflight", () => preflight({ workers: i.workers }));
    if (pf.warning) core.warning(pf.warning);
    // From here on a failure leaves evidence worth collecting; before, the error says it all.
    diagnose = true;
    // The Kubernetes client is most of the bundle's load time; load it while the VM work waits on the CLI.
    void import("@kubernetes/client-node").catch(() => undefined);
    const installed = await phase("Container CLI", () =>
      ensureCli(cli, {
        version: i.containerVersion,
        installerUrl: i.installerUrl,
        beforeStop: () => save(STATE.serviceStopped, "true"),
      }),
    );
    const cliVersion = installed.version;
    core.setOutput("container-version", cliVersion);
    await phase("Container service", () =>
      ensureService(cli, () => save(STATE.serviceStartedByUs, "true"), {
        stoppedForUpgrade: installed.stoppedService,
        cliVersion,
        beforeStop: () => save(STATE.serviceStopped, "true"),
      }),
    );
    // It runs again (ensureService): nothing for the post step to start.
    save(STATE.serviceStopped, "false");
    const openCache = cacheOpener(i.cache);
    const [kernel, image] = await phase("Kernel and node image", async () => {
      const got = await Promise.all([
        ensureKernel(cli, cliVersion, openCache),
        ensureNodeImage(cli, i.nodeImage, openCache),
      ]);
      // Before any VM exists: loading happens minutes later, once the cluster is up.
      await checkLoadImages(cli, i.loadImages);
      return got;
    });
    // Restores from the Actions cache count as hits: nothing came from upstream.
    const cacheHit = !kernel.downloaded && !image.pulled;
    const pendingSaves = [kernel.save, image.save].filter((p) => p !== undefined);
    if (pendingSaves.length) save(STATE.cacheSave, JSON.stringify(pendingSaves));
    await phase("kubectl", () =>
      ensureKubectl({ version: i.kubectlVersion, fallback: i.kubernetesVersion, url: i.kubectlUrl }),
    );

    const vms = await phase(i.workers ? "Node VMs" : "Node VM", () =>
      createNodeVms(cli, i, cliVersion, (name, role) => {
        if (role === "control-plane") return save(STATE.node, name);
        // Workers start in parallel: the whole list, re-saved before each one's `container run`.
        workerNames.push(name);
        save(STATE.workers, JSON.stringify(workerNames));
      }),
    );
    const vm = vms.controlPlane;
    const workers: VmNode[] = vms.workers;
    const allNodes: VmNode[] = [vm, ...workers];
    node = vm;
    await phase("Node preparation", async () => {
      const settled = await Promise.allSettled(allNodes.map((n) => prepareNode(cli, n)));
      const failed = settled.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    });
    await phase("CNI (ptp)", () => installCni(cli, vm, i));
    const init = await phase("kubeadm init", async () => {
      try {
        return await kubeadmInit(cli, vm, i);
      } catch (err) {
        kubeadmOutput = (err as { stderr?: string }).stderr;
        throw err;
      }
    });
    kubeadmOutput = init.output;

    const kcPath = kubeconfigPath(i.clusterName);
    save(STATE.kubeconfig, kcPath);
    const kcResult = await phase("Kubeconfig", () => writeKubeconfig(cli, vm, i.clusterName, kcPath));
    kubeconfig = kcResult.path;
    await phase("API server port", () => checkApiPort(kcResult.server, { cli, node: vm.name }));
    const { loadKubeConfig } = await import("./kube/client.js");
    const kc: KubeConfig = await loadKubeConfig(kcResult.path);
    if (i.approveCsrs) {
      const { startCsrApprover } = await import("./kube/csr-approver.js");
      // Each node with its own name and address: a CSR is judged against its requester's only.
      approver = startCsrApprover(
        kc,
        allNodes.map((n) => ({ nodeName: n.name, hostnames: [n.name], ips: [n.ip] })),
        core,
      );
    }
    // The budget counts from the start of readiness work, not the start of the job.
    const deadline = Date.now() + i.waitSeconds * 1000;
    let podCidrs: Map<string, string> | undefined;
    if (workers.length) {
      const { joinWorkers } = await import("./steps/join.js");
      await phase("Join workers", () => joinWorkers(cli, kc, vm, workers));
      const { setUpPodNetwork } = await import("./steps/pod-network.js");
      const net = await phase("Pod network", () =>
        setUpPodNetwork(cli, kc, vm, workers, { podSubnet: i.podSubnet, deadline }),
      );
      podCidrs = new Map(net.map((n) => [n.name, n.podCidr.text]));
    } else {
      // As kind does (kubeadminit/init.go untaints only a single node): with workers the control plane
      // keeps its NoSchedule taint, so workloads land on workers.
      const { untaintNode } = await import("./steps/untaint.js");
      await phase("Untaint control plane", () => untaintNode(kc, vm.name));
    }
    const { waitReady } = await import("./steps/readiness.js");
    await phase("Readiness", () =>
      waitReady(kc, { nodeNames: allNodes.map((n) => n.name), deadline, servingCertificate: i.approveCsrs }),
    );
    if (i.loadImages.length) {
      const { loadImages } = await import("./steps/load-images.js");
      await phase("Load images", () => loadImages(cli, allNodes, i.loadImages));
    }

    let version = i.kubernetesVersion ? `v${i.kubernetesVersion}` : undefined;
    if (!version) {
      const { VersionApi } = await import("@kubernetes/client-node");
      version = (await kc.makeApiClient(VersionApi).getCode(await bounded())).gitVersion;
    }
    core.setOutput("kubeconfig", kcResult.path);
    core.setOutput("node-ip", vm.ip);
    core.setOutput("node-ips", allNodes.map((n) => n.ip).join("\n"));
    core.setOutput("cluster-name", i.clusterName);
    core.setOutput("kubernetes-version", version);
    core.setOutput("api-server", kcResult.server);
    core.setOutput("cache-hit", String(cacheHit));
    core.exportVariable("KUBECONFIG", kcResult.path);
    await writeSummary({
      clusterName: i.clusterName,
      version,
      cliVersion,
      nodeIp: vm.ip,
      server: kcResult.server,
      cacheHit,
      ...(workers.length
        ? { nodes: allNodes.map((n) => ({ name: n.name, ip: n.ip, podCidr: podCidrs?.get(n.name) ?? "" })) }
        : {}),
    });
  } catch (err) {
    const diagnostics =
      inputs && diagnose
        ? await collectDiagnostics(cli, {
            clusterName: inputs.clusterName,
            // Recorded before `container run`: its boot log explains a node that never came up.
            node: node?.name ?? saved(STATE.node),
            workers: workerNames,
            kubeconfig,
            kubeadmOutput,
            error: err,
          }).catch((e: unknown) => {
            core.warning(`could not collect diagnostics: ${errorMessage(e)}`);
            return undefined;
          })
        : undefined;
    if (diagnostics) core.setOutput("diagnostics", diagnostics);
    core.setFailed(failureMessage(err));
  } finally {
    // Leave once the work is done. With an API server that stopped answering, the approver's watch and
    // any request aborted in its TLS handshake hold on until undici's 10 s connect timeout.
    await settledWithin(approver?.stop(), 2000);
    await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
    process.exit();
  }
}

/** Waits for `p` to settle, but no longer than `ms`. */
async function settledWithin(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    p?.catch(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

async function writeSummary(s: {
  clusterName: string;
  version: string;
  cliVersion: string;
  nodeIp: string;
  server: string;
  cacheHit: boolean;
  /** With workers: one row per node. */
  nodes?: Array<{ name: string; ip: string; podCidr: string }>;
}): Promise<void> {
  const rows = [
    [
      { data: "Cluster", header: true },
      { data: "Value", header: true },
    ],
    ["Name", s.clusterName],
    ["Kubernetes", s.version],
    ["container CLI", s.cliVersion],
    ["Node IP", s.nodeIp],
    ["API server", s.server],
    ["Cache hit", String(s.cacheHit)],
  ];
  const phaseRows = [
    [
      { data: "Phase", header: true },
      { data: "Seconds", header: true },
    ],
    ...timings.map((t) => [t.phase, t.seconds.toFixed(2)]),
  ];
  const summary = core.summary.addHeading(`Kubernetes cluster ${s.clusterName}`, 3).addTable(rows);
  if (s.nodes)
    summary.addTable([
      [
        { data: "Node", header: true },
        { data: "VM address", header: true },
        { data: "podCIDR", header: true },
      ],
      ...s.nodes.map((n) => [n.name, n.ip, n.podCidr]),
    ]);
  await summary.addTable(phaseRows).write();
}

/**
 * The runner cancels a step with SIGINT to this process, SIGTERM 7.5 s later, then kills the tree.
 * Node would die silently; say where creation stopped and exit at once. Everything created is already
 * in the state, so the post step (post-if: always()) removes it.
 */
function onCancel(stop: () => Promise<void> | undefined): void {
  let cancelled = false;
  const handler = (signal: NodeJS.Signals) => {
    if (cancelled) process.exit(1);
    cancelled = true;
    // No `container` call outlives the job's cancellation.
    killAll();
    const last = timings.at(-1)?.phase;
    core.setFailed(
      `Cancelled (${signal}) ${last ? `after the phase "${last}"` : "before any phase ended"}; the post step removes what was created.`,
    );
    void settledWithin(stop(), 2000).finally(() => process.stdout.write("", () => process.exit(1)));
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}

await run();
