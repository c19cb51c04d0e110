import * as core from "@actions/core";
import { PhaseError } from "./errors.js";

export interface Timing {
  phase: string;
  seconds: number;
}

export const timings: Timing[] = [];

function seconds(startMs: number): number {
  return Math.round((performance.now() - startMs) / 10) / 100;
}

/** Runs one phase in a collapsed log group, records its duration, and tags any error with its name. */
export async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  return core.group(name, async () => {
    try {
      const result = await fn();
      const s = seconds(start);
      timings.push({ phase: name, seconds: s });
      core.info(`${name}: done in ${s}s`);
      return result;
    } catch (err) {
      const s = seconds(start);
      timings.push({ phase: name, seconds: s });
      core.info(`${name}: failed after ${s}s`);
      throw err instanceof PhaseError ? err : new PhaseError(name, err);
    }
  });
}
