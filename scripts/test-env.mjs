#!/usr/bin/env node
// `npm test` and `npm run e2e` on a contributor's machine: runs a program (vitest, or a .ts/.mjs file)
// under Node 24 as root with the Debian packages the simulated Mac needs, or stops in one line saying
// what is missing and the command that fixes it. Plain JavaScript that any Node (a stock Debian's 20
// included) can start: when this Node is older than 24 it installs Node 24 from the npm registry
// (package node-linux-<arch>@24) into a cache folder and runs itself again under it.
//   node scripts/test-env.mjs vitest run [vitest args…]
//   node scripts/test-env.mjs test/sim/e2e-demo.ts [args…]
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** What the tests need beyond Node, by Debian package: the node sandboxes, the CNI test, the cache. */
const PACKAGES = ["bubblewrap", "containernetworking-plugins", "iptables", "iproute2", "zstd"];

function stop(line) {
  console.error(`npm test: ${line}`);
  process.exit(1);
}

function ensureNode24() {
  if (Number(process.versions.node.split(".")[0]) >= 24) return;
  if (process.platform !== "linux" || !["x64", "arm64"].includes(process.arch))
    stop(
      `the tests need Node 24 on Linux (x64 or arm64); this is Node ${process.version} on ${process.platform}/${process.arch}.`,
    );
  const dir = process.env.KINA_NODE24_DIR || join(homedir(), ".cache", "kina-node24");
  const pkg = `node-linux-${process.arch}`;
  const node = join(dir, "node_modules", pkg, "bin", "node");
  const install = `npm install --prefix ${dir} --no-save ${pkg}@24`;
  if (!existsSync(node)) {
    console.error(
      `npm test: Node ${process.version} is too old for the tests; installing Node 24 (${install}).`,
    );
    const r = spawnSync(
      "npm",
      ["install", "--prefix", dir, "--no-save", "--no-audit", "--no-fund", "--loglevel=error", `${pkg}@24`],
      {
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    if (r.status !== 0 || !existsSync(node))
      stop(`the tests need Node 24 and installing it failed; run: ${install}`);
  }
  // Everything the tests start (the bundled action, the simulator's fake tools) finds Node 24 first.
  const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ""}` };
  const r = spawnSync(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
    env,
  });
  process.exit(r.status ?? 1);
}

function ensureMachine() {
  if (process.platform !== "linux") stop(`the tests run on Linux (Debian); this is ${process.platform}.`);
  if (process.getuid?.() !== 0)
    stop(
      'the tests need root (bubblewrap sandboxes, network namespaces); run: sudo env "PATH=$PATH" npm test',
    );
  const dpkg = spawnSync("dpkg-query", ["-W", "-f=${Package} ${Status}\\n", ...PACKAGES], {
    encoding: "utf8",
  });
  if (dpkg.error) stop(`the tests need a Debian-based Linux (dpkg) with: ${PACKAGES.join(" ")}.`);
  const installed = new Set(
    dpkg.stdout
      .split("\n")
      .filter((l) => l.endsWith("install ok installed"))
      .map((l) => l.split(" ")[0]),
  );
  const missing = PACKAGES.filter((p) => !installed.has(p));
  if (missing.length)
    stop(
      `missing Debian packages ${missing.join(", ")}; run: apt-get install -y --no-install-recommends ${missing.join(" ")}`,
    );
  if (!existsSync(join(ROOT, "node_modules", "vitest")))
    stop("the dependencies are not installed; run: npm ci");
}

function run(args) {
  const [what, ...rest] = args;
  if (!what) stop("usage: node scripts/test-env.mjs vitest|<file.ts|.mjs> [args…]");
  const entry =
    what === "vitest" ? [join(ROOT, "node_modules", "vitest", "vitest.mjs")] : [resolve(ROOT, what)];
  // The tests and the demo drive the bundle, as the runner does.
  if (!existsSync(join(ROOT, "dist", "main", "index.js"))) stop("dist/ is missing; run: npm run build");
  const r = spawnSync(process.execPath, [...entry, ...rest], { stdio: "inherit", cwd: ROOT });
  process.exit(r.status ?? 1);
}

ensureNode24();
ensureMachine();
run(process.argv.slice(2));
