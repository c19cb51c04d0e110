export interface Cidr {
  /** Network address as a 32-bit unsigned integer. */
  network: number;
  prefix: number;
  /** Canonical text form, e.g. `10.244.0.0/16`. */
  text: string;
}

export function parseIPv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

export function formatIPv4(value: number): string {
  return [24, 16, 8, 0].map((s) => (value >>> s) & 255).join(".");
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n`; host bits must be zero so the text means exactly one network. */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m) return undefined;
  const addr = parseIPv4(m[1]!);
  const prefix = Number(m[2]);
  if (addr === undefined || prefix > 32) return undefined;
  const network = (addr & mask(prefix)) >>> 0;
  if (network !== addr) return undefined;
  return { network, prefix, text: `${formatIPv4(network)}/${prefix}` };
}

export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.network & mask(p)) >>> 0 === (b.network & mask(p)) >>> 0;
}

export function cidrContains(c: Cidr, ip: string): boolean {
  const v = parseIPv4(ip);
  return v !== undefined && (v & mask(c.prefix)) >>> 0 === c.network;
}

/** The n-th address of the network (1 → the conventional gateway). */
export function nthAddress(c: Cidr, n: number): string {
  return formatIPv4((c.network + n) >>> 0);
}

/** Whether `inner` lies entirely inside `outer`. */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && (inner.network & mask(outer.prefix)) >>> 0 === outer.network;
}

/** The network `ip/prefix` lies in (`192.168.64.3`, 24 → 192.168.64.0/24); undefined for a bad address. */
export function networkOf(ip: string, prefix: number): Cidr | undefined {
  const v = parseIPv4(ip);
  if (v === undefined || !(prefix >= 0 && prefix <= 32)) return undefined;
  const network = (v & mask(prefix)) >>> 0;
  return { network, prefix, text: `${formatIPv4(network)}/${prefix}` };
}
