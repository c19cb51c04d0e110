// Self time of a V8 CPU profile (node --cpu-prof), by where the code came from.
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { url: string; functionName: string };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Names a chunk of the ncc bundle by the package that makes up most of it. */
export type ChunkNames = Record<string, string>;

function origin(frame: ProfileNode["callFrame"], chunks: ChunkNames): string {
  const fn = frame.functionName || "(anonymous)";
  if (!frame.url) {
    if (fn === "(idle)") return "(idle: waiting for I/O)";
    if (fn === "(garbage collector)" || fn === "(program)") return fn;
    // Native functions: decodeUTF8 (reading sources), read, stat, …
    return `native ${fn}`;
  }
  if (frame.url.startsWith("node:")) {
    // The ones that matter by name; the rest together.
    if (/^(compileSourceTextModule|compileForInternalLoader|spawn)$/.test(fn)) return `Node.js ${fn}`;
    return "Node.js built-ins (other)";
  }
  const file = basename(frame.url);
  if (/\/dist\/(main|post)\//.test(frame.url)) return chunks[file] ?? `bundle ${file}`;
  if (frame.url.includes("/bench/")) return "bench probe";
  return file;
}

/** Milliseconds of self time by origin, from the one .cpuprofile in `dir`. */
export function cpuByOrigin(dir: string, chunks: ChunkNames): Record<string, number> | undefined {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) return undefined;
  const p = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out: Record<string, number> = {};
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!);
    if (!n) continue;
    const key = origin(n.callFrame, chunks);
    out[key] = (out[key] ?? 0) + (p.timeDeltas[i] ?? 0) / 1000;
  }
  const merged: Record<string, number> = {};
  for (const [k, v] of Object.entries(out)) {
    const key = v < 10 ? "(other origins, each < 10 ms)" : k;
    merged[key] = (merged[key] ?? 0) + v;
  }
  return Object.fromEntries(Object.entries(merged).sort((a, b) => b[1] - a[1]));
}

/** The ncc chunks of a bundle folder, each named by its most frequent node_modules package. */
export function chunkNames(bundleDir: string): ChunkNames {
  const out: ChunkNames = {};
  for (const f of readdirSync(bundleDir).filter((x) => x.endsWith(".js"))) {
    const text = readFileSync(join(bundleDir, f), "utf8");
    const counts = new Map<string, number>();
    for (const m of text.matchAll(/node_modules\/((?:@[a-z0-9._-]+\/)?[a-z0-9._-]+)/g))
      counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
    const top = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
    const mb = (text.length / 1e6).toFixed(1);
    out[f] =
      f === "index.js"
        ? `bundle index.js (${mb} MB, entry)`
        : `bundle ${f} (${mb} MB${top ? `, ${top}` : ""})`;
  }
  return out;
}
