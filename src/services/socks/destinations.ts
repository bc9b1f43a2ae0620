/**
 * Which destinations a node's proxy may connect to. Outbound sockets are bound to the tunnel's
 * address, and a policy rule sends such traffic out of the tunnel — but the kernel consults the
 * `local` routing table before any policy rule, so a connection to an address OF THIS HOST would be
 * delivered locally. Without this check, anyone with one proxy's credentials could reach the bot
 * host's loopback services (other proxies, the Slack HTTP port, databases). Refused with
 * "connection not allowed by ruleset" (RFC 1928 reply 0x02).
 */
import net from 'node:net';
import os from 'node:os';

export type DestinationPolicy = (ipv4: string) => boolean;

function toInt(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

const BLOCKED: ReadonlyArray<readonly [number, number]> = (
  [
    ['0.0.0.0', 8], // "this network"
    ['127.0.0.0', 8], // loopback: this host
    ['169.254.0.0', 16], // link-local, cloud metadata services
    ['224.0.0.0', 4], // multicast
    ['240.0.0.0', 4], // reserved and broadcast
  ] as const
).map(([base, bits]) => [toInt(base), (~0 << (32 - bits)) >>> 0] as const);

export function isSpecialPurpose(ip: string): boolean {
  const n = toInt(ip);
  return BLOCKED.some(([base, mask]) => ((n & mask) >>> 0) === base);
}

/** This host's IPv4 addresses, re-read at most every `ttlMs` (interfaces come and go with tunnels). */
export function hostAddresses(ttlMs = 5_000): () => ReadonlySet<string> {
  let cached: ReadonlySet<string> = new Set();
  let at = -Infinity;
  return () => {
    if (Date.now() - at > ttlMs) {
      const all = new Set<string>();
      for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4') all.add(a.address);
      cached = all;
      at = Date.now();
    }
    return cached;
  };
}

/** The default policy: anything routable that is not an address of this host. */
export function publicDestinations(local: () => ReadonlySet<string> = hostAddresses()): DestinationPolicy {
  return (ip) => net.isIPv4(ip) && !isSpecialPurpose(ip) && !local().has(ip);
}

/** For tests on loopback only. */
export const anyDestination: DestinationPolicy = (ip) => net.isIPv4(ip);
