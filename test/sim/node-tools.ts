// The node's own tools (kubeadm, systemctl, ctr, crictl, journalctl, kubectl), answering from the
// host for the VM the call came from. Files are read from and written to the node's root filesystem.
/* eslint-disable @typescript-eslint/no-explicit-any -- kubeadm documents and API objects are untyped YAML/JSON */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join, posix } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import "reflect-metadata";
import { createHash } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { startApiServer, type ApiServer } from "./kube/apiserver.ts";
import { PodCidrAllocator } from "./kube/cluster.ts";
import { resourceFor, apiVersionOf } from "./kube/store.ts";
import { readAll, type Ctx } from "./ctx.ts";
import { decodeArchive, digestOf, normalizeRef, refMatches } from "./images.ts";
import { now, type Vm } from "./vm.ts";

const inNode = (vm: Vm, path: string, cwd = "/") => join(vm.rootfs, posix.resolve(cwd, path));

export async function nodeTool(ctx: Ctx): Promise<number> {
  const vm = ctx.vm!;
  switch (ctx.tool) {
    case "kubeadm":
      return kubeadm(ctx, vm);
    case "systemctl":
      return systemctl(ctx, vm);
    case "ctr":
      return ctr(ctx, vm);
    case "crictl":
      return crictl(ctx, vm);
    case "journalctl":
      return journalctl(ctx, vm);
    case "kubectl":
      return kubectl(ctx, vm);
    default:
      ctx.err(`${ctx.tool}: not simulated\n`);
      return 127;
  }
}

/** The node's Kubernetes version: the image tag (kindest/node:v1.35.8). */
export function nodeKubernetesVersion(vm: Vm): string | undefined {
  return /:v?(\d+\.\d+\.\d+)(?:[@]|$)/.exec(vm.spec.image)?.[1];
}

/** Reads a sysctl in the node's network namespace (what kubeadm's preflight sees). */
function nodeSysctl(vm: Vm, key: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    let out = "";
    void vm
      .exec(["cat", `/proc/sys/${key.replace(/\./g, "/")}`], {
        env: {},
        stdout: (d) => (out += d.toString()),
        stderr: () => {},
      })
      .then((code) => resolve(code === 0 ? out.trim() : undefined));
  });
}

// ---------------------------------------------------------------- kubeadm

function splitList(values: string[]): string[] {
  return values
    .flatMap((v) => v.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
}

function flagValues(argv: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === name) out.push(argv[++i] ?? "");
    else if (a.startsWith(`${name}=`)) out.push(a.slice(name.length + 1));
  }
  return out;
}

const cidrOk = (s: unknown) =>
  typeof s === "string" && s.split(",").every((c) => /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(c.trim()));

/** The objects of a multi-document YAML file, or kubeadm's error for one it cannot parse. */
function yamlDocuments(text: string): { error: string } | { docs: any[] } {
  try {
    const docs = parseAllDocuments(text).map((d) => {
      if (d.errors.length) throw new Error(d.errors[0]!.message);
      return d.toJS();
    });
    return { docs: docs.filter((d) => d && typeof d === "object") };
  } catch (e) {
    return { error: `error converting YAML to JSON: yaml: ${(e as Error).message}` };
  }
}

/** Checks a kubeadm config the way kubeadm init would reject it; returns the error text or the parsed config. */
export function validateKubeadmConfig(
  text: string,
  vm: Vm,
): { error: string } | { init: any; cluster: any; kubelet: any; kubeProxy: any; warnings: string[] } {
  const parsed = yamlDocuments(text);
  if ("error" in parsed) return parsed;
  const docs = parsed.docs;
  const warnings: string[] = [];
  let init: any;
  let cluster: any;
  let kubelet: any;
  let kubeProxy: any;
  for (const d of docs) {
    const gv = String(d.apiVersion ?? "");
    const kind = String(d.kind ?? "");
    if (!gv || !kind)
      return {
        error: `invalid configuration: kind and apiVersion is mandatory information that must be specified`,
      };
    if (kind === "InitConfiguration" || kind === "ClusterConfiguration" || kind === "JoinConfiguration") {
      if (gv !== "kubeadm.k8s.io/v1beta4") {
        return {
          error: `your configuration file uses an old API spec: "${gv}". Please use kubeadm.k8s.io/v1beta4 ('kubeadm config migrate --old-config old.yaml --new-config new.yaml')`,
        };
      }
      if (kind === "InitConfiguration") init = d;
      if (kind === "ClusterConfiguration") cluster = d;
    } else if (kind === "KubeletConfiguration" && gv === "kubelet.config.k8s.io/v1beta1") kubelet = d;
    else if (kind === "KubeProxyConfiguration" && gv === "kubeproxy.config.k8s.io/v1alpha1") kubeProxy = d;
    else
      warnings.push(
        `[config] WARNING: Ignored configuration document with GroupVersionKind ${gv}, Kind=${kind}`,
      );
  }
  if (!init) return { error: "no InitConfiguration found in the config file" };
  if (!cluster) return { error: "no ClusterConfiguration found in the config file" };
  const problems: string[] = [];
  const adv = init.localAPIEndpoint?.advertiseAddress;
  if (adv === undefined) problems.push("localAPIEndpoint.advertiseAddress: Required value");
  else if (adv !== vm.ip)
    problems.push(
      `localAPIEndpoint.advertiseAddress: Invalid value: "${adv}": not an address of this node (${vm.ip})`,
    );
  const port = init.localAPIEndpoint?.bindPort;
  if (port !== undefined && port !== 6443)
    problems.push(`localAPIEndpoint.bindPort: Invalid value: ${port}: the node publishes 6443`);
  const extra = init.nodeRegistration?.kubeletExtraArgs;
  if (extra !== undefined && !Array.isArray(extra)) {
    return {
      error: `error unmarshaling JSON: while decoding JSON: json: cannot unmarshal object into Go struct field NodeRegistrationOptions.nodeRegistration.kubeletExtraArgs of type []v1beta4.Arg`,
    };
  }
  const cmArgs = cluster.controllerManager?.extraArgs;
  if (cmArgs !== undefined && !Array.isArray(cmArgs)) {
    return {
      error: `error unmarshaling JSON: while decoding JSON: json: cannot unmarshal object into Go struct field ControlPlaneComponent.controllerManager.extraArgs of type []v1beta4.Arg`,
    };
  }
  const cri = init.nodeRegistration?.criSocket;
  if (
    cri !== undefined &&
    cri !== "unix:///run/containerd/containerd.sock" &&
    cri !== "unix:///var/run/containerd/containerd.sock"
  ) {
    problems.push(`nodeRegistration.criSocket: Invalid value: "${cri}": no container runtime listens there`);
  }
  const net = cluster.networking ?? {};
  if (!net.podSubnet) problems.push("networking.podSubnet: Required value");
  else if (!cidrOk(net.podSubnet))
    problems.push(`networking.podSubnet: Invalid value: "${net.podSubnet}": couldn't parse subnet`);
  if (!net.serviceSubnet) problems.push("networking.serviceSubnet: Required value");
  else if (!cidrOk(net.serviceSubnet))
    problems.push(`networking.serviceSubnet: Invalid value: "${net.serviceSubnet}": couldn't parse subnet`);
  const want = nodeKubernetesVersion(vm);
  const kv = cluster.kubernetesVersion ? String(cluster.kubernetesVersion).replace(/^v/, "") : undefined;
  if (want && kv && kv.split(".").slice(0, 2).join(".") !== want.split(".").slice(0, 2).join(".")) {
    return {
      error: `this version of kubeadm only supports deploying clusters with the control plane version >= ${want.replace(/\.\d+$/, ".0")}. Current version: v${kv}`,
    };
  }
  if (kv && want && kv !== want)
    warnings.push(`[init] WARNING: kubeadm v${want} and control plane v${kv} differ; images would be pulled`);
  const certSANs = cluster.apiServer?.certSANs;
  if (certSANs !== undefined && !Array.isArray(certSANs))
    problems.push("apiServer.certSANs: Invalid value: must be a list");
  if (problems.length) return { error: problems.join("\n") };
  return { init, cluster, kubelet, kubeProxy, warnings };
}

