// `node test/sim/e2e-demo.ts`: the bundled action's main and post against a fresh simulated macOS
// runner with default inputs; prints the outputs, the calls it made and what was left behind.
// Exits non-zero when either step failed.
import { startSimulator } from "./simulator.ts";
import { errors, runJob } from "./runner.ts";

const echo = process.argv.includes("--echo");
const sim = await startSimulator({});
let failed: boolean;
try {
  const t0 = performance.now();
  const { main, post } = await runJob({ sim, echo, timeoutMs: 10 * 60_000 });
  const total = performance.now() - t0;
  const show = (name: string, r: typeof main) => {
    console.log(
      `\n== ${name}: exit ${r.code}${r.timedOut ? " (timed out)" : ""} in ${(r.durationMs / 1000).toFixed(1)} s`,
    );
    for (const e of errors(r.stdout)) console.log(`   error: ${e}`);
    if (r.code !== 0 && !echo) console.log(r.stdout.split("\n").slice(-25).join("\n") + r.stderr);
  };
  show("main", main);
  console.log("   outputs:");
  for (const [k, v] of Object.entries(main.outputs))
    console.log(`     ${k} = ${v.length > 100 ? v.slice(0, 100) + "…" : v}`);
  console.log(`   state: ${Object.keys(main.state).join(", ") || "(none)"}`);
  console.log(`   exported env: ${Object.keys(main.exportedEnv).join(", ") || "(none)"}`);
  show("post", post);

  const byTool = new Map<string, number>();
  for (const c of sim.calls) {
    const key = c.node
      ? `${c.tool} (in node)`
      : c.via
        ? `${c.tool} (sudo)`
        : `${c.tool} ${c.argv[0] ?? ""}`.trim();
    byTool.set(key, (byTool.get(key) ?? 0) + 1);
  }
  console.log(`\n== ${sim.calls.length} simulated calls, ${(total / 1000).toFixed(1)} s in all`);
  for (const [k, n] of [...byTool].sort((a, b) => b[1] - a[1]))
    console.log(`   ${String(n).padStart(3)}  ${k}`);
  console.log(`   counters: ${JSON.stringify(sim.counters)}`);
  const left = sim.containers();
  console.log(
    `   containers left: ${left.length ? left.map((c) => `${c.name} (${c.state})`).join(", ") : "none"}`,
  );
  console.log(`   service running after post: ${sim.serviceRunning}`);
  failed = main.code !== 0 || post.code !== 0;
} finally {
  await sim.stop();
}
process.exitCode = failed ? 1 : 0;
