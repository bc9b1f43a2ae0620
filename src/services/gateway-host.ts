/**
 * What one gateway runs: the services of its nodes (node-services.ts), its SOCKS and OpenVPN port
 * pools, its nftables table (swept at first use, removed whole at close) and the OpenVPN routing left
 * by an earlier run. It knows only what it runs: no store, no PKI, no leases. That is what lets it
 * run inside the bot (gateway/local.ts) or on another host (`connexa gateway`).
 *
 * Ports: a port is never handed to two nodes. Ports of nodes the bot will bring back (`claim`) are
 * reserved before anything is allocated, and allocation reserves a port before trying to bind it.
 */
import fs from 'node:fs';
import os from 'node:os';
import type { CheckResult, NodeTarget, RunningNode, ServerMaterial, StartRequest, StartResult } from '../gateway/port.ts';
import type { Logger } from '../log.ts';
import { ipRunner } from '../probes/tunnel/routes.ts';
import type { OpenResult, TunnelDriver } from '../probes/tunnel/types.ts';
import type { HostCapability } from './host-capability.ts';
import { NodeFirewall, nftRunner } from './node-firewall.ts';
import { NodeServices, type NodeServicesDeps } from './node-services.ts';
import { layoutFor, usableRange } from './ovpn/layout.ts';
import { NodeOvpnServer } from './ovpn/node-server.ts';
import { sweepStaleRouting, type RoutingTools } from './ovpn/routing.ts';
import { PortPool, type PortRange } from './ports.ts';
import { ensurePrivateDir } from './private-files.ts';
import type { DestinationPolicy } from './socks/destinations.ts';
import { ConnectionBudget, SocksProxy, type Lookup, type SocksLimits } from './socks/server.ts';
import type { Backoff } from './tunnel-keeper.ts';
import { guardedDriver, guardOf, TunnelGuard } from './tunnel-guard.ts';

/** The part of Config a gateway host reads. */
export interface GatewayHostConfig {
  SOCKS_BIND: string;
  SOCKS_HOSTNAMES?: 'resolve' | 'refuse';
  SOCKS_PUBLIC_HOST?: string | undefined;
  SOCKS_PORT_RANGE: PortRange;
  OVPN_PUBLIC_HOST?: string | undefined;
  OVPN_PORT_RANGE: PortRange;
  /** Resolvers pushed to OpenVPN clients (empty: none). */
  OVPN_DNS?: readonly string[];
}

export interface GatewayHostOptions {
  config: GatewayHostConfig;
  /** Where the OpenVPN configs and pid files live (DATA_DIR/ovpn on the bot's host). */
  dir: string;
  capability: HostCapability;
  /** null for TUNNEL_DRIVER=none. */
  driver: TunnelDriver | null;
  /** The server key, certificates, tls-crypt key and CRL its OpenVPN servers read. */
  material: () => Promise<ServerMaterial>;
  log: Logger;
  socksLimits?: Partial<SocksLimits>;
  /** Client connections across every proxy (each costs two file descriptors). Default 8,000. */
  sharedConnectionLimit?: number;
  lookup?: Lookup;
  allowDestination?: DestinationPolicy;
  tunnelBackoff?: Backoff;
  ovpnReadyTimeoutMs?: number;
  /** Filters what arrives on each node tunnel (default: Connexa's nftables table, see tunnel-guard.ts). */
  tunnelGuard?: TunnelGuard;
}

export class GatewayHost {
  readonly socksPorts: PortPool;
  readonly ovpnPorts: PortPool;
  private readonly running = new Map<string, NodeServices>();
  private readonly budget: ConnectionBudget;
  private initP: Promise<void> | null = null;
  private closing = false;
  private guard: TunnelGuard | null = null;
  private ownFirewall: NodeFirewall | null = null;
  private guarded: TunnelDriver | null = null;

  private readonly o: GatewayHostOptions;
  constructor(o: GatewayHostOptions) {
    this.o = o;
    this.socksPorts = new PortPool('SOCKS', o.config.SOCKS_PORT_RANGE);
    this.ovpnPorts = new PortPool('OpenVPN', usableRange(o.config.OVPN_PORT_RANGE));
    this.budget = new ConnectionBudget(o.sharedConnectionLimit ?? 8_000);
  }

