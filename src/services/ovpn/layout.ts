/**
 * Where each node's OpenVPN server lives on this host, all derived from its port so that nothing
 * else needs to be stored or can disagree: the client subnet, the tun device name and the routing
 * table. Ports are unique per node (see ../ports.ts), hence so is everything here.
 *
 * Client subnets are /24s of 100.64.0.0/10 (RFC 6598 shared address space): they never clash with
 * the RFC 1918 networks of the host, of the users' LANs or of the PPTP servers. The /24 is chosen by
 * the port modulo 16,384 (the /24s in a /10), from the port itself rather than its place in the
 * range, so any range up to 16,384 ports wide gets distinct subnets, and two ranges only collide
 * when their ports are 16,384 apart.
 */
import type { PortRange } from '../ports.ts';

export const SUBNET_BASE = (100 << 24) | (64 << 16); // 100.64.0.0
export const MAX_SUBNETS = 1 << 14; // /24s in a /10
/** Routing tables of OpenVPN client subnets: BASE + port, far from the tunnel driver's 17000 + pppN. */
export const OVPN_TABLE_BASE = 270_000;
/** Preference of our `from SUBNET` rules; the tunnel driver's `from LOCAL` rules use 17723. */
export const OVPN_RULE_PREF = 17724;

export interface OvpnLayout {
  port: number;
  /** e.g. 100.64.3.0 */
  network: string;
  netmask: string;
  /** e.g. 100.64.3.0/24 */
  cidr: string;
  /** The server's own address in the subnet (the clients' gateway). */
  gateway: string;
  /** The tun device: cxo + port, within IFNAMSIZ. */
  dev: string;
  table: number;
}

const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

export function layoutFor(port: number): OvpnLayout {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not a port: ${port}`);
  const net = (SUBNET_BASE + (port % MAX_SUBNETS) * 256) >>> 0;
  return {
    port,
    network: dotted(net),
    netmask: '255.255.255.0',
    cidr: `${dotted(net)}/24`,
    gateway: dotted(net + 1),
    dev: `cxo${port}`,
    table: OVPN_TABLE_BASE + port,
  };
}

/** The usable part of a port range: the first MAX_SUBNETS ports (wider would reuse subnets). */
export function usableRange(range: PortRange): PortRange {
  return { from: range.from, to: Math.min(range.to, range.from + MAX_SUBNETS - 1) };
}
