import { describe, expect, it } from "vitest";
import {
  cidrContains,
  cidrContainsCidr,
  cidrOverlaps,
  nthAddress,
  parseCidr,
  parseIPv4,
} from "../src/cidr.js";

describe("cidr", () => {
  it("parses networks and refuses anything else", () => {
    expect(parseCidr("10.244.0.0/16")).toMatchObject({ prefix: 16, text: "10.244.0.0/16" });
    expect(parseCidr("0.0.0.0/0")?.text).toBe("0.0.0.0/0");
    for (const bad of [
      "10.244.0.0/33",
      "10.244.0.0",
      "banana",
      "10.244.0.1/16",
      "256.0.0.0/8",
      "01.2.3.0/24",
      "1.2.3/24",
    ]) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
    expect(parseIPv4("255.255.255.255")).toBe(0xffffffff);
  });
  it("tells whether one network lies inside another", () => {
    const pod = parseCidr("10.244.0.0/16")!;
    expect(cidrContainsCidr(pod, parseCidr("10.244.7.0/24")!)).toBe(true);
    expect(cidrContainsCidr(pod, pod)).toBe(true);
    expect(cidrContainsCidr(pod, parseCidr("10.244.0.0/15")!)).toBe(false);
    expect(cidrContainsCidr(pod, parseCidr("10.245.0.0/24")!)).toBe(false);
    expect(cidrContainsCidr(parseCidr("0.0.0.0/0")!, pod)).toBe(true);
  });
  it("detects overlap both ways", () => {
    const a = parseCidr("10.96.0.0/12")!;
    expect(cidrOverlaps(a, parseCidr("10.96.0.0/16")!)).toBe(true);
    expect(cidrOverlaps(parseCidr("10.96.0.0/16")!, a)).toBe(true);
    expect(cidrOverlaps(a, parseCidr("10.244.0.0/16")!)).toBe(false);
    expect(cidrOverlaps(parseCidr("10.111.0.0/16")!, a)).toBe(true);
    expect(cidrOverlaps(parseCidr("10.112.0.0/16")!, a)).toBe(false);
  });
  it("computes addresses", () => {
    const c = parseCidr("10.200.0.0/16")!;
    expect(nthAddress(c, 1)).toBe("10.200.0.1");
    expect(nthAddress(c, 256)).toBe("10.200.1.0");
    expect(cidrContains(c, "10.200.255.255")).toBe(true);
    expect(cidrContains(c, "10.201.0.0")).toBe(false);
  });
});
