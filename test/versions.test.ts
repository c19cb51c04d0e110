import { describe, expect, it } from "vitest";
import {
  CONTAINER_VERSIONS,
  NODE_IMAGES,
  newestKubernetesVersion,
  recommendedKernel,
  resolveKubernetesVersion,
  unsupportedContainerReason,
  versionFromImage,
} from "../src/versions.js";
import { readFileSync } from "node:fs";
import { parse } from "yaml";

describe("versions", () => {
  it("defaults action.yml to the newest supported Kubernetes and the container version policy", () => {
    const action = parse(readFileSync(new URL("../action.yml", import.meta.url), "utf8"));
    expect(action.inputs["kubernetes-version"].default).toBe(newestKubernetesVersion());
    expect(newestKubernetesVersion()).toBe("1.37.0");
    expect(action.inputs["container-version"].default).toBe("supported");
    expect(action.outputs["container-version"]).toBeDefined();
  });

  it("pins kind v0.33.0's images by digest", () => {
    // https://github.com/kubernetes-sigs/kind/releases/tag/v0.33.0
    expect(NODE_IMAGES).toMatchObject({
      "1.37.0":
        "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
      "1.36.4":
        "kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed",
      "1.35.8":
        "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
      "1.34.11":
        "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d",
    });
    for (const [v, image] of Object.entries(NODE_IMAGES)) {
      expect(image).toMatch(/^kindest\/node:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
      expect(versionFromImage(image)).toBe(v);
    }
  });

  it("picks the kernel per CLI version, with the tarball digest the CLI pins", () => {
    expect(recommendedKernel("0.8.0").file).toBe("vmlinux-6.12.28-153");
    expect(recommendedKernel("0.9.0").file).toBe("vmlinux-6.18.5-177");
    expect(recommendedKernel("0.11.0").file).toBe("vmlinux-6.18.5-177");
    expect(recommendedKernel("0.12.0")).toEqual({
      kata: "3.28.0",
      tarball: "kata-static-3.28.0-arm64.tar.zst",
      file: "vmlinux-6.18.15-186",
    });
    expect(recommendedKernel("1.2.2")).toMatchObject({
      tarball: "kata-static-3.28.0-arm64.tar.zst",
      digest: "sha256:f63d54507d1f18635d94475077e4c2330de4d8e05cedf25f7c38f063b0e66a91",
    });
    for (const v of ["1.3.0", "1.3.1", "1.4.1", "1.5.0"]) {
      expect(recommendedKernel(v)).toEqual({
        kata: "3.32.0",
        tarball: "kata-static-3.32.0-arm64.tar.zst",
        file: "vmlinux-6.18.35-197-debug",
        digest: "sha256:8736c054d9223974735394f822000823baef509e1c33405ec798240fa9b6e4b5",
      });
    }
  });

  it("resolves minors to their newest patch", () => {
    expect(resolveKubernetesVersion("v1.34")).toBe("1.34.11");
    expect(resolveKubernetesVersion("1.37")).toBe("1.37.0");
    expect(resolveKubernetesVersion("v1.36")).toBe("1.36.4");
    expect(resolveKubernetesVersion("1.34.5")).toBeUndefined();
    expect(resolveKubernetesVersion("1.35.8.1")).toBeUndefined();
  });

  it("reads versions from image tags", () => {
    expect(versionFromImage("kindest/node:v1.34.0@sha256:abc")).toBe("1.34.0");
    expect(versionFromImage("reg:5000/kindest/node:v1.36.0")).toBe("1.36.0");
    expect(versionFromImage("reg:5000/node")).toBeUndefined();
  });

  it("keeps a pre-release: it is not the release it leads to (defect 12)", () => {
    expect(versionFromImage("kindest/node:v1.37.0-alpha.1")).toBe("1.37.0-alpha.1");
    expect(versionFromImage(`kindest/node:v1.37.0-rc.0@sha256:${"a".repeat(64)}`)).toBe("1.37.0-rc.0");
    expect(versionFromImage("kindest/node:v1.36.4+build.1")).toBe("1.36.4");
  });
});

describe("container CLI support", () => {
  it.each([
    ["0.11.0", /--cap-add arrived in 0\.12\.0/],
    ["0.12.0", /older than the oldest supported release, 1\.2\.1/],
    ["1.1.0", /older than the oldest supported release, 1\.2\.1/],
    ["1.2.0", /\/proc\/sys read-only .* no option to lift it/],
    ["1.4.0", /never released/],
  ])("refuses %s", (v, why) => {
    expect(unsupportedContainerReason(v)).toMatch(why);
  });

  it.each(["1.2.1", "1.2.2", "1.3.0", "1.3.1", "1.4.1", "1.5.0", "1.6.0"])("accepts %s", (v) => {
    expect(unsupportedContainerReason(v)).toBeUndefined();
  });

  it("tests every release from the minimum to the newest, which is the default's", () => {
    expect(CONTAINER_VERSIONS.tested[0]).toBe(CONTAINER_VERSIONS.minimum);
    expect(CONTAINER_VERSIONS.tested.at(-1)).toBe(CONTAINER_VERSIONS.newestTested);
    expect(CONTAINER_VERSIONS.newestTested).toBe("1.5.0");
  });
});
