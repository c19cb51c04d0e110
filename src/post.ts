import * as core from "@actions/core";
import { ContainerCli } from "./container/cli.js";
import { read, STATE } from "./state.js";
import { keepMessage, teardown, type TeardownInput } from "./steps/teardown.js";
import { restartStoppedService } from "./steps/service.js";
import { unregister } from "./jobs.js";
import { parsePending, saveCaches } from "./steps/cache-save.js";
import { cacheOpener } from "./cache/actions-cache.js";
import { maskProxyCredentials, redact } from "./secrets.js";

async function run(): Promise<void> {
  // A new process: register the proxy credentials again before anything is printed.
  maskProxyCredentials();
  // Every `container` call is bounded by the adapter's table, so a wedged service cannot hold the job.
  const cli = new ContainerCli();
  if (read(STATE.serviceStopped) === "true") {
    await core.group("Container service", () => restartStoppedService(cli));
  }
  // First, while the container service surely runs: `image save` needs it, teardown may stop it.
  const pending = parsePending(read(STATE.cacheSave));
  if (pending.length) {
    await core.group("Save to the Actions cache", () => saveCaches(cli, pending, cacheOpener(true)));
  }

  const t: TeardownInput = {
    node: read(STATE.node),
    workers: parseNames(read(STATE.workers)),
    kubeconfig: read(STATE.kubeconfig),
    serviceStartedByUs: read(STATE.serviceStartedByUs) === "true",
  };
  // Main saves each thing before creating it: nothing saved, nothing to touch.
  if (!t.node && !t.workers?.length && !t.kubeconfig && !t.serviceStartedByUs) {
    core.info("Nothing to clean up.");
    return;
  }
  if (read(STATE.cleanup) === "false") {
    core.notice(keepMessage(t));
    return;
  }
  const start = performance.now();
  await core.group("Teardown", () => teardown(cli, t));
  core.info(`Teardown: done in ${((performance.now() - start) / 1000).toFixed(2)}s`);
}

/** The worker names main saved (a JSON array of strings); anything else is no workers. */
function parseNames(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text || "[]");
    return Array.isArray(v) ? v.filter((n): n is string => typeof n === "string" && n !== "") : [];
  } catch {
    return [];
  }
}

try {
  await run();
} catch (err) {
  // Cleanup never fails the job.
  core.warning(`Cleanup failed: ${redact(err instanceof Error ? err.message : String(err))}`);
} finally {
  // This job no longer uses the service (jobs.ts); after the teardown, which decides by the others.
  await unregister(process.env).catch((e: unknown) =>
    core.warning(
      `Cleanup: could not remove this job's registration: ${redact(e instanceof Error ? e.message : String(e))}`,
    ),
  );
  // Leave once the work is done: a cache upload given up on (actions-cache.ts) may still hold sockets.
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  process.exit(0);
}
