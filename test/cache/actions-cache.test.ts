// The cache adapter against the real @actions/cache and the loopback cache service stand-in.
import { BlockBlobClient } from "@azure/storage-blob";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import * as fs from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { cacheDir, cacheOpener } from "../../src/cache/actions-cache.js";
import { startCacheServer, type CacheServer } from "../sim/cache-server.ts";

let server: CacheServer;
let root: string;

function stdout(): { text(): string; restore(): void } {
  let out = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  return { text: () => out, restore: () => spy.mockRestore() };
}

beforeAll(async () => {
  server = await startCacheServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kina-cache-test-"));
  mkdirSync(join(root, "work")); // the runner creates the workspace; tar runs in it
  server.reset();
  for (const [k, v] of Object.entries({
    ...server.env,
    RUNNER_TEMP: join(root, "temp"),
    GITHUB_WORKSPACE: join(root, "work"),
  }))
    vi.stubEnv(k, v);
  vi.stubEnv("GITHUB_SERVER_URL", undefined);
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

async function fill(dir: string, name: string, bytes: number): Promise<Buffer> {
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 7919) % 251;
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(join(dir, name), data);
  return data;
}

describe("cacheOpener", () => {
  it("saves a directory and restores it byte for byte through the real library", async () => {
    const cache = (await cacheOpener(true)())!;
    const dir = cacheDir("kernel-test");
    expect(dir.startsWith(join(root, "temp"))).toBe(true);
    const data = await fill(dir, "vmlinux-test", 300_000);

    expect(await cache.save(dir, "kina-test-1")).toBe(true);
    expect(server.counters).toMatchObject({
      CreateCacheEntry: 1,
      puts: 1,
      FinalizeCacheEntryUpload: 1,
      unauthorized: 0,
    });
    expect(server.entries().map((e) => e.key)).toEqual(["kina-test-1"]);

    await fs.rm(dir, { recursive: true });
    expect(await cache.restore(dir, "kina-test-1")).toBe(true);
    expect(await fs.readFile(join(dir, "vmlinux-test"))).toEqual(data);
    expect(server.counters).toMatchObject({ GetCacheEntryDownloadURL: 1, hits: 1, gets: 1 });
    expect(server.counters.bytesDownloaded).toBe(server.counters.bytesUploaded);
  });

  it("a miss downloads nothing", async () => {
    const cache = (await cacheOpener(true)())!;
    expect(await cache.restore(cacheDir("nothing"), "kina-absent")).toBe(false);
    expect(server.counters).toMatchObject({ GetCacheEntryDownloadURL: 1, misses: 1, gets: 0 });
  });

  it("a key that exists is not uploaded again", async () => {
    const cache = (await cacheOpener(true)())!;
    const dir = cacheDir("twice");
    await fill(dir, "f", 1000);
    expect(await cache.save(dir, "kina-twice")).toBe(true);
    const out = stdout();
    try {
      expect(await cache.save(dir, "kina-twice")).toBe(false);
    } finally {
      out.restore();
    }
    expect(server.counters).toMatchObject({ CreateCacheEntry: 2, conflicts: 1, puts: 1 });
    expect(out.text()).not.toMatch(/::(error|warning)::/);
  });

  it("a path saved elsewhere does not match (the version hashes the path)", async () => {
    const cache = (await cacheOpener(true)())!;
    await fill(cacheDir("a"), "f", 10);
    expect(await cache.save(cacheDir("a"), "kina-path")).toBe(true);
    expect(await cache.restore(cacheDir("b"), "kina-path")).toBe(false);
  });

  it("cache: false opens nothing and calls nothing", async () => {
    expect(await cacheOpener(false)()).toBeUndefined();
    expect(server.log).toEqual([]);
  });

  it("without a cache service it is a notice, once, and no calls", async () => {
    vi.stubEnv("ACTIONS_RESULTS_URL", undefined);
    const out = stdout();
    let open;
    try {
      open = cacheOpener(true);
      expect(await open()).toBeUndefined();
      expect(await open()).toBeUndefined();
    } finally {
      out.restore();
    }
    expect(out.text().match(/::notice::The Actions cache service is not available/g)).toHaveLength(1);
    expect(server.log).toEqual([]);
  });

  it("a cache service that refuses connections is a miss and a skipped save, not an error", async () => {
    const gone = await startCacheServer();
    await gone.close();
    vi.stubEnv("ACTIONS_RESULTS_URL", gone.url);
    const cache = (await cacheOpener(true)())!;
    const dir = cacheDir("down");
    await fill(dir, "f", 10);
    const out = stdout();
    try {
      expect(await cache.restore(dir, "kina-down")).toBe(false);
      expect(await cache.save(dir, "kina-down")).toBe(false);
    } finally {
      out.restore();
    }
    expect(out.text()).not.toMatch(/::error::/);
  });

  it("a wrong runtime token is refused by the stand-in", async () => {
    vi.stubEnv("ACTIONS_RUNTIME_TOKEN", "not-the-token");
    const cache = (await cacheOpener(true)())!;
    const out = stdout();
    try {
      expect(await cache.restore(cacheDir("x"), "kina-token")).toBe(false);
    } finally {
      out.restore();
    }
    expect(server.counters.unauthorized).toBe(1);
  });
});

describe("cache service stand-in", () => {
  it("takes the blob SDK's block uploads (what archives over 128 MiB use)", async () => {
    const r = await fetch(`${server.url}twirp/github.actions.results.api.v1.CacheService/CreateCacheEntry`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
      body: JSON.stringify({ key: "kina-blocks", version: "v1" }),
    });
    const { signed_upload_url: url } = (await r.json()) as { signed_upload_url: string };
    const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 256));
    await new BlockBlobClient(url).uploadData(data, {
      maxSingleShotSize: 1024,
      blockSize: 1024,
      concurrency: 4,
    });
    expect(server.counters.puts).toBe(11); // 10 blocks and the block list
    const fin = await fetch(
      `${server.url}twirp/github.actions.results.api.v1.CacheService/FinalizeCacheEntryUpload`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
        body: JSON.stringify({ key: "kina-blocks", version: "v1", size_bytes: String(data.length) }),
      },
    );
    expect(await fin.json()).toMatchObject({ ok: true });
    expect(server.entries()[0]!.data).toEqual(data);
  });
});
