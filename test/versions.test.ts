import { describe, expect, it } from "vitest";
import {
  newestKubernetesVersion,
  recommendedKernel,
  resolveKubernetesVersion,
  versionFromImage,
} from "../src/versions.js";
import { readFileSync } from "node:fs";
import { parse } from "yaml";

describe("versions", () => {
  it("defaults action.yml to the newest supported version and the tested CLI", () => {
    const action = parse(readFileSync(new URL("../action.yml", import.meta.url), "utf8"));
    expect(action.inputs["kubernetes-version"].default).toBe(newestKubernetesVersion());
    expect(newestKubernetesVersion()).toBe("1.35.8");
  });
  it("picks the kernel per CLI version", () => {
    expect(recommendedKernel("0.8.0").file).toBe("vmlinux-6.12.28-153");
    expect(recommendedKernel("0.9.0").file).toBe("vmlinux-6.18.5-177");
    expect(recommendedKernel("0.11.0").file).toBe("vmlinux-6.18.5-177");
    expect(recommendedKernel("0.12.0").file).toBe("vmlinux-6.18.15-186");
    expect(recommendedKernel("1.2.2").tarball).toBe("kata-static-3.28.0-arm64.tar.zst");
  });
  it("resolves minors to their newest patch", () => {
    expect(resolveKubernetesVersion("v1.34")).toBe("1.34.11");
    expect(resolveKubernetesVersion("1.34.5")).toBeUndefined();
    expect(resolveKubernetesVersion("1.35.8.1")).toBeUndefined();
  });
  it("reads versions from image tags", () => {
    expect(versionFromImage("kindest/node:v1.34.0@sha256:abc")).toBe("1.34.0");
    expect(versionFromImage("reg:5000/kindest/node:v1.36.0")).toBe("1.36.0");
    expect(versionFromImage("reg:5000/node")).toBeUndefined();
  });
});
