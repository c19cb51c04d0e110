import { describe, expect, it } from "vitest";
import {
  ContainerError,
  parseContainerState,
  parseNetworks,
  sameImage,
  splitImageRef,
} from "../../src/container/cli.js";
import { DEFAULT_IMAGE } from "../fixtures/mac.ts";

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
