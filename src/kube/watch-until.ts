import { Watch, type KubeConfig } from "@kubernetes/client-node";

export interface WatchUntilOptions<T> {
  path: string;
  query?: Record<string, string>;
  /** Returns the value that ends the wait, or undefined to keep watching. */
  done: (obj: T) => unknown;
  /** Called with every object seen, so a timeout can say what was last observed. */
  observe?: (obj: T) => void;
  signal: AbortSignal;
}

/**
 * Resolves with the first object for which `done` is truthy. The server sends the current objects as
 * ADDED first, so an object already in the wanted state resolves at once. A watch the server closes is
 * reopened; the caller's signal (the readiness budget) bounds it all.
 */
export function watchUntil<T>(kc: KubeConfig, o: WatchUntilOptions<T>): Promise<T> {
  const watch = new Watch(kc);
  return new Promise<T>((resolve, reject) => {
    let current: AbortController | undefined;
    let settled = false;
    let retryTimer: NodeJS.Timeout | undefined;
    let failures = 0;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(retryTimer);
      o.signal.removeEventListener("abort", onAbort);
      current?.abort();
      fn();
    };
    const onAbort = () => finish(() => reject(o.signal.reason ?? new Error("aborted")));
    o.signal.addEventListener("abort", onAbort, { once: true });
    const start = () => {
      if (settled) return;
      watch
        .watch(
          o.path,
          { ...o.query, timeoutSeconds: 300, allowWatchBookmarks: false },
          (type: string, obj: T) => {
            if (type === "ADDED" || type === "MODIFIED") {
              failures = 0;
              o.observe?.(obj);
              if (o.done(obj)) finish(() => resolve(obj));
            }
          },
          (err: unknown) => {
            if (settled) return;
            // Back off only after errors; a server-side close after a timeout reopens at once.
            failures = err ? failures + 1 : 0;
            retryTimer = setTimeout(start, err ? Math.min(100 * 2 ** failures, 2000) : 0);
          },
        )
        .then(
          (ac) => {
            current = ac;
            if (settled) ac.abort();
          },
          () => {
            if (settled) return;
            failures++;
            retryTimer = setTimeout(start, Math.min(100 * 2 ** failures, 2000));
          },
        );
    };
    if (o.signal.aborted) onAbort();
    else start();
  });
}
