// A loopback stand-in for the Actions cache service v2, speaking what the real @actions/cache calls:
// Twirp JSON (CreateCacheEntry, FinalizeCacheEntryUpload, GetCacheEntryDownloadURL), signed upload
// URLs taking the Azure blob SDK's PUTs (one Put Blob, or Put Block… + Put Block List), and plain GET
// downloads. It keeps entries in memory and counts every call and byte.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { delimiter, join } from "node:path";

const TWIRP = "/twirp/github.actions.results.api.v1.CacheService/";
// IP-style blob URLs put the account first: /<account>/<container>/<blob>.
const BLOB = "/kinacache/entries/";

export interface CacheEntry {
  id: number;
  key: string;
  version: string;
  data: Buffer | undefined;
  blocks: Map<string, Buffer>;
  finalized: boolean;
  created: number;
}

export interface CacheCounters {
  /** Twirp calls by method. */
  CreateCacheEntry: number;
  FinalizeCacheEntryUpload: number;
  GetCacheEntryDownloadURL: number;
  /** GetCacheEntryDownloadURL answered with an entry. */
  hits: number;
  misses: number;
  /** 409 answers to CreateCacheEntry. */
  conflicts: number;
  /** Blob PUTs (Put Blob, Put Block, Put Block List). */
  puts: number;
  /** Blob GETs. */
  gets: number;
  bytesUploaded: number;
  bytesDownloaded: number;
  /** Requests refused for a missing or wrong bearer token or signature. */
  unauthorized: number;
}

export interface CacheServer {
  /** ACTIONS_RESULTS_URL, with its trailing slash. */
  url: string;
  token: string;
  /** What the action's environment needs to use this server. */
  env: Record<string, string>;
  counters: CacheCounters;
  /** Finalized entries. */
  entries(): CacheEntry[];
  /** Every call as `METHOD key` or `PUT`/`GET`, in order. */
  log: string[];
  reset(): void;
  close(): Promise<void>;
}

function zero(): CacheCounters {
  return {
    CreateCacheEntry: 0,
    FinalizeCacheEntryUpload: 0,
    GetCacheEntryDownloadURL: 0,
    hits: 0,
    misses: 0,
    conflicts: 0,
    puts: 0,
    gets: 0,
    bytesUploaded: 0,
    bytesDownloaded: 0,
    unauthorized: 0,
  };
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function json(res: ServerResponse, status: number, doc: unknown): void {
  const data = Buffer.from(JSON.stringify(doc));
  res.writeHead(status, { "content-type": "application/json", "content-length": data.length });
  res.end(data);
}

function azure(res: ServerResponse, status: number, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    "x-ms-request-id": randomBytes(8).toString("hex"),
    "x-ms-version": "2025-01-05",
    etag: `"0x${randomBytes(6).toString("hex").toUpperCase()}"`,
    "last-modified": new Date().toUTCString(),
    "content-length": "0",
    ...extra,
  });
  res.end();
}

