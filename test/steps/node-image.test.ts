// ensureNodeImage against the simulated container CLI and the real @actions/cache talking to the
// loopback cache service stand-in.
import { describe, expect, it } from "vitest";
import { cacheOpener } from "../../src/cache/actions-cache.js";
import { ContainerCli } from "../../src/container/cli.js";
import { saveCaches } from "../../src/steps/cache-save.js";
import { ensureNodeImage, imageCacheKey } from "../../src/steps/node-image.js";
import { NODE_IMAGES } from "../../src/versions.js";
import type { Simulator } from "../sim/simulator.ts";
import { useCachedRunner } from "../fixtures/cached-runner.ts";

/** What main then the post step do: ensure the image, then upload what main left to save. */
async function ensureAndSave(image: string, enabled: boolean) {
  const cli = new ContainerCli();
  const open = cacheOpener(enabled);
  const r = await ensureNodeImage(cli, image, open);
  if (r.save) await saveCaches(cli, [r.save], open);
  return r;
}

const IMAGE = NODE_IMAGES["1.35.8"]!;
const fixture = useCachedRunner("kina-image-test-", { serviceRunning: true, kernelInstalled: true });
const runner = fixture.runner;

const cli = (s: Simulator, sub: string) =>
  s.calls.filter((c) => c.tool === "container" && c.argv[0] === "image" && c.argv[1] === sub);

describe("ensureNodeImage", () => {
  it("keys digest-pinned images by digest, and does not cache a bare tag", () => {
    expect(imageCacheKey(IMAGE)).toBe(
      "kina-node-image-07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0-arm64",
    );
    expect(imageCacheKey("kindest/node:v1.35.8")).toBeUndefined();
  });

  it("makes no cache calls when the image is already there", async () => {
    const s = await runner({ images: [IMAGE] });
    expect(await ensureAndSave(IMAGE, true)).toMatchObject({
      pulled: false,
      restored: false,
    });
    expect(fixture.cache.log).toEqual([]);
    expect(s.counters.pulls).toBe(0);
  });

  it("main only records the save; the post step uploads it", async () => {
    await runner({});
    const cli = new ContainerCli();
    const open = cacheOpener(true);
    const r = await ensureNodeImage(cli, IMAGE, open);
    expect(r.save).toMatchObject({ kind: "image", key: imageCacheKey(IMAGE), image: IMAGE });
    expect(fixture.cache.counters.CreateCacheEntry).toBe(0);
    await saveCaches(cli, [r.save!], open);
    expect(fixture.cache.entries().map((e) => e.key)).toEqual([imageCacheKey(IMAGE)]);
  });

  it("cold: pulled once and its archive saved; warm: loaded from the cache, nothing pulled", async () => {
    let s = await runner({});
    expect(await ensureAndSave(IMAGE, true)).toMatchObject({
      pulled: true,
      restored: false,
    });
    expect(s.counters.pulls).toBe(1);
    expect(cli(s, "save")[0]!.argv).toEqual([
      "image",
      "save",
      "-o",
      expect.stringMatching(/node-image\.tar$/),
      IMAGE,
    ]);
    expect(fixture.cache.entries().map((e) => e.key)).toEqual([imageCacheKey(IMAGE)]);

    s = await runner({});
    expect(await ensureAndSave(IMAGE, true)).toMatchObject({
      pulled: false,
      restored: true,
    });
    expect(s.counters.pulls).toBe(0);
    expect(cli(s, "load")).toHaveLength(1);
    expect(s.imageRefs()).toEqual([expect.stringContaining("kindest/node:v1.35.8@sha256:07b2536e")]);
    expect(fixture.cache.counters).toMatchObject({ hits: 1, gets: 1, CreateCacheEntry: 1 });
  });

  it("pulls a bare tag without touching the cache", async () => {
    const s = await runner({});
    await ensureAndSave("kindest/node:v1.35.8", true);
    expect(s.counters.pulls).toBe(1);
    expect(fixture.cache.log).toEqual([]);
  });

  it("an archive the CLI cannot load falls back to pulling", async () => {
    await runner({});
    await ensureAndSave(IMAGE, true);
    const s = await runner({
      faults: [{ when: "image load", code: 1, stderr: 'Error: invalidArgument: "bad archive"' }],
    });
    expect(await ensureAndSave(IMAGE, true)).toMatchObject({
      pulled: true,
      restored: false,
    });
    expect(s.counters.pulls).toBe(1);
  });

  it("a failed save is a notice; the image is still there", async () => {
    const s = await runner({
      faults: [{ when: "image save", code: 1, stderr: 'Error: internalError: "disk full"' }],
    });
    expect(await ensureAndSave(IMAGE, true)).toMatchObject({
      pulled: true,
    });
    expect(fixture.cache.counters.CreateCacheEntry).toBe(0);
    expect(s.imageRefs()).toHaveLength(1);
  });
});
