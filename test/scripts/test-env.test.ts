// The README's commands on a contributor's machine: scripts/test-env.mjs runs under the stock Node of
// Debian (20), brings Node 24 in and runs itself again, and stops in one line naming what is missing and
// the command that fixes it.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../sim/runner.ts";

const SCRIPT = join(REPO_ROOT, "scripts", "test-env.mjs");
const OLD_NODE = "/usr/bin/node";
const oldNode = spawnSync(OLD_NODE, ["-p", "process.versions.node"], { encoding: "utf8" });
const oldMajor = Number(oldNode.stdout?.split(".")[0] ?? 0);
// Where this Node 24 lives: <dir>/node_modules/node-linux-<arch>/bin/node.
const NODE24_DIR = dirname(dirname(dirname(dirname(process.execPath))));

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(OLD_NODE, [SCRIPT, ...args], {
    encoding: "utf8",
    env: {
      PATH: `${dirname(OLD_NODE)}:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: tmpdir(),
      KINA_NODE24_DIR: NODE24_DIR,
      ...env,
    },
    timeout: 60_000,
  });
}

describe.skipIf(!(oldMajor > 0 && oldMajor < 24))(
  `npm test under the machine's Node ${oldNode.stdout?.trim()}`,
  () => {
    it("runs the program under Node 24", () => {
      const r = run(["vitest", "--version"]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/vitest\/\d+\.\d+\.\d+ .*node-v24\./);
    });

    it("stops in one line naming the missing Debian packages and the command that installs them", () => {
      const bin = mkdtempSync(join(tmpdir(), "kina-dpkg-"));
      try {
        // A dpkg-query that knows only iproute2.
        writeFileSync(join(bin, "dpkg-query"), "#!/bin/sh\necho 'iproute2 install ok installed'\n");
        chmodSync(join(bin, "dpkg-query"), 0o755);
        const r = run(["vitest", "--version"], { PATH: `${bin}:${dirname(OLD_NODE)}:/usr/bin:/bin` });
        expect(r.status).toBe(1);
        expect(r.stdout).toBe("");
        expect(r.stderr).toBe(
          "npm test: missing Debian packages bubblewrap, containernetworking-plugins, iptables, zstd; run: " +
            "apt-get install -y --no-install-recommends bubblewrap containernetworking-plugins iptables zstd\n",
        );
      } finally {
        rmSync(bin, { recursive: true, force: true });
      }
    });

    it("says how to get Node 24 when it cannot install it", () => {
      const empty = mkdtempSync(join(tmpdir(), "kina-no-node24-"));
      try {
        // No npm on PATH: the install cannot run.
        const r = run(["vitest", "--version"], {
          KINA_NODE24_DIR: join(empty, "n"),
          PATH: `${empty}:/nonexistent`,
        });
        expect(r.status).toBe(1);
        const lines = r.stderr.trim().split("\n");
        expect(lines.at(-1)).toBe(
          `npm test: the tests need Node 24 and installing it failed; run: npm install --prefix ${join(empty, "n")} --no-save node-linux-${process.arch}@24`,
        );
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
    });
  },
);
