import { afterEach, describe, expect, it } from "vitest";
import {
  ContainerCli,
  ContainerError,
  parseContainerState,
  parseSystemStatus,
  sameImage,
  splitImageRef,
} from "../../src/container/cli.js";
import { hostShell } from "../sim/simulator.ts";
import { withSim } from "../fixtures/sim.ts";

describe("parseContainerState", () => {
  it("reads the 1.x shape", () => {
    const s = parseContainerState({
      id: "kina-control-plane",
      configuration: { labels: { a: "b" } },
      status: {
        state: "running",
        networks: [{ network: "default", ipv4Address: "192.0.2.3/24", mtu: 1280 }],
      },
    });
    expect(s).toEqual({
      id: "kina-control-plane",
      state: "running",
      labels: { a: "b" },
      ipv4: "192.0.2.3",
      mtu: 1280,
    });
  });
  it("reads the 0.8–0.12 shape", () => {
    const s = parseContainerState({
      configuration: { id: "n", labels: {} },
      status: "running",
      networks: [{ ipv4Address: "192.0.2.4/24" }],
    });
    expect(s).toMatchObject({ id: "n", state: "running", ipv4: "192.0.2.4", mtu: undefined });
  });
  it("reads the ≤0.7 shape", () => {
    const s = parseContainerState({
      configuration: { id: "n" },
      status: "stopped",
      networks: [{ address: "192.0.2.5/24" }],
    });
    expect(s).toMatchObject({ state: "stopped", ipv4: "192.0.2.5" });
  });
  it("tolerates a container without networks", () => {
    expect(parseContainerState({ id: "x", status: { state: "stopped" } })).toMatchObject({
      state: "stopped",
      ipv4: undefined,
    });
  });
});

describe("ContainerError", () => {
  it("classifies the CLI's messages", () => {
    const down = new ContainerError(
      ["list"],
      1,
      "Error: XPC connection error: Connection invalid\nEnsure container system service has been started with `container system start`.",
    );
    expect(down.serviceDown).toBe(true);
    expect(new ContainerError(["inspect", "x"], 1, "Error: container with ID x not found").notFound).toBe(
      true,
    );
    expect(down.message).toContain("'container list' exited 1");
  });
});

describe("sameImage", () => {
  const pinned =
    "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0";
  const digest = "sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0";
  it("matches a pinned image by its digest only", () => {
    expect(sameImage(pinned, { ref: "docker.io/kindest/node:v1.35.8", digest })).toBe(true);
    expect(sameImage(pinned, { ref: `docker.io/kindest/node@${digest}`, digest: undefined })).toBe(true);
    // The same tag, moved to another image on the host, is not the pinned image.
    expect(
      sameImage(pinned, { ref: "docker.io/kindest/node:v1.35.8", digest: "sha256:" + "0".repeat(64) }),
    ).toBe(false);
    expect(sameImage(pinned, { ref: "docker.io/kindest/node:v1.35.8", digest: undefined })).toBe(false);
  });
  it("matches tags with Docker Hub's defaults", () => {
    expect(sameImage("nginx:1.27", { ref: "docker.io/library/nginx:1.27", digest: undefined })).toBe(true);
    expect(sameImage("nginx", { ref: "docker.io/library/nginx:latest", digest: undefined })).toBe(true);
    expect(sameImage("nginx:1.27", { ref: "docker.io/library/nginx:1.28", digest: undefined })).toBe(false);
    expect(sameImage("reg:5000/app:1", { ref: "reg:5000/app:1", digest: undefined })).toBe(true);
    expect(sameImage("reg:5000/app:1", { ref: "docker.io/reg/app:1", digest: undefined })).toBe(false);
  });
  it("splits references", () => {
    expect(splitImageRef("localhost:5000/x")).toEqual({
      repo: "localhost:5000/x",
      tag: "latest",
      digest: undefined,
    });
    expect(splitImageRef("ghcr.io/o/r:v1@sha256:ab")).toEqual({
      repo: "ghcr.io/o/r",
      tag: "v1",
      digest: "sha256:ab",
    });
  });
});

