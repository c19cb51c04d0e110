// ensureKubectl with the real @actions/tool-cache against a loopback stand-in for dl.k8s.io.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tc from "@actions/tool-cache";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ensureKubectl,
  kubectlVersion,
  KUBECTL_URL,
  parseSha256File,
  sha256Url,
} from "../../src/steps/kubectl.js";
import { kubectlStandIn, startDownloadServer, type DownloadServer } from "../sim/download-server.ts";

let dl: DownloadServer;
let dir: string;
let root: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kina-kubectl-srv-"));
  dl = await startDownloadServer({ dir, kubectl: ["1.35.8", "1.34.11", "1.33.1"], wrongSha256: ["1.33.1"] });
});
afterAll(async () => {
  await dl.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kina-kubectl-test-"));
  for (const d of ["bin", "temp", "tools"]) mkdirSync(join(root, d));
  // A runner without kubectl: PATH holds only an empty bin dir.
  vi.stubEnv("PATH", join(root, "bin"));
  vi.stubEnv("RUNNER_TEMP", join(root, "temp"));
  vi.stubEnv("RUNNER_TOOL_CACHE", join(root, "tools"));
  vi.stubEnv("GITHUB_PATH", undefined);
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function preinstall(version: string): void {
  const p = join(root, "bin", "kubectl");
  writeFileSync(p, kubectlStandIn(version));
  chmodSync(p, 0o755);
}

describe("ensureKubectl", () => {
  it("reads the .sha256 files dl.k8s.io and sha256sum write", () => {
    const h = "ab".repeat(32);
    expect(parseSha256File(`${h}\n`)).toBe(h);
    expect(parseSha256File(`${h.toUpperCase()}  kubectl\n`)).toBe(h);
    expect(parseSha256File("<html>not found</html>")).toBeUndefined();
    expect(KUBECTL_URL.replaceAll("{version}", "1.35.8")).toBe(
      "https://dl.k8s.io/release/v1.35.8/bin/darwin/arm64/kubectl",
    );
  });

  it("installs the cluster's version when kubectl is missing, verified, on PATH, and kept in the tool cache", async () => {
    const before = { ...dl.counters };
    expect(await kubectlVersion()).toBeUndefined();
    expect(await ensureKubectl({ fallback: "1.35.8", url: dl.kubectlUrl })).toEqual({
      version: "1.35.8",
      installed: true,
    });
    expect(await kubectlVersion()).toBe("1.35.8");
    expect(dl.counters.kubectl - before.kubectl).toBe(1);
    expect(dl.counters.sha256 - before.sha256).toBe(1);
    expect(tc.find("kubectl", "1.35.8", "arm64")).not.toBe("");

    // The next job: PATH without it again, the tool cache kept.
    vi.stubEnv("PATH", join(root, "bin"));
    expect(await ensureKubectl({ fallback: "1.35.8", url: dl.kubectlUrl })).toEqual({
      version: "1.35.8",
      installed: true,
    });
    expect(dl.counters.kubectl - before.kubectl).toBe(1);
  });

  it("leaves an installed kubectl alone unless kubectl-version asks for another", async () => {
    preinstall("1.34.11");
    const before = dl.counters.kubectl;
    expect(await ensureKubectl({ fallback: "1.35.8", url: dl.kubectlUrl })).toEqual({
      version: "1.34.11",
      installed: false,
    });
    expect(await ensureKubectl({ version: "1.34.11", url: dl.kubectlUrl })).toEqual({
      version: "1.34.11",
      installed: false,
    });
    expect(dl.counters.kubectl).toBe(before);
    expect(await ensureKubectl({ version: "1.35.8", url: dl.kubectlUrl })).toEqual({
      version: "1.35.8",
      installed: true,
    });
    expect(await kubectlVersion()).toBe("1.35.8"); // ahead of the old one on PATH
  });

  it("refuses a binary that does not match its published checksum, and keeps nothing", async () => {
    await expect(ensureKubectl({ fallback: "1.33.1", url: dl.kubectlUrl })).rejects.toThrow(
      /kubectl 1\.33\.1 failed its checksum/,
    );
    expect(tc.find("kubectl", "1.33.1", "arm64")).toBe("");
    expect(await kubectlVersion()).toBeUndefined();
  });

  it("names the URL of a release that does not exist", async () => {
    await expect(ensureKubectl({ version: "1.99.0", url: dl.kubectlUrl })).rejects.toThrow(
      /could not download http:\/\/127\.0\.0\.1:\d+\/release\/v1\.99\.0\/bin\/darwin\/arm64\/kubectl.*HTTP 404/,
    );
  });

  it("warns, and installs nothing, when kubectl is missing and no version is known", async () => {
    expect(await ensureKubectl({ url: dl.kubectlUrl })).toEqual({ version: undefined, installed: false });
  });
});

describe("sha256Url", () => {
  it.each([
    [
      "https://dl.k8s.io/release/v1.37.0/bin/darwin/arm64/kubectl",
      "https://dl.k8s.io/release/v1.37.0/bin/darwin/arm64/kubectl.sha256",
    ],
    // Defect 10: a mirror's token stays the query of the checksum's URL.
    ["https://m.example/kubectl?token=abc", "https://m.example/kubectl.sha256?token=abc"],
    ["https://m.example/kubectl#x", "https://m.example/kubectl.sha256#x"],
  ])("%s → %s", (url, sums) => {
    expect(sha256Url(url)).toBe(sums);
  });
});