/**
 * The preflight checks `kubeadm init` and `join` share, on top of `errors` already found; prints the
 * ignored ones as warnings. False (and the error report printed) when any is fatal.
 */
async function preflightPasses(
  ctx: Ctx,
  vm: Vm,
  errors: Array<[string, string]>,
  ignored: Set<string>,
): Promise<boolean> {
  if (!existsSync(join(vm.rootfs, "run/containerd/containerd.sock"))) {
    errors.push([
      "CRI",
      'container runtime is not running: output: time="now" level=fatal msg="validate service connection: validate CRI v1 runtime API for endpoint \\"unix:///run/containerd/containerd.sock\\": rpc error: code = Unavailable desc = connection error: desc = \\"transport: Error while dialing: dial unix /run/containerd/containerd.sock: connect: no such file or directory\\""\n, error: exit status 1',
    ]);
  }
  if ((await nodeSysctl(vm, "net.ipv4.ip_forward")) !== "1") {
    errors.push([
      "FileContent--proc-sys-net-ipv4-ip_forward",
      "/proc/sys/net/ipv4/ip_forward contents are not set to 1",
    ]);
  }
  if (!ctx.sim.opts.bridgeNetfilter) {
    errors.push([
      "FileContent--proc-sys-net-bridge-bridge-nf-call-iptables",
      "/proc/sys/net/bridge/bridge-nf-call-iptables does not exist",
    ]);
  }
  const fatal = errors.filter(([n]) => !ignored.has(n.toLowerCase()) && !ignored.has("all"));
  for (const [n, m] of errors.filter((e) => !fatal.includes(e))) ctx.err(`\t[WARNING ${n}]: ${m}\n`);
  if (fatal.length) {
    ctx.err(
      "error execution phase preflight: [preflight] Some fatal errors occurred:\n" +
        fatal.map(([n, m]) => `\t[ERROR ${n}]: ${m}\n`).join("") +
        "[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`\n" +
        "To see the stack trace of this error execute with --v=5 or higher\n",
    );
    return false;
  }
  return true;
}

/**
 * kube-controller-manager's node CIDR flags as kubeadm sets them: `allocate-node-cidrs=true` and
 * `cluster-cidr=<podSubnet>` when networking.podSubnet is set, then controllerManager.extraArgs on
 * top (cmd/kubeadm/app/phases/controlplane/manifests.go); the mask defaults to 24 (IPv4).
 */
function nodeCidrFlags(cluster: any): { allocate: boolean; clusterCidr: string; maskSize: number } {
  const args = new Map<string, string>(
    ((cluster.controllerManager?.extraArgs as any[] | undefined) ?? []).map((a) => [
      String(a?.name),
      String(a?.value),
    ]),
  );
  const podSubnet = cluster.networking?.podSubnet as string | undefined;
  const allocate = (args.get("allocate-node-cidrs") ?? (podSubnet ? "true" : "false")) === "true";
  const clusterCidr = args.get("cluster-cidr") ?? podSubnet ?? "";
  const maskSize = Number(args.get("node-cidr-mask-size-ipv4") ?? args.get("node-cidr-mask-size") ?? 24);
  return { allocate, clusterCidr, maskSize };
}

