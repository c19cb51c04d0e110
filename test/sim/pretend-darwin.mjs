// Preload (`node --import ./pretend-darwin.mjs …`): makes the process look like macOS on Apple silicon
// before the action's bundle loads. process.platform/arch are redefined; node:os is patched on the
// builtin module object and syncBuiltinESMExports() updates the live ESM named exports, so both
// `os.platform()` and `import { platform } from "node:os"` answer darwin.
import os from "node:os";
import { syncBuiltinESMExports } from "node:module";

const release = process.env.KINA_SIM_DARWIN_RELEASE || "25.1.0";

Object.defineProperty(process, "platform", {
  value: "darwin",
  enumerable: true,
  configurable: true,
  writable: false,
});
Object.defineProperty(process, "arch", {
  value: "arm64",
  enumerable: true,
  configurable: true,
  writable: false,
});

os.platform = () => "darwin";
os.arch = () => "arm64";
os.type = () => "Darwin";
os.release = () => release;
os.machine = () => "arm64";
os.version = () =>
  `Darwin Kernel Version ${release}: Mon Oct 13 2025; root:xnu-12377.41.6~2/RELEASE_ARM64_T8103`;
os.endianness = () => "LE";

// The simulated Mac's size (sysctl hw.ncpu / hw.memsize), when the simulator passes it: the action
// sizes node VMs and bounds workers from os.cpus() and os.totalmem().
const ncpu = Number(process.env.KINA_SIM_NCPU);
if (Number.isInteger(ncpu) && ncpu > 0) {
  const model = { model: "Apple M2", speed: 24, times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 } };
  os.cpus = () => Array.from({ length: ncpu }, () => structuredClone(model));
  os.availableParallelism = () => ncpu;
}
const memsize = Number(process.env.KINA_SIM_MEMSIZE);
if (Number.isInteger(memsize) && memsize > 0) os.totalmem = () => memsize;

// A runner is a normal macOS user (uid 501 is the first account); tests run as root on Linux.
// KINA_SIM_UID=0 simulates a runner installed as root.
const uid = Number(process.env.KINA_SIM_UID ?? 501);
process.getuid = () => uid;
process.geteuid = () => uid;

syncBuiltinESMExports();
