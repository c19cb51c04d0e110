// The one backoff (API watches and polls, node polls): retry delays that double from `minMs` up to
// `maxMs`, and a sleep that an AbortSignal ends early.

export interface BackoffOptions {
  minMs: number;
  maxMs: number;
}

/** Delays minMs, 2·minMs, 4·minMs… capped at maxMs; `reset()` after a success starts over. */
export class Backoff {
  private failures = 0;

  constructor(private readonly o: BackoffOptions) {}

  /** The delay before the next attempt, counting this failure. */
  next(): number {
    const ms = Math.min(this.o.minMs * 2 ** this.failures, this.o.maxMs);
    this.failures++;
    return ms;
  }

  reset(): void {
    this.failures = 0;
  }

  /** Consecutive failures since the last reset. */
  get count(): number {
    return this.failures;
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