export async function startCacheServer(): Promise<CacheServer> {
  const token = `sim-${randomBytes(12).toString("hex")}`;
  const sig = randomBytes(12).toString("hex");
  let nextId = 1;
  let store = new Map<number, CacheEntry>();
  let counters = zero();
  const log: string[] = [];

  const find = (key: string, version: string) =>
    [...store.values()].find((e) => e.key === key && e.version === version);

  async function twirp(method: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.authorization !== `Bearer ${token}`) {
      counters.unauthorized++;
      return json(res, 401, { code: "unauthenticated", msg: "invalid token" });
    }
    const doc = JSON.parse((await body(req)).toString() || "{}") as Record<string, unknown>;
    const key = String(doc.key ?? "");
    const version = String(doc.version ?? "");
    log.push(`${method} ${key}`);
    switch (method) {
      case "CreateCacheEntry": {
        counters.CreateCacheEntry++;
        const existing = find(key, version);
        if (existing?.finalized) {
          counters.conflicts++;
          return json(res, 409, {
            code: "already_exists",
            msg: "cache entry with the same key, version, and scope already exists",
          });
        }
        const entry: CacheEntry = existing ?? {
          id: nextId++,
          key,
          version,
          data: undefined,
          blocks: new Map(),
          finalized: false,
          created: Date.now(),
        };
        store.set(entry.id, entry);
        return json(res, 200, {
          ok: true,
          signed_upload_url: `${base}${BLOB.slice(1)}${entry.id}?sig=${sig}&sp=w`,
        });
      }
      case "FinalizeCacheEntryUpload": {
        counters.FinalizeCacheEntryUpload++;
        const entry = find(key, version);
        const size = Number(doc.size_bytes ?? -1);
        if (!entry || entry.finalized || !entry.data)
          return json(res, 200, { ok: false, entry_id: "0", message: "no upload for this entry" });
        if (entry.data.length !== size) {
          return json(res, 200, {
            ok: false,
            entry_id: "0",
            message: `size ${size} does not match the ${entry.data.length} bytes uploaded`,
          });
        }
        entry.finalized = true;
        return json(res, 200, { ok: true, entry_id: String(entry.id) });
      }
      case "GetCacheEntryDownloadURL": {
        counters.GetCacheEntryDownloadURL++;
        const done = [...store.values()].filter((e) => e.finalized && e.version === version);
        let hit = done.find((e) => e.key === key);
        for (const prefix of (doc.restore_keys as string[] | undefined) ?? []) {
          if (hit) break;
          hit = done.filter((e) => e.key.startsWith(prefix)).sort((a, b) => b.created - a.created)[0];
        }
        if (!hit) {
          counters.misses++;
          return json(res, 200, { ok: false, signed_download_url: "", matched_key: "" });
        }
        counters.hits++;
        return json(res, 200, {
          ok: true,
          signed_download_url: `${base}${BLOB.slice(1)}${hit.id}?sig=${sig}&sp=r`,
          matched_key: hit.key,
        });
      }
      default:
        return json(res, 404, { code: "bad_route", msg: `no handler for ${method}` });
    }
  }

  async function blob(id: number, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (url.searchParams.get("sig") !== sig) {
      counters.unauthorized++;
      return azure(res, 403);
    }
    const entry = store.get(id);
    if (req.method === "GET") {
      log.push("GET");
      counters.gets++;
      if (!entry?.finalized || !entry.data) return azure(res, 404);
      counters.bytesDownloaded += entry.data.length;
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": entry.data.length });
      res.end(entry.data);
      return;
    }
    if (req.method !== "PUT") return azure(res, 405);
    log.push("PUT");
    counters.puts++;
    const data = await body(req);
    if (!entry || entry.finalized) return azure(res, 404);
    const comp = url.searchParams.get("comp");
    if (comp === "block") {
      counters.bytesUploaded += data.length;
      entry.blocks.set(url.searchParams.get("blockid") ?? "", data);
      return azure(res, 201);
    }
    if (comp === "blocklist") {
      const ids = [...data.toString().matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)<\//g)].map(
        (m) => m[1]!,
      );
      const parts = ids.map((b) => entry.blocks.get(b));
      if (parts.some((p) => !p)) return azure(res, 400);
      entry.data = Buffer.concat(parts as Buffer[]);
      entry.blocks.clear();
      return azure(res, 201);
    }
    if (req.headers["x-ms-blob-type"] !== "BlockBlob") return azure(res, 400);
    counters.bytesUploaded += data.length;
    entry.data = data;
    return azure(res, 201);
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const done = (p: Promise<void>) =>
      p.catch((e: unknown) => {
        if (!res.headersSent) json(res, 500, { code: "internal", msg: String(e) });
      });
    if (req.method === "POST" && url.pathname.startsWith(TWIRP))
      done(twirp(url.pathname.slice(TWIRP.length), req, res));
    else if (url.pathname.startsWith(BLOB))
      done(blob(Number(url.pathname.slice(BLOB.length)), url, req, res));
    else json(res, 404, { code: "bad_route", msg: url.pathname });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  return {
    url: base,
    token,
    env: { ACTIONS_CACHE_SERVICE_V2: "true", ACTIONS_RESULTS_URL: base, ACTIONS_RUNTIME_TOKEN: token },
    get counters() {
      return counters;
    },
    entries: () => [...store.values()].filter((e) => e.finalized),
    log,
    reset() {
      store = new Map();
      counters = zero();
      log.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Makes a simulated macOS runner's bin dir look like a Mac with Homebrew's GNU tar and zstd, the tools
 * @actions/cache looks for on darwin (`gtar` first, else the system's BSD `tar`; `zstd` when
 * `zstd --version` works, else gzip). Links the host's GNU tar as `gtar`, and zstd, unzstd and zstdmt where missing.
 */
export function addCacheTools(binDir: string, hostPath = process.env.PATH ?? ""): void {
  const onHost = (name: string) =>
    hostPath
      .split(delimiter)
      .map((d) => join(d, name))
      .find((p) => existsSync(p));
  mkdirSync(binDir, { recursive: true });
  for (const [name, target] of [
    ["gtar", "tar"],
    ["zstd", "zstd"],
    ["unzstd", "zstd"],
    ["zstdmt", "zstd"],
  ] as const) {
    const dest = join(binDir, name);
    const src = onHost(target);
    if (!src || existsSync(dest)) continue;
    symlinkSync(src, dest);
  }
}
