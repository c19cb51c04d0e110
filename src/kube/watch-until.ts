import type { KubeConfig } from "@kubernetes/client-node";
import { reopeningWatch } from "./watch.js";

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
 * ADDED first, so an object already in the wanted state resolves at once. The watch is reopened when it
 * ends (watch.ts); the caller's signal (the readiness budget) bounds it all and rejects at once.
 */
export function watchUntil<T>(kc: KubeConfig, o: WatchUntilOptions<T>): Promise<T> {
  const found = new AbortController();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      found.abort();
      reject(o.signal.reason ?? new Error("aborted"));
    };
    if (o.signal.aborted) return onAbort();
    o.signal.addEventListener("abort", onAbort, { once: true });
    void reopeningWatch<T>(kc, {
      path: o.path,
      query: { ...o.query, timeoutSeconds: 300, allowWatchBookmarks: false },
      signal: found.signal,
      onEvent: (type, obj) => {
        if (type === "DELETED" || found.signal.aborted) return;
        o.observe?.(obj);
        if (o.done(obj)) {
          o.signal.removeEventListener("abort", onAbort);
          found.abort();
          resolve(obj);
        }
      },
    });
  });
}
