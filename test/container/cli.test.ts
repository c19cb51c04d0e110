import { describe, expect, it } from "vitest";
import { ContainerError, parseContainerState } from "../../src/container/cli.js";

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