  /** Where clients reach this host's proxies and servers, with a warning for each name guessed. */
  publicHosts(): { socks: string; ovpn: string; warnings: string[] } {
    const c = this.o.config;
    const warnings: string[] = [];
    const bindIsSpecific = c.SOCKS_BIND !== '0.0.0.0';
    const socks = c.SOCKS_PUBLIC_HOST ?? (bindIsSpecific ? c.SOCKS_BIND : os.hostname());
    if (!c.SOCKS_PUBLIC_HOST && (!bindIsSpecific || c.SOCKS_BIND.startsWith('127.'))) warnings.push(`SOCKS_PUBLIC_HOST is not set: the proxies are listed as ${socks}`);
    const ovpn = c.OVPN_PUBLIC_HOST ?? c.SOCKS_PUBLIC_HOST ?? (bindIsSpecific && !c.SOCKS_BIND.startsWith('127.') ? c.SOCKS_BIND : os.hostname());
    if (!c.OVPN_PUBLIC_HOST) warnings.push(`OVPN_PUBLIC_HOST is not set: the profiles say \`remote ${ovpn}\``);
    return { socks, ovpn, warnings };
  }

  /**
   * Reserves the ports of a node this host will serve again (restored after a restart) so no new
   * node gets them meanwhile. False when another node holds one of them.
   */
  claim(nodeId: string, socksPort: number, ovpnPort: number | null): boolean {
    const a = this.socksPorts.claim(socksPort, nodeId);
    const b = ovpnPort === null || this.ovpnPorts.claim(ovpnPort, nodeId);
    if (!a || !b) this.o.log.error('two nodes hold the same port', { node: nodeId, socksPort, ovpnPort, other: this.socksPorts.ownerOf(socksPort) ?? this.ovpnPorts.ownerOf(ovpnPort ?? -1) });
    return a && b;
  }

  /** Ports not allocated to any node, per pool. */
  free(): { socks: number; ovpn: number } {
    return { socks: this.socksPorts.free, ovpn: this.ovpnPorts.free };
  }

  async start(req: StartRequest, signal?: AbortSignal): Promise<StartResult> {
    await this.init();
    if (this.closing) return { ok: false, outcome: 'shutting_down', reason: 'the gateway is shutting down', hostSide: true };
    const id = req.node.id;
    // What runs for the node already is replaced (a leftover whose result never reached the store).
    const old = this.running.get(id);
    if (old) {
      this.running.delete(id);
      await old.close();
      if (!req.keep) this.releasePorts(id);
    }
    const r = await NodeServices.start(req, this.deps(), signal);
    if (!r.ok) {
      // A new start frees what it took; a kept node keeps its ports reserved for the next attempt.
      if (!req.keep) this.releasePorts(id);
      return r;
    }
    if (this.closing) {
      await r.services.close();
      return { ok: false, outcome: 'shutting_down', reason: 'the gateway is shutting down', hostSide: true };
    }
    this.running.set(id, r.services);
    const s = r.result.services;
    this.o.log.info(req.keep ? 'node services restored' : 'node services started', { node: id, socksPort: s.socks.port, ovpnPort: s.ovpnPort, ovpnServer: s.ovpnServer, iface: s.tunnel?.iface ?? null, ms: s.startMs });
    return r.result;
  }

  /** Tears the node's services down and frees its ports (claimed or allocated). Idempotent. */
  async stop(nodeId: string): Promise<void> {
    const s = this.running.get(nodeId);
    this.running.delete(nodeId);
    await s?.close();
    await this.guard?.idle();
    this.releasePorts(nodeId);
    if (s) this.o.log.info('node services stopped', { node: nodeId });
  }

  check(nodeId: string): CheckResult {
    const s = this.running.get(nodeId);
    if (!s) return { ok: false, outcome: 'services_down', reason: 'its services are not running on this host' };
    return s.check();
  }

  status(nodeId: string): RunningNode | null {
    return this.running.get(nodeId)?.status() ?? null;
  }

  list(): RunningNode[] {
    return [...this.running.values()].map((s) => s.status());
  }

  /** The tunnel driver with every tunnel guarded (speed tests share it). */
  tunnelDriver(): TunnelDriver | null {
    const d = this.o.driver;
    if (!d) return null;
    this.guard ??= guardOf(d) ?? this.o.tunnelGuard ?? new TunnelGuard(this.firewall());
    this.guarded ??= guardedDriver(d, this.guard);
    return this.guarded;
  }