async function kubeadm(ctx: Ctx, vm: Vm): Promise<number> {
  const [sub, ...args] = ctx.argv;
  const version = nodeKubernetesVersion(vm) ?? "1.35.8";
  if (sub === "version") {
    if (args.includes("short") || args.includes("-o=short")) ctx.out(`v${version}\n`);
    else
      ctx.out(
        `kubeadm version: &version.Info{Major:"1", Minor:"${version.split(".")[1]}", GitVersion:"v${version}", Platform:"linux/arm64"}\n`,
      );
    return 0;
  }
  if (sub === "reset") {
    await vm.api?.stop();
    vm.api = undefined;
    vm.joined = undefined;
    vm.kubeadmConfig = undefined;
    rmSync(join(vm.rootfs, "etc/kubernetes/manifests"), { recursive: true, force: true });
    mkdirSync(join(vm.rootfs, "etc/kubernetes/manifests"));
    for (const f of [
      "admin.conf",
      "super-admin.conf",
      "kubelet.conf",
      "controller-manager.conf",
      "scheduler.conf",
    ]) {
      rmSync(join(vm.rootfs, "etc/kubernetes", f), { force: true });
    }
    vm.units.set("kubelet", "activating");
    vm.mark("kubeadm-reset");
    ctx.out("[reset] Deleted contents of the etcd data directory: /var/lib/etcd\n");
    return 0;
  }
  if (sub === "join") return kubeadmJoin(ctx, vm, args);
  if (sub !== "init") {
    ctx.err(`unknown command "${sub ?? ""}" for "kubeadm"\nRun 'kubeadm --help' for usage.\n`);
    return 1;
  }
  const configPath = flagValues(args, "--config")[0];
  if (!configPath) {
    ctx.err("kina-sim: kubeadm init without --config is not simulated\n");
    return 1;
  }
  const ignored = new Set(
    splitList(flagValues(args, "--ignore-preflight-errors")).map((s) => s.toLowerCase()),
  );
  const skipped = new Set(splitList(flagValues(args, "--skip-phases")));
  const file = inNode(vm, configPath, ctx.cwd);
  if (!existsSync(file)) {
    ctx.err(
      `unable to read config from "${configPath}" : open ${configPath}: no such file or directory\nTo see the stack trace of this error execute with --v=5 or higher\n`,
    );
    return 1;
  }
  const checked = validateKubeadmConfig(readFileSync(file, "utf8"), vm);
  if ("error" in checked) {
    ctx.err(`${checked.error}\nTo see the stack trace of this error execute with --v=5 or higher\n`);
    return 1;
  }
  for (const w of checked.warnings) ctx.err(`${w}\n`);
  for (const s of [
    ...splitList(flagValues(args, "--skip-phases")),
    ...((checked.init.skipPhases as string[] | undefined) ?? []),
  ])
    skipped.add(s);
  const nodeName = String(checked.init.nodeRegistration?.name ?? vm.name);
  ctx.out(
    `[init] Using Kubernetes version: v${String(checked.cluster.kubernetesVersion ?? version).replace(/^v/, "")}\n`,
  );

  if (!skipped.has("preflight")) {
    ctx.out("[preflight] Running pre-flight checks\n");
    const errors: Array<[string, string]> = [];
    if (vm.api || existsSync(join(vm.rootfs, "etc/kubernetes/manifests/kube-apiserver.yaml"))) {
      errors.push(["Port-6443", "Port 6443 is in use"]);
      for (const c of ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"]) {
        errors.push([
          `FileAvailable--etc-kubernetes-manifests-${c}.yaml`,
          `/etc/kubernetes/manifests/${c}.yaml already exists`,
        ]);
      }
    }
    if (!(await preflightPasses(ctx, vm, errors, ignored))) return 1;
  } else if (vm.api) {
    ctx.err(
      "error execution phase certs/ca: failure loading ca certificate: the certificate is already in use\n",
    );
    return 1;
  }

  ctx.out(
    '[certs] Using certificateDir folder "/etc/kubernetes/pki"\n[kubeconfig] Writing "admin.conf" kubeconfig file\n',
  );
  ctx.out(
    "[control-plane] Creating static Pod manifests\n[wait-control-plane] Waiting for the kubelet to boot up the control plane\n",
  );
  const cidrs = nodeCidrFlags(checked.cluster);
  if (cidrs.allocate) {
    try {
      new PodCidrAllocator(cidrs.clusterCidr, cidrs.maskSize);
    } catch (e) {
      // The controller-manager exits at start; kubeadm's control-plane check then gives up.
      ctx.err(
        `[control-plane-check] kube-controller-manager is not healthy: ${(e as Error).message}\n` +
          "error execution phase wait-control-plane: failed while waiting for the control plane to start\n",
      );
      return 1;
    }
  }
  vm.kubeadmConfig = {
    init: checked.init,
    cluster: checked.cluster,
    kubelet: checked.kubelet,
    kubeProxy: checked.kubeProxy,
  };
  vm.mark("kubeadm-init-start");
  await ctx.sim.sleep(ctx.sim.latency.kubeadmInitMs, ctx.signal);
  if (vm.state !== "running") return 137;
  const kubernetesVersion = `v${String(checked.cluster.kubernetesVersion ?? version).replace(/^v/, "")}`;
  const api = await startApiServer({
    listen: [{ host: vm.ip, port: 6443 }],
    nodeName,
    nodeIP: vm.ip,
    certSANs: ((checked.cluster.apiServer?.certSANs as unknown[] | undefined) ?? []).map(String),
    kubernetesVersion,
    clusterName: String(checked.cluster.clusterName ?? "kubernetes"),
    corednsDelayMs: ctx.sim.latency.corednsMs,
    allocateNodeCidrs: cidrs.allocate,
    clusterCidr: cidrs.clusterCidr,
    nodeCidrMaskSize: cidrs.maskSize,
  });
  if (vm.state !== "running") {
    await api.stop();
    return 137;
  }
  vm.api = api;
  vm.kubeadmInitAt = now();
  const k = (p: string) => join(vm.rootfs, "etc/kubernetes", p);
  const url = `https://${vm.ip}:6443`;
  writeFileSync(k("admin.conf"), api.adminKubeconfig(url), { mode: 0o600 });
  writeFileSync(k("super-admin.conf"), api.adminKubeconfig(url), { mode: 0o600 });
  writeFileSync(k("kubelet.conf"), api.adminKubeconfig(url), { mode: 0o600 });
  writeFileSync(k("pki/ca.crt"), api.ca.certPem);
  writeFileSync(k("pki/ca.key"), api.ca.keyPem, { mode: 0o600 });
  for (const c of ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"]) {
    writeFileSync(
      k(`manifests/${c}.yaml`),
      stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: c, namespace: "kube-system" } }),
    );
  }
  vm.units.set("kubelet", "active");
  vm.mark("kubeadm-init");
  // The kubelet kubeadm started picks up a CNI config that was already in place.
  maybeStartKubelet(ctx, vm, "kubeadm-init");
  ctx.out(
    [
      '[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" Namespace',
      `[mark-control-plane] Marking the node ${nodeName} as control-plane by adding the taints [node-role.kubernetes.io/control-plane:NoSchedule]`,
      "[addons] Applied essential addon: CoreDNS",
      "[addons] Applied essential addon: kube-proxy",
      "",
      "Your Kubernetes control-plane has initialized successfully!",
      "",
      "To start using your cluster, you need to run the following as a regular user:",
      "",
      "  mkdir -p $HOME/.kube",
      "  sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config",
      "  sudo chown $(id -u):$(id -g) $HOME/.kube/config",
      "",
      "Then you can join any number of worker nodes by running the following on each as root:",
      "",
      `kubeadm join ${vm.ip}:6443 --token abcdef.0123456789abcdef \\`,
      "\t--discovery-token-ca-cert-hash sha256:0000000000000000000000000000000000000000000000000000000000000000",
      "",
    ].join("\n"),
  );
  return 0;
}

// ---------------------------------------------------------------- kubeadm join

const JOIN_CONFIG_KIND = "JoinConfiguration";

/** The CA pin kubeadm checks: sha256 of the certificate's DER SubjectPublicKeyInfo, as it sits in the certificate. */
function caPin(certPem: string): string {
  const spki = Buffer.from(new x509.X509Certificate(certPem).publicKey.rawData);
  return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}

/** Checks a JoinConfiguration the way kubeadm join would reject it; returns the error or the document. */
export function validateJoinConfig(text: string): { error: string } | { join: any; warnings: string[] } {
  const parsed = yamlDocuments(text);
  if ("error" in parsed) return parsed;
  const docs = parsed.docs;
  const warnings: string[] = [];
  let joinDoc: any;
  for (const d of docs) {
    const gv = String(d.apiVersion ?? "");
    const kind = String(d.kind ?? "");
    if (kind === JOIN_CONFIG_KIND) {
      if (gv !== "kubeadm.k8s.io/v1beta4")
        return {
          error: `your configuration file uses an old API spec: "${gv}". Please use kubeadm.k8s.io/v1beta4 ('kubeadm config migrate --old-config old.yaml --new-config new.yaml')`,
        };
      joinDoc = d;
    } else
      warnings.push(
        `[config] WARNING: Ignored configuration document with GroupVersionKind ${gv}, Kind=${kind}`,
      );
  }
  if (!joinDoc) return { error: "no JoinConfiguration found in the config file" };
  const problems: string[] = [];
  const bt = joinDoc.discovery?.bootstrapToken;
  if (!bt && !joinDoc.discovery?.file)
    problems.push('discovery: Invalid value: "": bootstrapToken or file must be set');
  if (bt) {
    if (!bt.apiServerEndpoint) problems.push("discovery.bootstrapToken.apiServerEndpoint: Required value");
    if (!bt.token || !/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(String(bt.token)))
      problems.push(
        `discovery.bootstrapToken.token: Invalid value: "<redacted>": the bootstrap token is invalid`,
      );
    const hashes = bt.caCertHashes;
    if (hashes !== undefined && !Array.isArray(hashes))
      return {
        error:
          "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field BootstrapTokenDiscovery.discovery.bootstrapToken.caCertHashes of type []string",
      };
    if (!hashes?.length && bt.unsafeSkipCAVerification !== true)
      problems.push(
        'discovery.bootstrapToken.caCertHashes: Invalid value: "": using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue',
      );
    for (const h of hashes ?? [])
      if (!/^sha256:[0-9a-fA-F]{64}$/.test(String(h)))
        problems.push(
          `discovery.bootstrapToken.caCertHashes: Invalid value: "${String(h)}": invalid hash format`,
        );
  }
  const reg = joinDoc.nodeRegistration ?? {};
  const extra = reg.kubeletExtraArgs;
  if (extra !== undefined && !Array.isArray(extra))
    return {
      error: `error unmarshaling JSON: while decoding JSON: json: cannot unmarshal object into Go struct field NodeRegistrationOptions.nodeRegistration.kubeletExtraArgs of type []v1beta4.Arg`,
    };
  const cri = reg.criSocket;
  if (
    cri !== undefined &&
    cri !== "unix:///run/containerd/containerd.sock" &&
    cri !== "unix:///var/run/containerd/containerd.sock"
  )
    problems.push(`nodeRegistration.criSocket: Invalid value: "${cri}": no container runtime listens there`);
  if (joinDoc.controlPlane !== undefined)
    problems.push("controlPlane: joining control-plane nodes is not simulated");
  if (problems.length) return { error: problems.join("\n") };
  return { join: joinDoc, warnings };
}