describe("parseSystemStatus", () => {
  it("reads the flat shape of 0.10.0–1.3.x (with its escaped slashes)", () => {
    const raw = JSON.parse(
      '{"status":"running","appRoot":"\\/Users\\/ci\\/Library\\/Application Support\\/com.apple.container\\/",' +
        '"installRoot":"\\/usr\\/local\\/","logRoot":null,' +
        '"apiServerVersion":"container-apiserver version 1.3.1 (build: release, commit: 0190097)",' +
        '"apiServerCommit":"0190097","apiServerBuild":"release","apiServerAppName":"container-apiserver"}',
    );
    expect(parseSystemStatus(raw)).toEqual({
      status: "running",
      running: true,
      appRoot: "/Users/ci/Library/Application Support/com.apple.container",
      installRoot: "/usr/local",
      clientVersion: undefined,
      serverVersion: "1.3.1",
      containersRunning: undefined,
    });
  });

  it("reads the nested shape of 1.4.1+, with both versions", () => {
    const raw = {
      status: "running",
      client: { appName: "container", build: "release", commit: "abc", version: "1.5.0" },
      server: { appName: "container-apiserver", build: "release", commit: "def", version: "1.4.1" },
      host: { architecture: "arm64", cpus: 10, operatingSystem: "macOS 26.1" },
      paths: {
        appRoot: "/Users/ci/Library/Application Support/com.apple.container/",
        installRoot: "/usr/local/",
      },
      resources: { containersRunning: 2, containersTotal: 3, images: 4 },
    };
    expect(parseSystemStatus(raw)).toEqual({
      status: "running",
      running: true,
      appRoot: "/Users/ci/Library/Application Support/com.apple.container",
      installRoot: "/usr/local",
      clientVersion: "1.5.0",
      serverVersion: "1.4.1",
      containersRunning: 2,
    });
  });

  it.each([
    [{ status: "not running" }, "not running"],
    [{ status: "unregistered" }, "unregistered"],
    [{ status: "not running", appRoot: "", installRoot: "", apiServerVersion: "" }, "not running"],
    [null, "unknown"],
    ["running", "unknown"],
  ])("a service that is down (%o) is not running and has no paths", (raw, status) => {
    expect(parseSystemStatus(raw)).toMatchObject({
      status,
      running: false,
      appRoot: undefined,
      serverVersion: undefined,
    });
  });
});

describe("ContainerCli queries against the simulated CLI", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it("reads each release's status into one shape", async () => {
    for (const [version, client] of [
      ["1.3.1", undefined],
      ["1.4.1", "1.4.1"],
    ] as const) {
      await withSim({ installedVersion: version, serviceRunning: true }, async (sim) => {
        Object.assign(process.env, sim.env);
        expect(await new ContainerCli().systemStatus()).toEqual({
          status: "running",
          running: true,
          appRoot: sim.appRoot,
          installRoot: "/usr/local",
          clientVersion: client,
          serverVersion: version,
          containersRunning: client ? 0 : undefined,
        });
        await hostShell(sim, "container system stop");
        expect(await new ContainerCli().systemStatus()).toMatchObject({ running: false, appRoot: undefined });
        expect(await new ContainerCli().running()).toEqual([]); // nothing runs while it is down
      });
    }
  });

  it("reports a status or list that does not answer, naming the command, instead of taking it for a stopped service", async () => {
    await withSim(
      {
        serviceRunning: true,
        faults: [
          { when: "container system status", delayMs: 5000 },
          { when: "container list", delayMs: 5000 },
        ],
      },
      async (sim) => {
        Object.assign(process.env, sim.env);
        await expect(new ContainerCli().systemStatus({ timeoutMs: 200 })).rejects.toThrow(
          "'container system status --format json' exited -1: (no answer within 0.2s; killed)",
        );
        await expect(new ContainerCli().running({ timeoutMs: 200 })).rejects.toThrow(
          "'container list --format json' exited -1: (no answer within 0.2s; killed)",
        );
      },
    );
  });
});