  /** Shutdown: every proxy, server and tunnel down; the nftables table goes whole. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.running.values()].map((s) => s.close()));
    this.running.clear();
    await this.guard?.idle();
    // The next start creates the table again (and would sweep a leftover anyway).
    await this.ownFirewall?.close();
  }

  private releasePorts(nodeId: string): void {
    this.socksPorts.releaseOwner(nodeId);
    this.ovpnPorts.releaseOwner(nodeId);
  }

  /** First use: the OpenVPN routing an earlier run left behind goes (only our ports' devices and tables). */
  private init(): Promise<void> {
    this.initP ??= (async () => {
      warnEphemeralOverlap(this.o.log, { SOCKS_PORT_RANGE: this.o.config.SOCKS_PORT_RANGE, OVPN_PORT_RANGE: this.o.config.OVPN_PORT_RANGE });
      const h = this.o.capability.ovpn();
      if (!h.capability.ok) return;
      ensurePrivateDir(this.o.dir);
      try {
        const swept = await sweepStaleRouting({ ip: ipRunner(h.ip ?? 'ip'), iptables: h.iptables ? ipRunner(h.iptables) : null }, this.ovpnPorts.range);
        if (swept) this.o.log.warn('removed routing rules left by an earlier run', { rules: swept });
      } catch (err) {
        this.o.log.warn('the routing left by an earlier run could not be swept', { error: (err as Error).message });
      }
    })();
    return this.initP;
  }

  private deps(): NodeServicesDeps {
    const driver = this.tunnelDriver();
    return {
      openTunnel: (node: NodeTarget, timeoutMs: number, signal?: AbortSignal): Promise<OpenResult> =>
        driver
          ? driver.open({ ip: node.ip, port: node.port, login: node.login, password: node.password }, { timeoutMs, signal })
          : Promise.resolve({ ok: false, kind: 'host_not_capable', reason: 'TUNNEL_DRIVER=none', elapsedMs: 0 }),
      newProxy: (nodeId, port, credentials, egress) => this.newProxy(nodeId, port, credentials, egress),
      newOvpnServer: (node, port) => this.newOvpnServer(node, port),
      ovpnCapable: () => this.o.capability.ovpn().capability.ok,
      ports: { socks: this.socksPorts, ovpn: this.ovpnPorts },
      publicSocksHost: () => this.publicHosts().socks,
      log: this.o.log,
      backoff: this.o.tunnelBackoff,
    };
  }

  /** The host's one nftables table: the tunnel guard's and the OpenVPN routing's elements share it. */
  private firewall(): NodeFirewall {
    const d = this.o.driver;
    this.ownFirewall ??= (d && guardOf(d)?.firewall) ?? this.o.tunnelGuard?.firewall ?? new NodeFirewall(nftRunner([this.o.capability.ovpn().nft ?? 'nft']));
    return this.ownFirewall;
  }

  private routingTools(): RoutingTools {
    return { ip: ipRunner(this.o.capability.ovpn().ip ?? 'ip'), firewall: this.firewall() };
  }

  private async newOvpnServer(node: NodeTarget, port: number): Promise<NodeOvpnServer | null> {
    const host = this.o.capability.ovpn();
    if (!host.capability.ok || !host.openvpn) return null;
    return new NodeOvpnServer({
      nodeId: node.id,
      nodeLabel: node.label,
      layout: layoutFor(port),
      material: await this.o.material(),
      dir: this.o.dir,
      binary: host.openvpn,
      tools: this.routingTools(),
      log: this.o.log,
      readyTimeoutMs: this.o.ovpnReadyTimeoutMs,
      dns: this.o.config.OVPN_DNS ?? [],
      runAs: host.runAs ?? null,
    });
  }

  private newProxy(nodeId: string, port: number, credentials: { login: string; password: string }, egress: () => string | null): SocksProxy {
    return new SocksProxy({
      bind: this.o.config.SOCKS_BIND,
      port,
      credentials,
      egress,
      lookup: this.o.lookup,
      resolveNames: this.o.config.SOCKS_HOSTNAMES !== 'refuse',
      allowDestination: this.o.allowDestination,
      limits: this.o.socksLimits,
      budget: this.budget,
      onEvent: (e) => {
        if (e.kind === 'auth_failed') this.o.log.debug('socks: authentication refused', { node: nodeId, port, from: e.from });
        else if (e.kind === 'refused') this.o.log.warn('socks: connection limit reached', { node: nodeId, port, limit: e.reason });
      },
    });
  }
}

/**
 * Ports the kernel hands out for outgoing connections (net.ipv4.ip_local_port_range) cannot be
 * listened on while a connection in TIME_WAIT holds them: a range inside it loses ports at random
 * under load (the pool skips them, but the range shrinks). Said once at first use.
 */
function warnEphemeralOverlap(log: Logger, ranges: Record<string, PortRange>): void {
  let text: string;
  try {
    text = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
  } catch {
    return;
  }
  const [lo, hi] = text.trim().split(/\s+/).map(Number);
  if (!lo || !hi) return;
  for (const [name, r] of Object.entries(ranges)) {
    if (r.from <= hi && r.to >= lo) log.warn(`${name} overlaps the kernel's ephemeral port range; choose ports outside it`, { range: `${r.from}-${r.to}`, ephemeral: `${lo}-${hi}` });
  }
}