/** The VM whose API server answers at `host:port` from this node's network, or why none does. */
function discoveryTarget(ctx: Ctx, vm: Vm, endpoint: string): { cp: Vm; api: ApiServer } | { error: string } {
  const m = /^(.+):(\d+)$/.exec(endpoint);
  const host = m?.[1] ?? endpoint;
  const port = Number(m?.[2] ?? 443);
  const url = `https://${endpoint}/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s`;
  const refused = `failed to request the cluster-info ConfigMap: Get "${url}": dial tcp ${endpoint}: connect: connection refused`;
  const major = Number((ctx.sim.opts.macos ?? "26.1").split(".")[0]);
  const cp = [...ctx.sim.vms.values()].find((v) => v.ip === host && v !== vm);
  if (cp && major < 26)
    // macOS 15's VM network does not carry traffic between containers.
    return {
      error: `failed to request the cluster-info ConfigMap: Get "${url}": dial tcp ${endpoint}: connect: no route to host`,
    };
  if (!cp || cp.state !== "running" || !cp.api || port !== 6443) return { error: refused };
  return { cp, api: cp.api };
}

async function kubeadmJoin(ctx: Ctx, vm: Vm, args: string[]): Promise<number> {
  const fail = (phase: string, msg: string) => {
    ctx.err(
      `error execution phase ${phase}: ${msg}\nTo see the stack trace of this error execute with --v=5 or higher\n`,
    );
    return 1;
  };
  const configPath = flagValues(args, "--config")[0];
  if (!configPath) {
    ctx.err("kina-sim: kubeadm join without --config is not simulated\n");
    return 1;
  }
  let text: string;
  if (configPath === "/dev/stdin" || configPath === "-") text = (await readAll(ctx.stdin())).toString("utf8");
  else {
    const file = inNode(vm, configPath, ctx.cwd);
    if (!existsSync(file)) {
      ctx.err(
        `unable to read config from "${configPath}" : open ${configPath}: no such file or directory\nTo see the stack trace of this error execute with --v=5 or higher\n`,
      );
      return 1;
    }
    text = readFileSync(file, "utf8");
  }
  const checked = validateJoinConfig(text);
  if ("error" in checked) {
    ctx.err(`${checked.error}\nTo see the stack trace of this error execute with --v=5 or higher\n`);
    return 1;
  }
  for (const w of checked.warnings) ctx.err(`${w}\n`);
  const j = checked.join;
  const reg = j.nodeRegistration ?? {};
  const nodeName = String(reg.name ?? vm.name);
  const ignored = new Set(
    [
      ...splitList(flagValues(args, "--ignore-preflight-errors")),
      ...((reg.ignorePreflightErrors as string[]) ?? []),
    ].map((x) => String(x).toLowerCase()),
  );

  ctx.out("[preflight] Running pre-flight checks\n");
  const errors: Array<[string, string]> = [];
  for (const f of ["kubelet.conf", "pki/ca.crt"]) {
    if (existsSync(join(vm.rootfs, "etc/kubernetes", f)))
      errors.push([
        `FileAvailable--etc-kubernetes-${f.replace("/", "-")}`,
        `/etc/kubernetes/${f} already exists`,
      ]);
  }
  if (!(await preflightPasses(ctx, vm, errors, ignored))) return 1;

  // Discovery: cluster-info from the endpoint, its JWS checked with the token, its CA with the pins.
  const bt = j.discovery.bootstrapToken;
  const token = String(bt.token);
  const tokenId = token.split(".")[0]!;
  const target = discoveryTarget(ctx, vm, String(bt.apiServerEndpoint));
  if ("error" in target)
    return fail("preflight", `couldn't validate the identity of the API Server: ${target.error}`);
  const { cp, api } = target;
  const discoveryProblem = api.bootstrapTokenProblem(token, "discovery");
  if (discoveryProblem) {
    const why = /does not match/.test(discoveryProblem)
      ? "failed to verify JWS signature of received cluster info object, can't trust this API Server"
      : `could not find a JWS signature in the cluster-info ConfigMap for token ID "${tokenId}"`;
    return fail("preflight", `couldn't validate the identity of the API Server: ${why}`);
  }
  const pin = caPin(api.ca.certPem);
  const pins = ((bt.caCertHashes as string[] | undefined) ?? []).map((h) => String(h).toLowerCase());
  if (bt.unsafeSkipCAVerification !== true || pins.length) {
    if (!pins.includes(pin))
      return fail(
        "preflight",
        `couldn't validate the identity of the API Server: cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "${pin}" are pinned`,
      );
  }
  ctx.out(
    '[preflight] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...\n' +
      '[kubelet-start] Writing kubelet configuration to file "/var/lib/kubelet/config.yaml"\n' +
      "[kubelet-start] Starting the kubelet\n[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap\n",
  );
  vm.mark("kubeadm-join-start");
  await ctx.sim.sleep(ctx.sim.latency.kubeadmJoinMs, ctx.signal);
  if (vm.state !== "running") return 137;

  // The kubelet: it must find its node-ip among its own addresses, and its token must authenticate.
  const nodeIp = ((reg.kubeletExtraArgs as any[] | undefined) ?? []).find(
    (a) => a?.name === "node-ip",
  )?.value;
  if (nodeIp !== undefined && String(nodeIp) !== vm.ip)
    return fail(
      "kubelet-start",
      `the kubelet did not start: failed to validate nodeIP: node IP: "${String(nodeIp)}" not found in the host's network interfaces`,
    );
  const authProblem = api.bootstrapTokenProblem(
    String(j.discovery.tlsBootstrapToken ?? token),
    "tls-bootstrap",
  );
  if (authProblem)
    return fail("kubelet-start", `the kubelet's TLS bootstrap was refused: Unauthorized (${authProblem})`);
  try {
    await api.joinNode({ name: nodeName, ip: vm.ip, tokenId });
  } catch (e) {
    return fail("kubelet-start", (e as Error).message);
  }
  if (vm.state !== "running") return 137;
  const k = (p: string) => join(vm.rootfs, "etc/kubernetes", p);
  writeFileSync(k("pki/ca.crt"), api.ca.certPem);
  writeFileSync(
    k("kubelet.conf"),
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "default-cluster",
          cluster: {
            "certificate-authority-data": Buffer.from(api.ca.certPem).toString("base64"),
            server: `https://${cp.ip}:6443`,
          },
        },
      ],
      contexts: [{ name: "default-context", context: { cluster: "default-cluster", user: "default-auth" } }],
      "current-context": "default-context",
      users: [
        {
          name: "default-auth",
          user: {
            "client-certificate": "/var/lib/kubelet/pki/kubelet-client-current.pem",
            "client-key": "/var/lib/kubelet/pki/kubelet-client-current.pem",
          },
        },
      ],
    }),
    { mode: 0o600 },
  );
  vm.joined = { controlPlane: cp, nodeName, config: j };
  vm.units.set("kubelet", "active");
  vm.mark("kubeadm-join");
  // The kubelet picks up a CNI config that is already in place (it cannot know its podCIDR yet, though).
  maybeStartKubelet(ctx, vm, "kubeadm-join");
  ctx.out(
    [
      "",
      "This node has joined the cluster:",
      "* Certificate signing request was sent to apiserver and a response was received.",
      "* The Kubelet was informed of the new secure connection details.",
      "",
      "Run 'kubectl get nodes' on the control-plane to see this node join the cluster.",
      "",
    ].join("\n"),
  );
  return 0;
}

