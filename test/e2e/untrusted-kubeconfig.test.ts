// Issue 12: the node's /etc/kubernetes/admin.conf is untrusted input. A workload or a tampered node image
// can rewrite it; a kubeconfig can make its reader run programs (exec credential plugins, the gcp
// auth-provider's cmd-path), read host files (tokenFile, client-key, certificate-authority) or send the
// client's credentials elsewhere (proxy-url, insecure-skip-tls-verify, other clusters). Apple fixed the
// same hole in its k8s plugin (GHSA-44v5-vx46-ghv6). The action must refuse every such admin.conf before
// anything loads it: nothing runs, nothing is written for later steps, and nothing connects elsewhere.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { errors, runJob } from "../sim/runner.ts";
import type { Simulator } from "../sim/simulator.ts";
import { describe, expect, test, WARM } from "../fixtures/mac.ts";

const NODE = "kina-control-plane";

type Doc = {
  clusters: Array<{ name: string; cluster: Record<string, unknown> }>;
  users: Array<{ name: string; user: Record<string, unknown> }>;
  contexts: Array<{ name: string; context: Record<string, unknown> }>;
  [k: string]: unknown;
};

interface Hostile {
  name: string;
  /** Rewrites kubeadm's admin.conf; `marker` is a host file a program would create, `proxy` a listener. */
  edit: (doc: Doc, h: { marker: string; proxyPort: number }) => void;
  /** The field the error must name. */
  field: string;
}

const markerScript = (marker: string) => [
  "-c",
  `touch '${marker}'; printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"x"}}'`,
];

const hostile: Hostile[] = [
  {
    name: "exec credential plugin",
    edit: (d, { marker }) => {
      d.users[0]!.user.exec = {
        apiVersion: "client.authentication.k8s.io/v1",
        command: "/bin/sh",
        args: markerScript(marker),
        interactiveMode: "Never",
      };
    },
    field: "users[0].user.exec",
  },
  {
    name: "exec plugin instead of the client certificate",
    edit: (d, { marker }) => {
      d.users[0]!.user = {
        exec: {
          apiVersion: "client.authentication.k8s.io/v1",
          command: "/bin/sh",
          args: markerScript(marker),
        },
      };
    },
    field: "users[0].user.exec",
  },
  {
    name: "gcp auth-provider with a cmd-path",
    edit: (d, { marker }) => {
      d.users[0]!.user["auth-provider"] = {
        name: "gcp",
        config: { "cmd-path": "/bin/sh", "cmd-args": `-c "touch '${marker}'; echo {}"` },
      };
    },
    field: "users[0].user.auth-provider",
  },
  {
    name: "proxy-url",
    edit: (d, { proxyPort }) => {
      d.clusters[0]!.cluster["proxy-url"] = `http://127.0.0.1:${proxyPort}`;
    },
    field: "clusters[0].cluster.proxy-url",
  },
  {
    name: "insecure-skip-tls-verify",
    edit: (d) => {
      d.clusters[0]!.cluster["insecure-skip-tls-verify"] = true;
    },
    field: "clusters[0].cluster.insecure-skip-tls-verify",
  },
  {
    name: "tokenFile",
    edit: (d) => {
      d.users[0]!.user.tokenFile = "/etc/hostname";
    },
    field: "users[0].user.tokenFile",
  },
  {
    name: "host file paths instead of data",
    edit: (d) => {
      const u = d.users[0]!.user;
      delete u["client-key-data"];
      u["client-key"] = "/root/.ssh/id_ed25519";
    },
    field: "users[0].user.client-key",
  },
  {
    name: "an extra cluster, user and context",
    edit: (d, { proxyPort }) => {
      d.clusters.push({ name: "elsewhere", cluster: { server: `https://127.0.0.1:${proxyPort}` } });
      d.users.push({ name: "thief", user: { token: "stolen" } });
      d.contexts.push({ name: "elsewhere", context: { cluster: "elsewhere", user: "thief" } });
      d["current-context"] = "elsewhere";
    },
    field: "clusters[1]",
  },
];

/** Rewrites admin.conf in the node just before the action reads it. */
function tamper(sim: Simulator, edit: (doc: Doc) => void) {
  sim.faults.push({
    when: /^container exec (-i )?kina-control-plane .*\/etc\/kubernetes\/admin\.conf/,
    times: 1,
    passThrough: true,
    run: () => {
      const file = join(sim.node(NODE).rootfs, "etc/kubernetes/admin.conf");
      const doc = parse(readFileSync(file, "utf8")) as Doc;
      edit(doc);
      writeFileSync(file, stringify(doc));
    },
  });
}

describe("a hostile admin.conf in the node", () => {
  test.concurrent.for(hostile)(
    "$name: refused before anything loads it; nothing runs or connects",
    async (h, { mac }) => {
      const dir = mkdtempSync(join(tmpdir(), "kina-hostile-"));
      const marker = join(dir, "marker");
      const connections: string[] = [];
      const proxy = net.createServer((s) => {
        connections.push(`${s.remoteAddress}:${s.remotePort}`);
        s.destroy();
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      const proxyPort = (proxy.address() as net.AddressInfo).port;
      try {
        const sim = await mac(WARM);
        tamper(sim, (doc) => h.edit(doc, { marker, proxyPort }));
        let kubeconfigAfterMain: string | undefined;
        const { main, post } = await runJob({
          sim,
          timeoutMs: 90_000,
          afterMain: (m) => {
            const file = join(sim.runnerTemp, "kina.kubeconfig");
            kubeconfigAfterMain = existsSync(file) ? readFileSync(file, "utf8") : undefined;
            expect(m.outputs.kubeconfig).toBeUndefined();
          },
        });
        expect(main.code).not.toBe(0);
        const errs = errors(main.stdout);
        expect(errs, main.stdout.slice(-3000)).toHaveLength(1);
        expect(errs[0]).toMatch(/^Kubeconfig: /);
        expect(errs[0]).toContain(h.field);
        expect(errs[0]).toContain("GHSA-44v5-vx46-ghv6");
        // Nothing a later step (kubectl) could load either.
        expect(kubeconfigAfterMain).toBeUndefined();
        expect(main.exportedEnv.KUBECONFIG).toBeUndefined();
        expect(post.code).toBe(0);
        expect(existsSync(marker), "the kubeconfig's program ran on the host").toBe(false);
        expect(connections, "something connected where the kubeconfig pointed").toEqual([]);
      } finally {
        proxy.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
