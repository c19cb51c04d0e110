// A small Swift-ArgumentParser-alike: `--opt v`, `--opt=v`, `-o v`, grouped short flags (`-it`),
// repeated options, `--`, and the real CLI's exit code 64 for bad usage.

export interface OptSpec {
  names: string[];
  key: string;
  /** Takes a value. */
  value?: boolean;
  /** Collects every occurrence. */
  multi?: boolean;
}

export interface Parsed {
  opts: Record<string, string | string[] | boolean | undefined>;
  positionals: string[];
  /** Everything after the passthrough point (e.g. the command after the image of `run`). */
  rest: string[];
}

export class UsageError extends Error {}

/** Exit code and stderr for a failed command, thrown from handlers. */
export class Exit extends Error {
  code: number;
  stderr: string;
  stdout: string;
  constructor(code: number, stderr = "", stdout = "") {
    super(stderr || `exit ${code}`);
    this.code = code;
    this.stderr = stderr;
    this.stdout = stdout;
  }
}

/**
 * @param passthroughAfter after this many positionals, the remaining arguments are taken verbatim
 */
export function parseArgs(argv: string[], spec: OptSpec[], passthroughAfter = Infinity): Parsed {
  const byName = new Map<string, OptSpec>();
  for (const s of [...spec, { names: ["--debug"], key: "debug" }]) for (const n of s.names) byName.set(n, s);
  const opts: Parsed["opts"] = {};
  const positionals: string[] = [];
  const set = (s: OptSpec, v: string | boolean) => {
    if (s.multi) opts[s.key] = [...((opts[s.key] as string[] | undefined) ?? []), String(v)];
    else opts[s.key] = v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (positionals.length >= passthroughAfter) return { opts, positionals, rest: argv.slice(i) };
    if (a === "--") {
      const tail = argv.slice(i + 1);
      const room = passthroughAfter - positionals.length;
      positionals.push(...tail.slice(0, room));
      return { opts, positionals, rest: tail.slice(room) };
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq > 0 ? a.slice(0, eq) : a;
      const s = byName.get(name);
      if (!s) throw new UsageError(`Unknown option '${name}'`);
      if (s.value) {
        const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined) throw new UsageError(`Missing value for '${name} <${s.key}>'`);
        set(s, v);
      } else {
        if (eq > 0) throw new UsageError(`Unknown option '${a}'`);
        set(s, true);
      }
      continue;
    }
    if (a.startsWith("-") && a.length > 1 && !/^-\d/.test(a)) {
      // -abc: flags a and b, then c (which may take the next argument or the attached rest).
      for (let j = 1; j < a.length; j++) {
        const name = `-${a[j]}`;
        const s = byName.get(name);
        if (!s) throw new UsageError(`Unknown option '${name}'`);
        if (s.value) {
          const attached = a.slice(j + 1).replace(/^=/, "");
          const v = attached || argv[++i];
          if (v === undefined) throw new UsageError(`Missing value for '${name} <${s.key}>'`);
          set(s, v);
          break;
        }
        set(s, true);
      }
      continue;
    }
    positionals.push(a);
  }
  return { opts, positionals, rest: [] };
}

export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
export const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : []);