/** The cluster a node belongs to: its own API server (control plane) or the one it joined. */
function membership(vm: Vm): { api: ApiServer; nodeName: string; podSubnet: unknown } | undefined {
  if (vm.api)
    return {
      api: vm.api,
      nodeName: vm.api.nodeName,
      podSubnet: (vm.kubeadmConfig as any)?.cluster?.networking?.podSubnet,
    };
  const cp = vm.joined?.controlPlane;
  if (vm.joined && cp?.api)
    return {
      api: cp.api,
      nodeName: vm.joined.nodeName,
      podSubnet: (cp.kubeadmConfig as any)?.cluster?.networking?.podSubnet,
    };
  return undefined;
}

/**
 * Why the node's first CNI config would not give a ready network; undefined when it would. The ipam
 * subnet must be the node's podCIDR, or, on the control plane alone, the whole pod subnet (the
 * single-node design). Once other nodes exist, a control plane on the whole pod subnet would hand
 * out their pods' addresses: that is reported too (the kubelet itself would not notice).
 */
export function cniProblem(vm: Vm): string | undefined {
  const dir = join(vm.rootfs, "etc/cni/net.d");
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /\.(conflist|conf|json)$/.test(f))
        .sort()
    : [];
  const first = files[0];
  if (!first) return "no network config found in /etc/cni/net.d";
  if (!first.endsWith(".conflist")) return `${first}: expected a .conflist`;
  let doc: any;
  try {
    doc = JSON.parse(readFileSync(join(dir, first), "utf8"));
  } catch (e) {
    return `${first}: invalid JSON: ${(e as Error).message}`;
  }
  const plugin = doc?.plugins?.[0];
  if (!Array.isArray(doc?.plugins) || !plugin) return `${first}: no plugins`;
  if (plugin.type !== "ptp") return `${first}: first plugin is ${String(plugin.type)}, not ptp`;
  const subnet = plugin.ipam?.subnet ?? plugin.ipam?.ranges?.[0]?.[0]?.subnet;
  const m = membership(vm);
  const want = m?.podSubnet ?? (vm.kubeadmConfig as any)?.cluster?.networking?.podSubnet;
  const nodes: any[] = m ? m.api.store.list("nodes") : [];
  const podCidr = nodes.find((n) => n.metadata.name === m?.nodeName)?.spec?.podCIDR as string | undefined;
  if (vm.joined) {
    if (!podCidr) return `${first}: node ${vm.joined.nodeName} has no podCIDR yet`;
    if (subnet !== podCidr)
      return `${first}: ipam subnet ${String(subnet)} is not the node's podCIDR ${podCidr}`;
    return undefined;
  }
  if (want !== undefined && subnet !== want && subnet !== podCidr)
    return `${first}: ipam subnet ${String(subnet)} is not the pod subnet ${String(want)}${podCidr ? ` nor the node's podCIDR ${podCidr}` : ""}`;
  const others = nodes.filter((n) => n.metadata.name !== m?.nodeName);
  if (subnet === want && others.length && podCidr !== want)
    return (
      `${first}: ipam subnet ${String(subnet)} spans the podCIDRs of ${others.map((n) => `${n.metadata.name} (${n.spec?.podCIDR ?? "none yet"})`).join(", ")}; ` +
      `use the node's own podCIDR ${podCidr ?? "(none yet)"}`
    );
  return undefined;
}

function maybeStartKubelet(ctx: Ctx, vm: Vm, why: string): void {
  const m = membership(vm);
  if (!m || ctx.sim.opts.kubeletNeverReady) return;
  const problem = cniProblem(vm);
  if (problem) {
    vm.mark(`cni-not-ready (${why}): ${problem}`);
    return;
  }
  vm.later(ctx.sim.latency.nodeReadyMs, () => {
    const now = membership(vm);
    const kubelet = now?.api.kubeletFor(now.nodeName);
    if (!kubelet || kubelet.started) return;
    kubelet.start();
    vm.mark("kubelet-start");
  });
}

// ---------------------------------------------------------------- systemctl

async function systemctl(ctx: Ctx, vm: Vm): Promise<number> {
  const args = ctx.argv.filter((a) => !a.startsWith("-"));
  const [verb, ...units] = args;
  const unitName = (u: string) => u.replace(/\.service$/, "");
  if (verb === "daemon-reload") return 0;
  if (!verb || (!units.length && verb !== "list-units")) {
    ctx.err("Too few arguments.\n");
    return 1;
  }
  let code = 0;
  for (const raw of units) {
    const u = unitName(raw);
    if (!vm.units.has(u)) {
      if (verb === "is-active") {
        ctx.out("inactive\n");
        code = 3;
        continue;
      }
      ctx.err(`Failed to ${verb} ${u}.service: Unit ${u}.service not found.\n`);
      return 5;
    }
    const state = vm.units.get(u)!;
    switch (verb) {
      case "is-active":
        ctx.out(`${state}\n`);
        if (state !== "active") code = 3;
        break;
      case "is-enabled":
        ctx.out("enabled\n");
        break;
      case "enable":
        break;
      case "status":
        ctx.out(
          `● ${u}.service\n     Loaded: loaded (/etc/systemd/system/${u}.service; enabled; preset: enabled)\n     Active: ${state === "active" ? "active (running)" : state}\n`,
        );
        if (state !== "active") code = 3;
        break;
      case "stop":
        vm.units.set(u, "inactive");
        vm.mark(`${u}-stop`);
        break;
      case "start":
      case "restart":
        await ctx.sim.sleep(ctx.sim.latency.serviceStartMs, ctx.signal);
        vm.mark(`${u}-${verb}`);
        if (u === "containerd") {
          await vm.restartContainerd();
        } else if (u === "kubelet") {
          // Before kubeadm init or join the kubelet crash-loops waiting for its config.
          vm.units.set(u, vm.api || vm.joined ? "active" : "activating");
          maybeStartKubelet(ctx, vm, `kubelet-${verb}`);
        } else vm.units.set(u, "active");
        break;
      default:
        ctx.err(`Unknown command verb ${verb}.\n`);
        return 1;
    }
  }
  return code;
}

