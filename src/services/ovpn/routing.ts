/**
 * Sends a node's OpenVPN client subnet out of the node's tunnel, and nowhere else.
 *
 *   ip rule  from 100.64.N.0/24 lookup T (pref 17724)          installed with the server
 *   table T: 100.64.N.0/24 dev cxoPORT                         replies to the clients stay local
 *            default dev pppX metric 100                       while the tunnel is up
 *            unreachable default metric 4294967295             always: the kill switch
 *   nft egress map   cxoPORT . pppX : LOCAL                    SNAT to LOCAL (the PPTP server knows
 *                                                              only it) and MSS clamped to the path MTU
 *   nft ovpn_devs    cxoPORT                                   VPN users do not reach the bot host
 *
 * The nft parts are elements of Connexa's own table (node-firewall.ts): no rule per node.
 *
 * Without the ip rule the clients' traffic would leave by this host's own default route — the users
 * expect the node's address, so that is never allowed. The kill switch is a permanent lowest-priority
 * route, not something swapped in when we notice the tunnel is gone: the kernel deletes the routes
 * through a ppp device the moment it disappears, and a table left without a default would let the
 * lookup fall through to the main table (a leak) until pppd's exit is noticed. A sweep at start-up
 * removes the ip rules a crashed run left behind, and the iptables rules (comment `connexa-ovpn:DEV`)
 * of a crashed older Connexa. Commands are spawned without a shell.
 */
import fs from 'node:fs';
import type { IpRunner } from '../../probes/tunnel/routes.ts';
import type { NodeFirewall } from '../node-firewall.ts';
import type { PortRange } from '../ports.ts';
import { OVPN_RULE_PREF, OVPN_TABLE_BASE, type OvpnLayout } from './layout.ts';

export const COMMENT_PREFIX = 'connexa-ovpn:';

export interface RoutingTools {
  ip: IpRunner;
  firewall: NodeFirewall;
}

export interface Egress {
  iface: string;
  localAddress: string;
  remoteAddress: string;
}

export class RoutingError extends Error {}

/** The tunnel's default route wins over the kill switch by metric. */
const TUNNEL_METRIC = '100';
const KILL_SWITCH_METRIC = '4294967295';

/** IFF_POINTOPOINT: ppp devices have no neighbours to resolve, a route names the device alone. */
function isPointToPoint(iface: string): boolean {
  try {
    return (Number(fs.readFileSync(`/sys/class/net/${iface}/flags`, 'utf8').trim()) & 0x10) !== 0;
  } catch {
    return false;
  }
}

async function must(r: Promise<{ ok: boolean; stderr: string }>, what: string): Promise<void> {
  const out = await r;
  if (!out.ok) throw new RoutingError(`${what}: ${out.stderr}`);
}

export class SubnetRouting {
  private egress: Egress | null = null;

  private readonly layout: OvpnLayout;
  private readonly tools: RoutingTools;
  constructor(layout: OvpnLayout, tools: RoutingTools) {
    this.layout = layout;
    this.tools = tools;
  }

  private table(): string {
    return String(this.layout.table);
  }

  /** The rule and the kill switch; the tun device must exist (the server is up). */
  async install(): Promise<void> {
    const { ip } = this.tools;
    const l = this.layout;
    await this.removeRule();
    await must(ip(['-4', 'route', 'replace', l.cidr, 'dev', l.dev, 'table', this.table()]), `ip route ${l.cidr} dev ${l.dev} table ${l.table}`);
    await must(ip(['-4', 'route', 'replace', 'unreachable', 'default', 'metric', KILL_SWITCH_METRIC, 'table', this.table()]), `ip route unreachable default table ${l.table}`);
    await must(ip(['-4', 'rule', 'add', 'from', l.cidr, 'lookup', this.table(), 'pref', String(OVPN_RULE_PREF)]), `ip rule from ${l.cidr}`);
    await this.firewall('reject input from', this.tools.firewall.addOvpnDevice(l.dev));
    await enableForwarding();
  }

