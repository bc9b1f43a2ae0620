/**
 * Which addresses the PPTP probe may connect to. An import names any address with any port, so
 * without a policy `ping` would connect to this host's own services (SSH, Redis, the Slack HTTP
 * port on loopback) and store what they answer. Like the SOCKS destination policy
 * (src/services/socks/destinations.ts): this host's addresses, loopback, "this network",
 * link-local, multicast and reserved ranges are refused unless PROBE_ALLOW names them
 * (the simulated fleet and the tests listen on loopback and set it).
 */
import net from 'node:net';
import os from 'node:os';

/** null: allowed; otherwise why not, in words. */
export type ProbePolicy = (ip: string) => string | null;

const SPECIAL = new net.BlockList();
SPECIAL.addSubnet('0.0.0.0', 8); // "this network": connecting to 0.0.0.0 reaches this host
SPECIAL.addSubnet('127.0.0.0', 8); // loopback
SPECIAL.addSubnet('169.254.0.0', 16); // link-local, cloud metadata services
SPECIAL.addSubnet('224.0.0.0', 4); // multicast
SPECIAL.addSubnet('240.0.0.0', 4); // reserved and broadcast
SPECIAL.addAddress('::', 'ipv6'); // unspecified
SPECIAL.addAddress('::1', 'ipv6'); // loopback
SPECIAL.addSubnet('fe80::', 10, 'ipv6'); // link-local
SPECIAL.addSubnet('ff00::', 8, 'ipv6'); // multicast

const family = (ip: string): 'ipv4' | 'ipv6' => (net.isIPv4(ip) ? 'ipv4' : 'ipv6');

/** Parses "127.0.0.0/8, 10.1.2.3" (a bare address is a /32 or /128); throws naming the bad item. */
export function parseRanges(text: string): net.BlockList {
  const list = new net.BlockList();
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [addr = '', bits, extra] = item.split('/');
    const v = net.isIP(addr);
    const max = v === 4 ? 32 : 128;
    const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (v === 0 || extra !== undefined || !(prefix >= 0 && prefix <= max)) throw new RangeError(`"${item}" is not an IP address or CIDR range`);
    list.addSubnet(addr, prefix, v === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/** This host's addresses (both families), re-read at most every `ttlMs`: tunnels come and go. */
export function localAddresses(ttlMs = 5_000): () => ReadonlySet<string> {
  let cached: ReadonlySet<string> = new Set();
  let at = -Infinity;
  return () => {
    if (Date.now() - at > ttlMs) {
      const all = new Set<string>();
      for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) all.add(a.address.replace(/%.*$/, '').toLowerCase());
      cached = all;
      at = Date.now();
    }
    return cached;
  };
}

/**
 * The probe policy: anything but this host and the special ranges, plus whatever `allow`
 * (PROBE_ALLOW) names, which wins.
 */
export function probePolicy(allow: string | net.BlockList = '', local: () => ReadonlySet<string> = localAddresses()): ProbePolicy {
  const allowed = typeof allow === 'string' ? parseRanges(allow) : allow;
  return (raw) => {
    // ::ffff:127.0.0.1 is 127.0.0.1.
    const ip = raw.toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
    if (!net.isIP(ip)) return `"${raw}" is not an IP address`;
    if (allowed.check(ip, family(ip))) return null;
    if (local().has(ip)) return `${ip} is an address of this host; probing it needs PROBE_ALLOW`;
    if (SPECIAL.check(ip, family(ip))) return `${ip} is a loopback, link-local, multicast or reserved address; probing it needs PROBE_ALLOW`;
    return null;
  };
}