// ---------------------------------------------------------------- ctr / crictl

async function ctr(ctx: Ctx, vm: Vm): Promise<number> {
  const argv = [...ctx.argv];
  let ns = "default";
  while (argv[0]?.startsWith("-")) {
    const a = argv.shift()!;
    if (a === "-n" || a === "--namespace") ns = argv.shift() ?? "";
    else if (a.startsWith("--namespace=")) ns = a.slice(12);
    else if (a === "-a" || a === "--address") argv.shift();
  }
  const containerdUp = existsSync(join(vm.rootfs, "run/containerd/containerd.sock"));
  if (!containerdUp) {
    ctx.err(
      'ctr: failed to dial "/run/containerd/containerd.sock": connection error: desc = "transport: error while dialing: dial unix:///run/containerd/containerd.sock: timeout"\n',
    );
    return 1;
  }
  const [group, sub, ...rest] = argv;
  if (group === "version") {
    ctx.out("Client:\n  Version:  v2.1.4\n\nServer:\n  Version:  v2.1.4\n");
    return 0;
  }
  if (group !== "images" && group !== "image" && group !== "i") {
    ctx.err(`ctr: No help topic for '${group ?? ""}'\n`);
    return 1;
  }
  const store = ns === "k8s.io" ? vm.images : (vm.otherImages[ns] ??= []);
  const positional = rest.filter((a) => a === "-" || !a.startsWith("-"));
  switch (sub) {
    case "import": {
      const src = positional[0];
      if (!src) {
        ctx.err("ctr: expected 1 argument\n");
        return 1;
      }
      let data: Buffer;
      if (src === "-") data = await readAll(ctx.stdin());
      else {
        const f = inNode(vm, src, ctx.cwd);
        if (!existsSync(f)) {
          ctx.err(`ctr: open ${src}: no such file or directory\n`);
          return 1;
        }
        data = readFileSync(f);
      }
      const imgs = decodeArchive(data);
      if (!imgs) {
        ctx.err("ctr: unrecognized image format\n");
        return 1;
      }
      for (const i of imgs) {
        ctx.out(`unpacking ${i.ref} (${i.digest})...done\n`);
        if (!store.includes(i.ref)) store.push(i.ref);
      }
      vm.mark(`images-imported ${imgs.map((i) => i.ref).join(" ")}`);
      return 0;
    }
    case "ls":
    case "list": {
      if (rest.includes("-q") || rest.includes("--quiet")) {
        if (store.length) ctx.out(store.join("\n") + "\n");
        return 0;
      }
      ctx.out("REF TYPE DIGEST SIZE PLATFORMS LABELS\n");
      for (const r of store)
        ctx.out(
          `${r} application/vnd.oci.image.index.v1+json ${digestOf(r)} 10.0 MiB linux/arm64 io.cri-containerd.image=managed\n`,
        );
      return 0;
    }
    case "tag": {
      const force = rest.includes("--force");
      const [src, ...dsts] = positional;
      if (!src || !dsts.length) {
        ctx.err("ctr: please provide an image reference to tag from and at least one to tag to\n");
        return 1;
      }
      if (!store.includes(src)) {
        ctx.err(`ctr: image "${src}": not found\n`);
        return 1;
      }
      for (const d of dsts) {
        if (store.includes(d) && !force) {
          ctx.err(`ctr: image "${d}": already exists\n`);
          return 1;
        }
        if (!store.includes(d)) store.push(d);
        ctx.out(`${d}\n`);
      }
      return 0;
    }
    case "rm":
    case "remove":
    case "delete": {
      for (const r of positional) {
        const i = store.indexOf(r);
        if (i < 0) {
          ctx.err(`ctr: image "${r}": not found\n`);
          return 1;
        }
        store.splice(i, 1);
        ctx.out(`${r}\n`);
      }
      return 0;
    }
    default:
      ctx.err(`ctr: No help topic for '${sub ?? ""}'\n`);
      return 1;
  }
}