  /** Points the subnet at a (new) tunnel. */
  async attach(e: Egress): Promise<void> {
    if (this.egress) await this.detach();
    const { ip } = this.tools;
    const route = isPointToPoint(e.iface) ? ['default', 'dev', e.iface] : ['default', 'via', e.remoteAddress, 'dev', e.iface, 'onlink'];
    await must(ip(['-4', 'route', 'replace', ...route, 'metric', TUNNEL_METRIC, 'table', this.table()]), `ip route ${route.join(' ')} table ${this.layout.table}`);
    this.egress = e;
    await this.firewall(`SNAT to ${e.localAddress} via`, this.tools.firewall.addEgress(this.layout.dev, e.iface, e.localAddress));
  }

  /** The tunnel is gone: only the kill switch is left. Never rejects. */
  async detach(): Promise<void> {
    const e = this.egress;
    this.egress = null;
    // Usually gone with the device already; when we close the tunnel ourselves it is not.
    await this.tools.ip(['-4', 'route', 'del', 'default', 'metric', TUNNEL_METRIC, 'table', this.table()]);
    if (e) await this.tools.firewall.removeEgress(this.layout.dev, e.iface).catch(() => {});
  }

  /** Removes everything this subnet added. Never rejects. */
  async remove(): Promise<void> {
    await this.detach();
    await this.removeRule();
    await this.tools.ip(['-4', 'route', 'flush', 'table', this.table()]);
    await this.tools.firewall.removeOvpnDevice(this.layout.dev).catch(() => {});
  }

  private async firewall(what: string, change: Promise<void>): Promise<void> {
    try {
      await change;
    } catch (err) {
      throw new RoutingError(`${what} ${this.layout.dev}: ${(err as Error).message}`);
    }
  }

  private async removeRule(): Promise<void> {
    // Repeat: a crash may have left more than one copy.
    for (let i = 0; i < 5; i++) {
      const r = await this.tools.ip(['-4', 'rule', 'del', 'from', this.layout.cidr, 'lookup', this.table(), 'pref', String(OVPN_RULE_PREF)]);
      if (!r.ok) break;
    }
  }
}

let forwardingChecked = false;

/** Forwarding must be on for the subnet to reach the tunnel. Set once; a host-wide switch. */
async function enableForwarding(): Promise<void> {
  if (forwardingChecked) return;
  const p = '/proc/sys/net/ipv4/ip_forward';
  if (fs.readFileSync(p, 'utf8').trim() !== '1') fs.writeFileSync(p, '1\n');
  forwardingChecked = true;
}

/**
 * Removes what a crashed run left: rules with our preference (and their tables) and, where iptables
 * is installed, the per-node iptables rules of an older Connexa (comment `connexa-ovpn:`) — for the
 * ports of `range` only. Called before any server is started, so nothing live of ours is touched
 * (the nftables table is replaced whole by its first change).
 */
export async function sweepStaleRouting(tools: { ip: IpRunner; iptables: IpRunner | null }, range: PortRange): Promise<number> {
  const ours = (port: number) => port >= range.from && port <= range.to;
  let removed = 0;
  const rules = await tools.ip(['-4', 'rule', 'show', 'pref', String(OVPN_RULE_PREF)]);
  if (rules.ok) {
    for (const line of rules.stdout.split('\n')) {
      const m = /from (\S+) lookup (\d+)/.exec(line);
      if (!m || !ours(Number(m[2]) - OVPN_TABLE_BASE)) continue;
      if ((await tools.ip(['-4', 'rule', 'del', 'from', m[1]!, 'lookup', m[2]!, 'pref', String(OVPN_RULE_PREF)])).ok) removed++;
      await tools.ip(['-4', 'route', 'flush', 'table', m[2]!]);
    }
  }
  for (const [table, chain] of [['nat', 'POSTROUTING'], ['mangle', 'FORWARD'], ['filter', 'FORWARD'], ['filter', 'INPUT']] as const) {
    if (!tools.iptables) break;
    const list = await tools.iptables(['-w', '-t', table, '-S', chain]);
    if (!list.ok) continue;
    for (const line of list.stdout.split('\n')) {
      const dev = new RegExp(`${COMMENT_PREFIX}cxo(\\d+)`).exec(line);
      if (!line.startsWith('-A ') || !dev || !ours(Number(dev[1]))) continue;
      // Our rules never contain quoted words, so splitting on spaces gives back the same argv.
      const args = line.slice(3).trim().split(/\s+/);
      if ((await tools.iptables(['-w', '-t', table, '-D', ...args])).ok) removed++;
    }
  }
  return removed;
}
