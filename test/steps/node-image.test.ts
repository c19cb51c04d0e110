// ensureNodeImage against the simulated container CLI and the real @actions/cache talking to the
// loopback cache service stand-in.
import { it } from "vitest";
import { cacheOpener } from "../../src/cache/actions-cache.js";
import { ContainerCli } from "../../src/container/cli.js";
import { saveCaches } from "../../src/steps/cache-save.js";
import { ensureNodeImage, imageCacheKey } from "../../src/steps/node-image.js";
import type { Simulator, SimulatorOptions } from "../sim/simulator.ts";
import { DEFAULT_IMAGE as IMAGE, describe, expect, test } from "../fixtures/mac.ts";

/** What main then the post step do: ensure the image, then upload what main left to save. */
async function ensureAndSave(image: string, enabled: boolean) {
  const cli = new ContainerCli();
  const open = cacheOpener(enabled);
  const r = await ensureNodeImage(cli, image, open);
  if (r.save) await saveCaches(cli, [r.save], open);
  return r;
}

const DEFAULTS: SimulatorOptions = { serviceRunning: true, kernelInstalled: true };

const cli = (s: Simulator, sub: string) =>
  s.calls.filter((c) => c.tool === "container" && c.argv[0] === "image" && c.argv[1] === sub);

describe("ensureNodeImage", () => {
  it("keys digest-pinned images by digest, and does not cache a bare tag", () => {
    expect(imageCacheKey(IMAGE)).toBe(`kina-node-image-${IMAGE.split("@sha256:")[1]}-arm64`);
    expect(imageCacheKey("kindest/node:v1.35.8")).toBeUndefined();
  });

  test("makes no cache calls when the image is already there", async ({ onMac, cache }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
    const s = await runner({ images: [IMAGE] });
    expect(await ensureAndSave(IMAGE, true)).toMatchObject({
      pulled: false,
      restored: false,
    });
    expect(cache.log).toEqual([]);
    expect(s.counters.pulls).toBe(0);
  });

  test("main only records the save; the post step uploads it", async ({ onMac, cache }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
    await runner({});
    const cli = new ContainerCli();
    const open = cacheOpener(true);
    const r = await ensureNodeImage(cli, IMAGE, open);
    expect(r.save).toMatchObject({ kind: "image", key: imageCacheKey(IMAGE), image: IMAGE });
    expect(cache.counters.CreateCacheEntry).toBe(0);
    await saveCaches(cli, [r.save!], open);
    expect(cache.entries().map((e) => e.key)).toEqual([imageCacheKey(IMAGE)]);
  });

  test("cold: pulled once and its archive saved; warm: loaded from the cache, nothing pulled", async ({
    onMac,
    cache,
  }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
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
    expect(cache.entries().map((e) => e.key)).toEqual([imageCacheKey(IMAGE)]);

    s = await runner({});
    expect(await ensureAndSave(IMAGE, true)).toMatchObject({
      pulled: false,
      restored: true,
    });
    expect(s.counters.pulls).toBe(0);
    expect(cli(s, "load")).toHaveLength(1);
    expect(s.imageRefs()).toEqual([expect.stringContaining(IMAGE)]);
    expect(cache.counters).toMatchObject({ hits: 1, gets: 1, CreateCacheEntry: 1 });
  });

  test("pulls a bare tag without touching the cache", async ({ onMac, cache }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
    const s = await runner({});
    await ensureAndSave("kindest/node:v1.35.8", true);
    expect(s.counters.pulls).toBe(1);
    expect(cache.log).toEqual([]);
  });

  test("an archive the CLI cannot load falls back to pulling", async ({ onMac }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
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

  test("a failed save is a notice; the image is still there", async ({ onMac, cache }) => {
    const runner = (o: SimulatorOptions) => onMac({ ...DEFAULTS, ...o });
    const s = await runner({
      faults: [{ when: "image save", code: 1, stderr: 'Error: internalError: "disk full"' }],
    });
    expect(await ensureAndSave(IMAGE, true)).toMatchObject({
      pulled: true,
    });
    expect(cache.counters.CreateCacheEntry).toBe(0);
    expect(s.imageRefs()).toHaveLength(1);
  });
});