async function crictl(ctx: Ctx, vm: Vm): Promise<number> {
  const argv = ctx.argv.filter(
    (a, i, all) =>
      !(a === "--runtime-endpoint" || a === "-r" || ["--runtime-endpoint", "-r"].includes(all[i - 1] ?? "")),
  );
  if (!existsSync(join(vm.rootfs, "run/containerd/containerd.sock"))) {
    ctx.err(
      'E0101 00:00:00.000000       1 remote_image.go:100] "ListImages with filter from image service failed" err="rpc error: code = Unavailable desc = connection error"\nFATA[0000] validate service connection: validate CRI v1 image API for endpoint "unix:///run/containerd/containerd.sock": rpc error: code = Unavailable desc = connection error\n',
    );
    return 1;
  }
  const [sub, ...rest] = argv;
  const image = (r: string) => ({
    id: digestOf(`${r}#config`),
    repoTags: r.includes("@") ? [] : [r],
    repoDigests: [`${r.replace(/[:@].*$/, "")}@${digestOf(r)}`],
    size: "10485760",
    uid: null,
    username: "",
    spec: null,
    pinned: /pause/.test(r),
  });
  switch (sub) {
    case "images":
    case "image":
    case "img": {
      const o =
        rest.indexOf("-o") >= 0
          ? rest[rest.indexOf("-o") + 1]
          : rest.find((a) => a.startsWith("--output="))?.slice(9);
      if (o === "json") ctx.out(JSON.stringify({ images: vm.images.map(image) }, null, 2) + "\n");
      else if (rest.includes("-q")) ctx.out(vm.images.map((r) => digestOf(`${r}#config`)).join("\n") + "\n");
      else {
        ctx.out("IMAGE                                     TAG                 IMAGE ID            SIZE\n");
        for (const r of vm.images) {
          const n = normalizeRef(r).replace(/@.*$/, "");
          const c = n.lastIndexOf(":");
          ctx.out(`${n.slice(0, c)}  ${n.slice(c + 1)}  ${digestOf(`${r}#config`).slice(7, 20)}  10MB\n`);
        }
      }
      return 0;
    }
    case "inspecti": {
      const ref = rest.find((a) => !a.startsWith("-"));
      const found = ref ? vm.images.find((r) => refMatches(r, ref)) : undefined;
      if (!ref || !found) {
        ctx.err(
          `E0101 00:00:00.000000 remote_image.go:100] "ImageStatus from image service failed"\nFATA[0000] no such image "${ref ?? ""}" present\n`,
        );
        return 1;
      }
      ctx.out(JSON.stringify({ status: image(found), info: {} }, null, 2) + "\n");
      return 0;
    }
    case "info":
      ctx.out(
        JSON.stringify(
          {
            status: {
              conditions: [
                { type: "RuntimeReady", status: true },
                { type: "NetworkReady", status: !cniProblem(vm) },
              ],
            },
          },
          null,
          2,
        ) + "\n",
      );
      return 0;
    case "ps":
    case "pods":
      ctx.out(
        sub === "ps"
          ? "CONTAINER  IMAGE  CREATED  STATE  NAME  ATTEMPT  POD ID  POD\n"
          : "POD ID  CREATED  STATE  NAME  NAMESPACE  ATTEMPT  RUNTIME\n",
      );
      return 0;
    default:
      ctx.err(`crictl: unknown command "${sub ?? ""}"\n`);
      return 1;
  }
}

// ---------------------------------------------------------------- journalctl

async function journalctl(ctx: Ctx, vm: Vm): Promise<number> {
  const units = [...flagValues(ctx.argv, "-u"), ...flagValues(ctx.argv, "--unit")].map((u) =>
    u.replace(/\.service$/, ""),
  );
  const n = Number(flagValues(ctx.argv, "-n")[0] ?? flagValues(ctx.argv, "--lines")[0] ?? Infinity);
  const t0 = vm.startedAt?.getTime() ?? Date.now();
  const base = vm.timeline[0]?.at ?? now();
  const stamp = (at: number) => new Date(t0 + (at - base)).toUTCString().slice(5, 25);
  const lines: string[] = [];
  const want = (u: string) => !units.length || units.includes(u);
  for (const e of vm.timeline) {
    const ts = stamp(e.at);
    if (want("containerd") && /containerd/.test(e.event)) {
      lines.push(
        `${ts} ${vm.name} containerd[201]: time="${new Date().toISOString()}" level=info msg="containerd successfully booted"`,
      );
    }
    if (want("kubelet")) {
      if (e.event === "boot" || e.event === "containerd-ready") {
        lines.push(
          `${ts} ${vm.name} kubelet[305]: E0101 kubelet: "command failed" err="failed to load kubelet config file, path: /var/lib/kubelet/config.yaml"`,
        );
      } else if (e.event === "kubelet-start") {
        lines.push(
          `${ts} ${vm.name} kubelet[411]: I0101 kubelet_node_status.go:75] "Successfully registered node" node="${vm.name}"`,
        );
        lines.push(
          `${ts} ${vm.name} kubelet[411]: I0101 kubelet_node_status.go:500] "Fast updating node status as it just became ready"`,
        );
      } else if (/^kubelet-(re)?start$/.test(e.event) || e.event === "kubeadm-init") {
        lines.push(
          `${ts} ${vm.name} systemd[1]: Started kubelet.service - kubelet: The Kubernetes Node Agent.`,
        );
      } else if (e.event === "kubelet-stop") {
        lines.push(
          `${ts} ${vm.name} systemd[1]: Stopped kubelet.service - kubelet: The Kubernetes Node Agent.`,
        );
      } else if (e.event.startsWith("cni-not-ready")) {
        lines.push(
          `${ts} ${vm.name} kubelet[411]: E0101 kubelet.go:3117] "Container runtime network not ready" networkReady="NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized" (${e.event})`,
        );
      }
    }
  }
  const out = Number.isFinite(n) ? lines.slice(-n) : lines;
  ctx.out(out.length ? out.join("\n") + "\n" : "-- No entries --\n");
  return 0;
}

// ---------------------------------------------------------------- kubectl

function apiRequest(
  vm: Vm,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<{ status: number; body: any; text: string }> {
  const api = vm.api!;
  const url = new URL(path, `https://${vm.ip}:6443`);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: api.ca.certPem,
        cert: api.adminCredentials.certPem,
        key: api.adminCredentials.keyPem,
        headers: body ? { "content-type": contentType } : {},
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => {
          let parsed: any;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

function kubectlPath(kind: string, ns: string | undefined, name?: string): string | undefined {
  const res = resourceFor(kind);
  if (!res) return undefined;
  const base = res.group ? `/apis/${res.group}/${res.version}` : "/api/v1";
  const nsPart = res.namespaced && ns ? `/namespaces/${ns}` : "";
  return `${base}${nsPart}/${res.plural}${name ? `/${name}` : ""}`;
}

/** kubectl as the real one fails when nothing listens on the API server's address (it was stopped). */
async function kubectl(ctx: Ctx, vm: Vm): Promise<number> {
  try {
    return await kubectlCommand(ctx, vm);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ECONNREFUSED") throw err;
    ctx.err(
      `The connection to the server ${vm.ip}:6443 was refused - did you specify the right host or port?\n`,
    );
    return 1;
  }
}

async function kubectlCommand(ctx: Ctx, vm: Vm): Promise<number> {
  const argv: string[] = [];
  let ns: string | undefined;
  let all = false;
  let output: string | undefined;
  let files: string[] = [];
  const a = ctx.argv;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const val = (name: string) => (x === name ? a[++i] : x.slice(name.length + 1));
    if (x === "--kubeconfig" || x.startsWith("--kubeconfig=")) val("--kubeconfig");
    else if (x === "--request-timeout" || x.startsWith("--request-timeout=")) val("--request-timeout");
    else if (x === "-n" || x === "--namespace") ns = a[++i];
    else if (x.startsWith("--namespace=")) ns = val("--namespace");
    else if (x === "-A" || x === "--all-namespaces") all = true;
    else if (x === "-o" || x === "--output") output = a[++i];
    else if (x.startsWith("--output=") || x.startsWith("-o=")) output = x.slice(x.indexOf("=") + 1);
    else if (x === "-f" || x === "--filename") files.push(a[++i] ?? "");
    else if (x.startsWith("--filename=")) files.push(val("--filename") ?? "");
    else argv.push(x);
  }
  files = files.filter(Boolean);
  const refused = () => {
    ctx.err(
      `The connection to the server ${vm.ip}:6443 was refused - did you specify the right host or port?\n`,
    );
    return 1;
  };
  const [verb, ...rest] = argv;
  if (verb === "version") {
    const v = nodeKubernetesVersion(vm) ?? "1.35.8";
    ctx.out(`Client Version: v${v}\nKustomize Version: v5.7.1\n`);
    if (!vm.api) return refused();
    ctx.out(`Server Version: ${(await apiRequest(vm, "GET", "/version")).body.gitVersion}\n`);
    return 0;
  }
  if (!vm.api) return refused();
  const fail = (r: { status: number; body: any; text: string }) => {
    ctx.err(`Error from server (${r.body?.reason ?? r.status}): ${r.body?.message ?? r.text}\n`);
    return 1;
  };
  switch (verb) {
    case "get": {
      if (rest[0] === "--raw") {
        const r = await apiRequest(vm, "GET", rest[1] ?? "/");
        if (r.status >= 400) return fail(r);
        ctx.out(r.text + "\n");
        return 0;
      }
      let [kind, name] = rest;
      if (kind?.includes("/")) [kind, name] = kind.split("/");
      const path = kind && kubectlPath(kind, all ? undefined : (ns ?? "default"), name);
      if (!path) {
        ctx.err(`error: the server doesn't have a resource type "${kind ?? ""}"\n`);
        return 1;
      }
      const r = await apiRequest(vm, "GET", path);
      if (r.status >= 400) return fail(r);
      const items: any[] = name ? [r.body] : r.body.items;
      if (output === "json") ctx.out(JSON.stringify(r.body, null, 4) + "\n");
      else if (output === "yaml") ctx.out(stringify(r.body));
      else if (output === "name")
        ctx.out(
          items.map((o) => `${resourceFor(kind!)!.kind.toLowerCase()}/${o.metadata.name}`).join("\n") + "\n",
        );
      else if (output?.startsWith("jsonpath=")) ctx.out(jsonPath(r.body, output.slice(9)));
      else {
        if (!items.length) {
          ctx.err(`No resources found${ns ? ` in ${ns} namespace` : ""}.\n`);
          return 0;
        }
        ctx.out("NAME   STATUS\n" + items.map((o) => `${o.metadata.name}   ${readyOf(o)}`).join("\n") + "\n");
      }
      return 0;
    }
    case "apply":
    case "create": {
      let text = "";
      for (const f of files)
        text +=
          (f === "-"
            ? (await readAll(ctx.stdin())).toString()
            : readFileSync(inNode(vm, f, ctx.cwd), "utf8")) + "\n---\n";
      const docs = parseAllDocuments(text)
        .map((d) => d.toJS())
        .filter((d) => d && typeof d === "object");
      for (const d of docs) {
        const res = resourceFor(String(d.kind));
        const docNs = res?.namespaced ? (d.metadata?.namespace ?? ns ?? "default") : undefined;
        const coll = kubectlPath(String(d.kind), docNs);
        if (!res || !coll) {
          ctx.err(`error: resource mapping not found for name: "${d.metadata?.name}" kind: "${d.kind}"\n`);
          return 1;
        }
        const existing = await apiRequest(vm, "GET", `${coll}/${d.metadata.name}`);
        let r;
        if (existing.status === 200 && verb === "apply") {
          r = await apiRequest(vm, "PATCH", `${coll}/${d.metadata.name}`, d, "application/merge-patch+json");
        } else r = await apiRequest(vm, "POST", coll, { apiVersion: apiVersionOf(res), ...d });
        if (r.status >= 400) return fail(r);
        const what = `${res.kind.toLowerCase()}${res.group ? `.${res.group}` : ""}/${d.metadata.name}`;
        ctx.out(
          `${what} ${existing.status === 200 ? (verb === "apply" ? "configured" : "created") : "created"}\n`,
        );
      }
      return 0;
    }
    case "delete": {
      let [kind, name] = rest;
      if (kind?.includes("/")) [kind, name] = kind.split("/");
      const path = kind && name && kubectlPath(kind, ns ?? "default", name);
      if (!path) {
        ctx.err("error: resource(s) were provided, but no name was specified\n");
        return 1;
      }
      const r = await apiRequest(vm, "DELETE", path);
      if (r.status >= 400) return fail(r);
      ctx.out(`${resourceFor(kind!)!.kind.toLowerCase()} "${name}" deleted\n`);
      return 0;
    }
    case "taint": {
      // kubectl taint nodes (NAME|--all) key[=value]:effect[-]
      const names = rest[1] === "--all" ? undefined : rest[1];
      const specs = rest.slice(2).filter((s) => s !== "--all");
      const nodes = (await apiRequest(vm, "GET", "/api/v1/nodes")).body.items.filter(
        (n: any) => !names || n.metadata.name === names,
      );
      if (!nodes.length) {
        ctx.err(`Error from server (NotFound): nodes "${names}" not found\n`);
        return 1;
      }
      for (const node of nodes) {
        let taints: any[] = node.spec.taints ?? [];
        for (const s of specs) {
          const remove = s.endsWith("-");
          const m = /^([^=:]+)(?:=([^:]*))?(?::(\w+))?$/.exec(remove ? s.slice(0, -1) : s);
          if (!m) continue;
          if (remove) {
            const before = taints.length;
            taints = taints.filter((t) => !(t.key === m[1] && (!m[3] || t.effect === m[3])));
            if (before === taints.length) {
              ctx.err(`error: taint "${m[1]}${m[3] ? ":" + m[3] : ""}" not found\n`);
              return 1;
            }
          } else taints.push({ key: m[1], ...(m[2] ? { value: m[2] } : {}), effect: m[3] });
        }
        const r = await apiRequest(
          vm,
          "PATCH",
          `/api/v1/nodes/${node.metadata.name}`,
          { spec: { taints } },
          "application/merge-patch+json",
        );
        if (r.status >= 400) return fail(r);
        ctx.out(
          `node/${node.metadata.name} ${specs.some((s) => s.endsWith("-")) ? "untainted" : "tainted"}\n`,
        );
      }
      return 0;
    }
    case "wait": {
      const forArg = rest.find((x) => x.startsWith("--for="))?.slice(6) ?? "";
      const timeoutArg = rest.find((x) => x.startsWith("--timeout="))?.slice(10) ?? "30s";
      const target = rest.find((x) => !x.startsWith("--"));
      const cond = /^condition=(\w+)/.exec(forArg)?.[1];
      if (!target || !cond) {
        ctx.err("error: --for and a resource are required\n");
        return 1;
      }
      const [kind, name] = target.split("/");
      const path = kubectlPath(kind!, ns ?? "default", name);
      const timeoutMs = parseDuration(timeoutArg);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await apiRequest(vm, "GET", path!);
        const ok =
          r.status === 200 &&
          (r.body.status?.conditions ?? []).some((c: any) => c.type === cond && c.status === "True");
        if (ok) {
          ctx.out(`${target} condition met\n`);
          return 0;
        }
        if (Date.now() > deadline || ctx.signal.aborted || vm.state !== "running") {
          ctx.err(`error: timed out waiting for the condition on ${target}\n`);
          return 1;
        }
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    default:
      ctx.err(`kina-sim: kubectl ${verb ?? ""} is not simulated\n`);
      return 1;
  }
}

function parseDuration(s: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(s);
  if (!m) return 30_000;
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "s"] ?? 1000);
}

function readyOf(o: any): string {
  const c = (o.status?.conditions ?? []).find((x: any) => x.type === "Ready");
  if (c) return c.status === "True" ? "Ready" : "NotReady";
  return o.status?.phase ?? "";
}

function jsonPath(obj: any, expr: string): string {
  const m = /^\{(.*)\}$/.exec(expr.trim());
  const path = (m ? m[1]! : expr).replace(/^\./, "");
  let cur: any = obj;
  for (const part of path.split(".").filter(Boolean)) {
    const idx = /^(\w+)\[(\d+|\*)\]$/.exec(part);
    if (idx) {
      cur = cur?.[idx[1]!];
      cur = idx[2] === "*" ? cur : cur?.[Number(idx[2])];
    } else cur = Array.isArray(cur) ? cur.map((x) => x?.[part]) : cur?.[part];
  }
  return Array.isArray(cur)
    ? cur.join(" ")
    : cur === undefined
      ? ""
      : typeof cur === "object"
        ? JSON.stringify(cur)
        : String(cur);
}
