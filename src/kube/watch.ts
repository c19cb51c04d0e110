// The one watch of the Kubernetes side: a watch that is reopened whenever it ends, with backoff after
// failures, until its signal aborts. client-node's Watch bounds each connection itself (30 s to
// connect, 30 s without data).
import { Watch, type KubeConfig } from "@kubernetes/client-node";
import { Backoff, sleep } from "../backoff.js";

export interface ReopeningWatchOptions<T> {
  path: string;
  query?: Record<string, string | number | boolean>;
  /** Every ADDED/MODIFIED/DELETED event. A new watch lists the current objects as ADDED again. */
  onEvent: (type: string, obj: T) => void;
  /** A watch ended with an error (or ended too soon), before it is reopened after `delayMs`. */
  onFailure?: (err: unknown, failures: number, delayMs: number) => void;
  /** Ends the watch for good. */
  signal: AbortSignal;
}

/** A watch that ends sooner than this without error still counts as a failure for backoff. */
const SHORT_WATCH_MS = 1_000;

/**
 * Watches `path` until `signal` aborts; resolves then. No resourceVersion: a reopened watch replays the
 * current objects as ADDED, so nothing that changed while it was down is missed, and there is no
 * expired-version case; callers skip what they have seen.
 */
export async function reopeningWatch<T>(kc: KubeConfig, o: ReopeningWatchOptions<T>): Promise<void> {
  const watch = new Watch(kc);
  const backoff = new Backoff({ minMs: 100, maxMs: 5_000 });
  while (!o.signal.aborted) {
    const started = Date.now();
    const ended = await new Promise<unknown>((resolve) => {
      let controller: AbortController | undefined;
      // Leave at once: a watch still connecting is aborted as soon as client-node hands its controller.
      const onAbort = () => {
        controller?.abort();
        resolve(null);
      };
      o.signal.addEventListener("abort", onAbort, { once: true });
      const done = (err: unknown) => {
        o.signal.removeEventListener("abort", onAbort);
        resolve(err ?? null);
      };
      watch
        .watch(
          o.path,
          { ...o.query },
          (type: string, obj: T) => {
            if (o.signal.aborted) return;
            if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
              backoff.reset();
              o.onEvent(type, obj);
            }
          },
          done,
        )
        .then((ac) => {
          controller = ac;
          if (o.signal.aborted) ac.abort();
        }, done);
    });
    if (o.signal.aborted) return;
    // client-node ends a watch idle for 30 s with a TimeoutError: routine, reopen at once.
    const routine = ended === null || (ended instanceof Error && ended.name === "TimeoutError");
    if (routine && Date.now() - started >= SHORT_WATCH_MS) {
      backoff.reset();
      continue;
    }
    const delay = backoff.next();
    o.onFailure?.(ended, backoff.count, delay);
    await sleep(delay, o.signal).catch(() => undefined);
  }
}
