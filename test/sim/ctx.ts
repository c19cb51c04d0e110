// What every simulated command handler gets.
import type { Readable } from "node:stream";
import { Exit } from "./args.ts";
import type { SimCore } from "./simulator.ts";
import type { Vm } from "./vm.ts";

export interface Ctx {
  sim: SimCore;
  tool: string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Running under (passwordless) sudo. */
  sudo: boolean;
  /** Set for the in-node tools: the VM the call came from. */
  vm?: Vm;
  out(data: string | Buffer): void;
  err(data: string | Buffer): void;
  stdin(): Readable;
  signal: AbortSignal;
}

export type Handler = (ctx: Ctx) => Promise<number>;

/** The container CLI's error line: `Error: <code>: "<message>"`, exit 1. */
export function cliError(code: string, message: string): Exit {
  return new Exit(1, `Error: ${code}: "${message}"\n`);
}

/** `Error: <code>: "<message>" (cause: "<code2>: "<message2>"")`, as wrapped client errors print. */
export function cliErrorCause(code: string, message: string, causeCode: string, causeMessage: string): Exit {
  return new Exit(1, `Error: ${code}: "${message}" (cause: "${causeCode}: "${causeMessage}"")\n`);
}

/** Swift ArgumentParser's usage error, exit 64. */
export function usageError(message: string, usage: string): Exit {
  return new Exit(
    64,
    `Error: ${message}\nUsage: ${usage}\n  See '${usage.split(" [")[0]} --help' for more information.\n`,
  );
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

/** Reads one line (without the newline); undefined at end of input with nothing read. */
export function readLine(stream: Readable): Promise<string | undefined> {
  return new Promise((resolve) => {
    let acc = "";
    const onData = (c: Buffer) => {
      acc += c.toString();
      const nl = acc.indexOf("\n");
      if (nl >= 0) {
        cleanup();
        resolve(acc.slice(0, nl));
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(acc.length ? acc : undefined);
    };
    const cleanup = () => {
      stream.off("data", onData);
      stream.off("end", onEnd);
    };
    stream.on("data", onData);
    stream.on("end", onEnd);
  });
}
