import {
  ContainerCli,
  ContainerError,
  parseContainerState,
  parseNetworks,
  parseSystemStatus,
  sameImage,
  splitImageRef,
} from "../../src/container/cli.js";
import { hostShell } from "../sim/simulator.ts";
import { describe, expect, it } from "vitest";
import { DEFAULT_IMAGE, test } from "../fixtures/mac.ts";

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
      ipv4Prefix: 24,
      mtu: 1280,
      startedDate: undefined,
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
  const pinned = DEFAULT_IMAGE;
  const digest = pinned.slice(pinned.indexOf("@") + 1);
  it("matches a pinned image by its digest only", () => {
    const tagged = `docker.io/${pinned.slice(0, pinned.indexOf("@"))}`;
    expect(sameImage(pinned, { ref: tagged, digest })).toBe(true);
    expect(sameImage(pinned, { ref: `docker.io/kindest/node@${digest}`, digest: undefined })).toBe(true);
    // The same tag, moved to another image on the host, is not the pinned image.
    expect(sameImage(pinned, { ref: tagged, digest: "sha256:" + "0".repeat(64) })).toBe(false);
    expect(sameImage(pinned, { ref: tagged, digest: undefined })).toBe(false);
  });
  it("matches tags with Docker Hub's defaults", () => {
    expect(sameImage("nginx:1.27", { ref: "docker.io/library/nginx:1.27", digest: undefined })).toBe(true);
    expect(sameImage("nginx", { ref: "docker.io/library/nginx:latest", digest: undefined })).toBe(true);
    expect(sameImage("nginx:1.27", { ref: "docker.io/library/nginx:1.28", digest: undefined })).toBe(false);
    expect(sameImage("reg:5000/app:1", { ref: "reg:5000/app:1", digest: undefined })).toBe(true);
    expect(sameImage("reg:5000/app:1", { ref: "docker.io/reg/app:1", digest: undefined })).toBe(false);
  });
  it("never matches a wanted tag with a reference that has none (defect 11)", () => {
    const digestOnly = { ref: `docker.io/kindest/node@${digest}`, digest };
    expect(sameImage("kindest/node:latest", digestOnly)).toBe(false);
    expect(sameImage("kindest/node", digestOnly)).toBe(false);
    expect(sameImage("kindest/node:v1.37.0", digestOnly)).toBe(false);
    expect(sameImage("localhost:5000/x", { ref: "localhost:5000/x", digest: undefined })).toBe(false);
    expect(sameImage("localhost:5000/x", { ref: "localhost:5000/x:latest", digest: undefined })).toBe(true);
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
  test("reads each release's status into one shape", async ({ onMac }) => {
    for (const [version, client] of [
      ["1.3.1", undefined],
      ["1.4.1", "1.4.1"],
    ] as const) {
      const sim = await onMac({ installedVersion: version, serviceRunning: true });
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
    }
  });
});

describe("parseNetworks", () => {
  // `container network ls --format json` elements: PrintableNetwork {id, state, config, status}
  // (apple/container Sources/CLI/Network/NetworkList.swift, NetworkState.swift).
  it("reads the 1.x status (ipv4Subnet) and the older one (address)", () => {
    expect(
      parseNetworks([
        {
          id: "default",
          state: "running",
          config: { id: "default", mode: "nat" },
          status: { ipv4Subnet: "192.168.65.0/24", ipv4Gateway: "192.168.65.1" },
        },
        {
          id: "old",
          state: "running",
          config: { id: "old" },
          status: { address: "192.168.64.0/24", gateway: "192.168.64.1" },
        },
      ]),
    ).toEqual([
      { id: "default", subnet: "192.168.65.0/24", gateway: "192.168.65.1" },
      { id: "old", subnet: "192.168.64.0/24", gateway: "192.168.64.1" },
    ]);
  });

  it("skips networks without a subnet (created, not running) and tolerates junk", () => {
    expect(parseNetworks([{ id: "n", state: "created", config: { id: "n", mode: "nat" } }])).toEqual([]);
    expect(parseNetworks({ not: "a list" })).toEqual([]);
    expect(parseNetworks([null, 3, "x"])).toEqual([]);
  });
});

describe("the node's prefix from inspect", () => {
  it("is read with the address, in every shape", () => {
    expect(
      parseContainerState({ status: "running", networks: [{ address: "192.0.2.5/16" }] }).ipv4Prefix,
    ).toBe(16);
    expect(
      parseContainerState({ status: "running", networks: [{ address: "192.0.2.5" }] }).ipv4Prefix,
    ).toBeUndefined();
  });
});
