import { describe, expect, it } from "vitest";
import { buildCniConflist, CNI_CONFLIST_PATH, renderCniConflist } from "../../src/builders/cni-conflist.js";
import { parseCidr, type Cidr } from "../../src/cidr.js";

function cidr(text: string): Cidr {
  const c = parseCidr(text);
  if (!c) throw new Error(`bad test CIDR ${text}`);
  return c;
}

/** The PTP design's configuration block (README, "Why PTP networking"), with the subnet as a parameter. */
function designConflist(subnet: string): object {
  return {
    cniVersion: "0.4.0",
    name: "ptp-net",
    plugins: [
      {
        type: "ptp",
        ipMasq: true,
        ipam: {
          type: "host-local",
          subnet,
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
      {
        type: "portmap",
        capabilities: {
          portMappings: true,
        },
      },
    ],
  };
}

describe("buildCniConflist", () => {
  it.each(["10.244.0.0/16", "10.200.0.0/16", "172.20.0.0/14", "192.168.128.0/17"])(
    "is exactly the design's conflist for pod subnet %s",
    (subnet) => {
      expect(buildCniConflist(cidr(subnet))).toStrictEqual(designConflist(subnet));
    },
  );

  it("speaks CNI 0.4.0, the version the design was validated with", () => {
    expect(buildCniConflist(cidr("10.244.0.0/16"))).toHaveProperty("cniVersion", "0.4.0");
  });

  it("chains ptp before portmap, which needs ptp's result as prevResult", () => {
    const { plugins } = buildCniConflist(cidr("10.244.0.0/16")) as { plugins: { type: string }[] };
    expect(plugins.map((p) => p.type)).toEqual(["ptp", "portmap"]);
  });

  it("writes the subnet in canonical form", () => {
    const conf = buildCniConflist(cidr(" 10.200.0.0/16 ")) as { plugins: { ipam?: { subnet: string } }[] };
    expect(conf.plugins[0]?.ipam?.subnet).toBe("10.200.0.0/16");
  });

  it("returns a fresh object each call", () => {
    const a = buildCniConflist(cidr("10.244.0.0/16")) as { plugins: unknown[] };
    a.plugins.pop();
    expect((buildCniConflist(cidr("10.244.0.0/16")) as { plugins: unknown[] }).plugins).toHaveLength(2);
  });
});

describe("renderCniConflist", () => {
  it("is the built conflist as 2-space JSON with a final newline", () => {
    const subnet = cidr("10.200.0.0/16");
    const text = renderCniConflist(subnet);
    expect(JSON.parse(text)).toStrictEqual(buildCniConflist(subnet));
    expect(text).toBe(JSON.stringify(designConflist("10.200.0.0/16"), null, 2) + "\n");
  });

  it("goes where the design puts it", () => {
    expect(CNI_CONFLIST_PATH).toBe("/etc/cni/net.d/10-ptp.conflist");
  });
});
