/**
 * The service manager: for every online node, its tunnel (egress), its SOCKS5 proxy and its
 * OpenVPN server, from `start` to `stop`, across restarts of the bot, and down at shutdown.
 *
 * What is persisted, and where:
 *   node.socks  {host, port, login, password}   the store (written by the start job's transition)
 *   node.ovpn   {serial, issuedAt, revokedAt}   the store
 *   OpenVPN port per node                       DATA_DIR/ovpn/allocations.json
 *   CA, keys, certificates, CRL                 DATA_DIR/pki (see ovpn/pki.ts)
 * Everything else (subnet, tun device, routing table) derives from the OpenVPN port.
 *
 * Ports: a port is never handed to two nodes — both pools are seeded from the records above before
 * anything is allocated, and allocation reserves a port before trying to bind it.
 *
 * Status writes are not made here: start/stop go through the job runner's compare-and-set (see
 * stages.ts). Because a result can lose that race, `reconcile()` tears down services whose node is
 * no longer online/offline once a job is over.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import type { FleetNode } from '../fleet/node.ts';
import type { Logger } from '../log.ts';
import type { ServiceCheck } from '../pipeline/stages/monitor.ts';
import { checkTunnelCapability } from '../probes/tunnel/capability.ts';
import { ipRunner } from '../probes/tunnel/routes.ts';
import type { Capability, OpenResult, Tunnel, TunnelDriver } from '../probes/tunnel/types.ts';
import { HOST_SIDE_FAILURES } from '../probes/tunnel/types.ts';
import type { Leases } from '../pipeline/leases.ts';
import type { Store } from '../store/store.ts';
import { profileFileName, type BundleNode } from './bundle/bundle.ts';
import { OvpnAllocations } from './ovpn/allocations.ts';
import { checkOvpnHost, type OvpnHost } from './ovpn/capability.ts';
import { layoutFor, usableRange } from './ovpn/layout.ts';
import { NodeOvpnServer } from './ovpn/node-server.ts';
import type { Pki } from './ovpn/pki.ts';
import { renderClientProfile } from './ovpn/render.ts';
import { sweepStaleRouting, type RoutingTools } from './ovpn/routing.ts';
import { isAddrInUse, NoFreePort, PortPool, udpPortFree, type PortRange } from './ports.ts';
import { ensurePrivateDir } from './private-files.ts';
import { newSocksCredentials, type SocksCredentials } from './random.ts';
import type { DestinationPolicy } from './socks/destinations.ts';
import { ConnectionBudget, SocksProxy, type Lookup, type SocksLimits } from './socks/server.ts';
import { NodeFirewall, nftRunner } from './node-firewall.ts';
import { guardedDriver, guardOf, TunnelGuard } from './tunnel-guard.ts';
import { TunnelKeeper, type Backoff } from './tunnel-keeper.ts';

/** The part of Config the services read. */
export interface ServicesConfig {
  dataDir: string;
  TUNNEL_DRIVER: 'pppd' | 'none';
  SOCKS_BIND: string;
  SOCKS_HOSTNAMES?: 'resolve' | 'refuse';
  SOCKS_PUBLIC_HOST?: string | undefined;
  SOCKS_PORT_RANGE: PortRange;
  OVPN_PUBLIC_HOST?: string | undefined;
  OVPN_PORT_RANGE: PortRange;
  /** Resolvers pushed to OpenVPN clients (empty: none). */
  OVPN_DNS?: readonly string[];
}

export interface ServiceManagerOptions {
  config: ServicesConfig;
  store: Store;
  /** The job runner's leases: a node a job holds is left alone, and the restore holds its nodes. */
  leases: Leases;
  log: Logger;
  /** null for TUNNEL_DRIVER=none. */
  driver: TunnelDriver | null;
  /** Default: checkTunnelCapability(TUNNEL_DRIVER). */
  tunnelCapability?: () => Capability;
  /** Default: checkOvpnHost() (openvpn, ip, nft, /dev/net/tun, CAP_NET_ADMIN). */
  ovpnHost?: () => OvpnHost;
  socksLimits?: Partial<SocksLimits>;
  /** Client connections across every proxy (each costs two file descriptors). Default 8,000. */
  sharedConnectionLimit?: number;
  lookup?: Lookup;
  allowDestination?: DestinationPolicy;
  /** Deadline for opening one tunnel. Default 30 s (PPTP + LCP + MS-CHAPv2 + IPCP). */
  tunnelOpenTimeoutMs?: number;
  tunnelBackoff?: Backoff;
  /** Nodes restored at once after a restart. Default 4. */
  restoreConcurrency?: number;
  ovpnReadyTimeoutMs?: number;
  /** Filters what arrives on each node tunnel (default: Connexa's nftables table, see tunnel-guard.ts). */
  tunnelGuard?: TunnelGuard;
  /** Where the world-readable CRL copy lives for servers that drop root. Default /run/connexa. */
  publicCrlDir?: string;
}

/** Why a node could not be started; `hostSide` failures say nothing about the node. */
export class StartFailure extends Error {
  readonly outcome: string;
  readonly hostSide: boolean;
  constructor(outcome: string, message: string, hostSide: boolean) {
    super(message);
    this.outcome = outcome;
    this.hostSide = hostSide;
  }
}

export interface StartedServices {
  socks: NonNullable<FleetNode['socks']>;
  ovpn: NonNullable<FleetNode['ovpn']>;
  /** Whether this host runs the node's OpenVPN server (else the profile is issued only). */
  ovpnServer: boolean;
  tunnel: { iface: string; localAddress: string; setupMs: number };
  startMs: number;
}

export interface RestoreSummary {
  restored: number;
  /** Proxies up but the tunnel is not (yet): they answer "network unreachable" meanwhile. */
  tunnelDown: number;
  failed: Array<{ nodeId: string; reason: string }>;
  busy: number;
  ms: number;
}

export interface NodeServiceStatus {
  nodeId: string;
  tunnel: { iface: string; localAddress: string } | null;
  tunnelError: string | null;
  socksPort: number;
  ovpnServer: boolean;
}

interface NodeRuntime {
  nodeId: string;
  keeper: TunnelKeeper;
  socks: SocksProxy;
  ovpn: NodeOvpnServer | null;
  /** The client certificate these services were started with. */
  serial: string | null;
}

const RESTORE_LEASE = 'services-restore';
const isLive = (n: FleetNode | undefined) => n !== undefined && (n.status === 'online' || n.status === 'offline');

export function nodeLabel(n: FleetNode): string {
  const where = [n.country, n.state, n.city].filter(Boolean).join(', ');
  return where ? `${n.ip} · ${where}` : n.ip;
}

export class ServiceManager {
  readonly socksPorts: PortPool;
  readonly ovpnPorts: PortPool;
  private readonly running = new Map<string, NodeRuntime>();
  private readonly budget: ConnectionBudget;
  private readonly ovpnDir: string;
  private readonly pkiDir: string;
  private initP: Promise<void> | null = null;
  private pkiP: Promise<Pki> | null = null;
  private allocations!: OvpnAllocations;
  private ovpnHostCache: OvpnHost | null = null;
  private closing = false;
  private restoring: Promise<RestoreSummary> | null = null;
  private readonly pendingRevocations = new Set<string>();
  private guard: TunnelGuard | null = null;
  private ownFirewall: NodeFirewall | null = null;
  private guarded: TunnelDriver | null = null;

  private readonly o: ServiceManagerOptions;
  constructor(o: ServiceManagerOptions) {
    this.o = o;
    const c = o.config;
    this.socksPorts = new PortPool('SOCKS', c.SOCKS_PORT_RANGE);
    this.ovpnPorts = new PortPool('OpenVPN', usableRange(c.OVPN_PORT_RANGE));
    this.budget = new ConnectionBudget(o.sharedConnectionLimit ?? 8_000);
    this.ovpnDir = path.join(c.dataDir, 'ovpn');
    this.pkiDir = path.join(c.dataDir, 'pki');
  }

  // ---- what the commands ask before starting a job ----

  /** One line when this host cannot open tunnels (start refuses before a job), else null. */
  tunnelRefusal(): string | null {
    if (!this.o.driver) return 'start is off: TUNNEL_DRIVER=none, so no node tunnel can be opened — set TUNNEL_DRIVER=pppd on a host with kernel PPP';
    const cap = (this.o.tunnelCapability ?? (() => checkTunnelCapability(this.o.config.TUNNEL_DRIVER)))();
    if (cap.ok) return null;
    const fix = cap.message.split(' — ').slice(1).join(' — ');
    return `start needs a PPTP tunnel per node, which this host cannot open: missing ${cap.missing.join(', ')}${fix ? ` — ${fix}` : ''}`;
  }

  ovpnHost(): OvpnHost {
    this.ovpnHostCache ??= (this.o.ovpnHost ?? (() => checkOvpnHost()))();
    return this.ovpnHostCache;
  }

  /** Said plainly wherever profiles are handed out while this host does not run the servers. */
  ovpnServerNote(): string | null {
    const h = this.ovpnHost();
    if (h.capability.ok) return null;
    return `the OpenVPN server side is NOT running on this host (missing ${h.capability.missing.join(', ')}): profiles are issued, but they will not connect until it runs`;
  }

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

  /** Free ports in each pool after init (start refuses a selection that cannot fit). */
  async capacity(): Promise<{ socks: number; ovpn: number }> {
    await this.init();
    return { socks: this.socksPorts.free, ovpn: this.ovpnPorts.free };
  }

  status(nodeId: string): NodeServiceStatus | null {
    const rt = this.running.get(nodeId);
    if (!rt) return null;
    const t = rt.keeper.tunnel;
    return { nodeId, tunnel: t ? { iface: t.iface, localAddress: t.localAddress } : null, tunnelError: rt.keeper.error, socksPort: rt.socks.port, ovpnServer: rt.ovpn?.running ?? false };
  }

  runningNodeIds(): string[] {
    return [...this.running.keys()];
  }

  // ---- start / stop (called by the stages) ----

  /** Opens the tunnel, then SOCKS and OpenVPN. Throws StartFailure; leaves nothing behind on failure. */
  async startNode(node: FleetNode, signal?: AbortSignal): Promise<StartedServices> {
    const t0 = Date.now();
    await this.init();
    if (this.closing) throw new StartFailure('shutting_down', 'the bot is shutting down', true);
    const old = this.running.get(node.id);
    if (old) {
      // A leftover from a start whose result lost its compare-and-set: gone for good.
      await this.teardown(old);
      this.releaseById(node.id, old.socks.port);
      if (old.serial) await this.revokeOrRemember(old.serial);
    }
    let runtime: NodeRuntime | null = null;
    const keeper = this.newKeeper(node, () => runtime);
    const opened = await keeper.openOnce(signal);
    if (!opened.ok) {
      await keeper.close();
      throw new StartFailure(opened.kind, `tunnel: ${opened.reason}`, HOST_SIDE_FAILURES.has(opened.kind));
    }
    const tunnel = opened.tunnel;
    let socks: SocksProxy | null = null;
    let socksPort: number | null = null;
    let ovpnPort: number | null = null;
    let serial: string | null = null;
    let server: NodeOvpnServer | null = null;
    try {
      const creds = newSocksCredentials();
      const got = await this.socksPorts.allocate(node.id, async (port) => {
        const p = this.newProxy(node.id, port, creds, keeper);
        try {
          await p.listen();
          return p;
        } catch (err) {
          if (isAddrInUse(err)) return false;
          throw err;
        }
      });
      socks = got.value;
      socksPort = got.port;
      // OpenVPN binds the port itself; a quick probe skips ports another program holds.
      ovpnPort = (await this.ovpnPorts.allocate(node.id, async (port) => (await udpPortFree(port)) || false)).port;
      this.allocations.set(node.id, ovpnPort);
      const pki = await this.pki();
      const cert = await pki.issueClient(node.id);
      serial = cert.serial;
      server = await this.startOvpnServer(node, ovpnPort, pki);
      if (server) await server.attach(tunnel);
      if (signal?.aborted) throw new StartFailure('cancelled', 'cancelled while the services were starting', true);
      runtime = { nodeId: node.id, keeper, socks, ovpn: server, serial: cert.serial };
      this.running.set(node.id, runtime);
      this.o.log.info('node services started', { node: node.id, socksPort, ovpnPort, ovpnServer: server !== null, iface: tunnel.iface, ms: Date.now() - t0 });
      return {
        socks: { host: this.publicHosts().socks, port: socksPort, login: creds.login, password: creds.password },
        ovpn: { serial: cert.serial, issuedAt: cert.issuedAt, revokedAt: null },
        ovpnServer: server !== null,
        tunnel: { iface: tunnel.iface, localAddress: tunnel.localAddress, setupMs: tunnel.setupMs },
        startMs: Date.now() - t0,
      };
    } catch (err) {
      await server?.stop();
      await socks?.close();
      if (socksPort !== null) this.socksPorts.release(socksPort, node.id);
      if (ovpnPort !== null) {
        this.ovpnPorts.release(ovpnPort, node.id);
        this.allocations.delete(node.id);
      }
      // Never handed to anyone, but revoked all the same: no valid certificate without a node.
      if (serial) await this.revokeOrRemember(serial);
      await keeper.close();
      if (err instanceof StartFailure) throw err;
      if (err instanceof NoFreePort) throw new StartFailure('no_free_port', err.message, true);
      throw new StartFailure(server === null && serial !== null ? 'ovpn_failed' : 'local_error', (err as Error).message, true);
    }
  }

  /**
   * Revokes the node's profile (first: if that fails nothing else changes and stop can be retried),
   * then tears its services down and frees its ports. Returns the fields to write with the status.
   */
  async stopNode(node: FleetNode): Promise<{ socks: null; ovpn: FleetNode['ovpn'] }> {
    await this.init();
    await this.retryPendingRevocations();
    let ovpn = node.ovpn;
    if (ovpn && !ovpn.revokedAt) {
      const at = new Date();
      await (await this.pki()).revoke(ovpn.serial, at);
      ovpn = { ...ovpn, revokedAt: at.toISOString() };
    }
    const rt = this.running.get(node.id);
    if (rt) await this.teardown(rt);
    await this.guard?.idle();
    this.freePorts(node);
    // A proxy started by a start whose result never reached the store holds a port node.socks does not name.
    if (rt && rt.socks.port !== node.socks?.port) this.socksPorts.release(rt.socks.port, node.id);
    this.o.log.info('node services stopped', { node: node.id });
    return { socks: null, ovpn };
  }

  /** For `delete`: stops (and revokes) every given node that has services, without a status write. */
  async retire(nodes: readonly FleetNode[]): Promise<void> {
    for (const n of nodes) if (isLive(n) || this.running.has(n.id) || (n.ovpn && !n.ovpn.revokedAt)) await this.stopNode(n);
  }

  /**
   * Tears down services whose node is gone or no longer online/offline (a start result that lost
   * its compare-and-set, a node deleted meanwhile). Nodes held by a running job are left alone.
   */
  async reconcile(): Promise<number> {
    let n = 0;
    for (const rt of [...this.running.values()]) {
      const node = this.o.store.get(rt.nodeId);
      if (isLive(node) || this.o.leases.holder(rt.nodeId)) continue;
      if (node) {
        // The record must not keep credentials and a certificate that no longer work (nor hold the port).
        this.o.store.patchNode(node.id, await this.stopNode(node));
      } else {
        await this.teardown(rt);
        this.releaseById(rt.nodeId, rt.socks.port);
        if (rt.serial) await this.revokeOrRemember(rt.serial);
      }
      this.o.log.warn('services of a node that is not online were torn down', { node: rt.nodeId, status: node?.status ?? 'deleted' });
      n++;
    }
    return n;
  }

  // ---- the monitor ----

  /**
   * A check for the monitor (after its PPTP handshake): the node's tunnel is up, its proxy listens,
   * its OpenVPN server runs (where this host runs them). Services missing altogether (a restore
   * that failed: its port was taken, say) are brought back first — the monitor holds the node, so
   * nothing else starts or stops it meanwhile — so a node heals as soon as what broke it is fixed.
   */
  monitorCheck(): ServiceCheck {
    return async (node) => {
      let rt = this.running.get(node.id);
      if (!rt && isLive(node) && node.socks && !this.closing) {
        try {
          await this.init();
          await this.restoreNode(node);
          this.o.log.info('node services resumed by the monitor', { node: node.id });
        } catch (err) {
          return { ok: false, outcome: 'services_down', reason: `its services could not be resumed: ${(err as Error).message}` };
        }
        rt = this.running.get(node.id);
      }
      if (!rt) return { ok: false, outcome: 'services_down', reason: 'its services are not running on this host' };
      if (!rt.keeper.tunnel) return { ok: false, outcome: 'tunnel_down', reason: `its tunnel is down${rt.keeper.error ? ` (${rt.keeper.error})` : ''}; reopening with backoff` };
      if (!rt.socks.isListening) return { ok: false, outcome: 'socks_down', reason: `its SOCKS proxy is not listening on port ${rt.socks.port}` };
      if (rt.serial && this.ovpnHost().capability.ok && !rt.ovpn?.running) return { ok: false, outcome: 'ovpn_down', reason: 'its OpenVPN server is not running (restarting)' };
      return { ok: true };
    };
  }

  // ---- restart and shutdown ----

  /**
   * Brings back the services of every online and offline node after a restart, with the same ports,
   * credentials and profiles: tunnel first, then SOCKS and OpenVPN. A node whose tunnel does not
   * open still gets its listeners (answering "network unreachable") and its tunnel is retried in the
   * background; the monitor sees it down meanwhile.
   */
  restore(): Promise<RestoreSummary> {
    this.restoring ??= this.doRestore();
    return this.restoring;
  }

  private async doRestore(): Promise<RestoreSummary> {
    const t0 = Date.now();
    await this.init();
    const summary: RestoreSummary = { restored: 0, tunnelDown: 0, failed: [], busy: 0, ms: 0 };
    const nodes = this.o.store.nodes().filter((n) => isLive(n) && n.socks);
    if (!nodes.length) return { ...summary, ms: Date.now() - t0 };
    if (this.ovpnHost().capability.ok) {
      // Only our ports' devices and tables: another instance's (another range) are not ours to touch.
      const h = this.ovpnHost();
      const swept = await sweepStaleRouting({ ip: ipRunner(h.ip ?? 'ip'), iptables: h.iptables ? ipRunner(h.iptables) : null }, this.ovpnPorts.range);
      if (swept) this.o.log.warn('removed routing rules left by an earlier run', { rules: swept });
    }
    const refusal = this.tunnelRefusal();
    if (refusal) this.o.log.warn('online nodes are restored without tunnels', { nodes: nodes.length, reason: refusal });
    const { taken, busy } = this.o.leases.lease(nodes.map((n) => n.id), RESTORE_LEASE);
    summary.busy = busy.length;
    const limit = pLimit(this.o.restoreConcurrency ?? 4);
    try {
      await Promise.all(
        taken.map((id) =>
          limit(async () => {
            const node = this.o.store.get(id);
            if (!node || !isLive(node) || !node.socks || this.closing || this.running.has(id)) return;
            try {
              const up = await this.restoreNode(node);
              summary.restored++;
              if (!up) summary.tunnelDown++;
            } catch (err) {
              summary.failed.push({ nodeId: id, reason: (err as Error).message });
              this.o.log.error('node services could not be restored', { node: id, error: (err as Error).message });
            }
          }),
        ),
      );
    } finally {
      this.o.leases.release(taken, RESTORE_LEASE);
    }
    summary.ms = Date.now() - t0;
    this.o.log.info('node services restored', { ...summary, failed: summary.failed.length });
    return summary;
  }

  /** Returns whether the tunnel is up. */
  private async restoreNode(node: FleetNode): Promise<boolean> {
    const s = node.socks!;
    let runtime: NodeRuntime | null = null;
    const keeper = this.newKeeper(node, () => runtime);
    const opened = this.o.driver ? await keeper.openOnce() : null;
    const socks = this.newProxy(node.id, s.port, { login: s.login, password: s.password }, keeper);
    try {
      await socks.listen();
    } catch (err) {
      await keeper.close();
      throw new Error(`SOCKS port ${s.port} cannot be bound: ${(err as Error).message}`);
    }
    let server: NodeOvpnServer | null = null;
    const port = this.allocations.get(node.id);
    if (node.ovpn && !node.ovpn.revokedAt && port !== undefined) {
      try {
        server = await this.startOvpnServer(node, port, await this.pki());
        if (server && opened?.ok) await server.attach(opened.tunnel);
      } catch (err) {
        this.o.log.error('the OpenVPN server of a node could not be restored', { node: node.id, port, error: (err as Error).message });
        await server?.stop();
        server = null;
      }
    }
    runtime = { nodeId: node.id, keeper, socks, ovpn: server, serial: node.ovpn && !node.ovpn.revokedAt ? node.ovpn.serial : null };
    this.running.set(node.id, runtime);
    // The public host may have been configured since: keep node.socks.host (what `secrets` shows) current.
    const host = this.publicHosts().socks;
    if (s.host !== host) this.o.store.patchNode(node.id, { socks: { ...s, host } });
    if (!opened) return false; // TUNNEL_DRIVER=none: nothing to retry
    if (opened.ok) return true;
    // Node-side failures (unreachable, timeout, ...) and local hiccups may pass; a host that cannot
    // open tunnels at all (no kernel PPP) will not, so that one is not retried.
    if (opened.kind !== 'host_not_capable' && opened.kind !== 'cancelled') keeper.retryLater();
    return false;
  }

  /** Shutdown: every proxy, server and tunnel down; nothing revoked, nothing forgotten. */
  async close(): Promise<void> {
    this.closing = true;
    await this.restoring?.catch(() => {});
    await Promise.all([...this.running.values()].map((rt) => this.teardown(rt)));
    this.running.clear();
    await this.guard?.idle();
    // The table goes whole: the next start creates it again (and would sweep a leftover anyway).
    await this.ownFirewall?.close();
  }

  // ---- bundles ----

  /** What goes into a bundle for these nodes; nodes without services are listed in `skipped`. */
  async bundleNodes(nodes: readonly FleetNode[]): Promise<{ nodes: BundleNode[]; skipped: Array<{ nodeId: string; reason: string }> }> {
    await this.init();
    const out: BundleNode[] = [];
    const skipped: Array<{ nodeId: string; reason: string }> = [];
    const hosts = this.publicHosts();
    let pki: Pki | null = null;
    for (const n of nodes) {
      if (!isLive(n) || !n.socks) {
        skipped.push({ nodeId: n.id, reason: `${n.status}: no services` });
        continue;
      }
      const entry: BundleNode = {
        nodeId: n.id,
        label: nodeLabel(n),
        socksLine: `${hosts.socks}:${n.socks.port}:${n.socks.login}:${n.socks.password}`,
        profile: null,
        profileName: profileFileName(n.id, n.ip),
      };
      const port = this.allocations.get(n.id);
      if (!n.ovpn || n.ovpn.revokedAt) entry.profileMissing = 'no OpenVPN certificate';
      else if (port === undefined) entry.profileMissing = 'no OpenVPN port allocated';
      else {
        pki ??= await this.pki();
        const m = pki.clientMaterial(n.ovpn.serial);
        if (!m) entry.profileMissing = 'its certificate or key is missing from DATA_DIR/pki';
        else entry.profile = renderClientProfile({ nodeId: n.id, nodeLabel: entry.label, remoteHost: hosts.ovpn, port, caPem: pki.caPem(), certPem: m.certPem, keyPem: m.keyPem, tlsCryptKey: pki.tlsCryptKey() });
      }
      out.push(entry);
    }
    return { nodes: out, skipped };
  }

  // ---- internals ----

  /**
   * Revokes a certificate no node record names (a failed start, a leftover, a deleted node). When
   * the PKI cannot write (disk full) the serial is kept here and retried by every stop: the node
   * record cannot carry it, and swallowing the error would leave a valid certificate behind.
   */
  private async revokeOrRemember(serial: string): Promise<void> {
    try {
      await (await this.pki()).revoke(serial);
      this.pendingRevocations.delete(serial);
    } catch (err) {
      this.pendingRevocations.add(serial);
      this.o.log.error('a certificate could not be revoked; retried at the next stop', { serial, error: (err as Error).message });
    }
  }

  /**
   * At start-up, before anything is issued: a valid certificate that no node record names is one
   * whose revocation failed before a restart (or whose start never reached the store). It would
   * still open the node's server (same CN), so it is revoked now; failures are kept for stop.
   */
  private async revokeOrphans(): Promise<void> {
    let pki: Pki;
    try {
      pki = await this.pki();
    } catch (err) {
      this.o.log.error('the OpenVPN PKI cannot be opened; unnamed certificates are not checked', { error: (err as Error).message });
      return;
    }
    const named = new Set(this.o.store.nodes().flatMap((n) => (n.ovpn && !n.ovpn.revokedAt ? [n.ovpn.serial] : [])));
    const orphans = pki.certs().filter((c) => !c.revokedAt && !named.has(c.serial));
    for (const c of orphans) await this.revokeOrRemember(c.serial);
    if (orphans.length) this.o.log.warn('revoked certificates no node names', { count: orphans.length });
  }

  private async retryPendingRevocations(): Promise<void> {
    for (const serial of [...this.pendingRevocations]) await this.revokeOrRemember(serial);
  }

  /** Serials whose revocation failed and is still to be done (see revokeOrRemember). */
  pendingRevocationSerials(): string[] {
    return [...this.pendingRevocations];
  }

  private init(): Promise<void> {
    this.initP ??= (async () => {
      ensurePrivateDir(this.ovpnDir);
      this.allocations = OvpnAllocations.load(this.ovpnDir);
      for (const n of this.o.store.nodes()) {
        if (n.socks && !this.socksPorts.claim(n.socks.port, n.id)) this.o.log.error('two nodes hold the same SOCKS port in the store', { port: n.socks.port, node: n.id, other: this.socksPorts.ownerOf(n.socks.port) });
      }
      warnEphemeralOverlap(this.o.log, { SOCKS_PORT_RANGE: this.o.config.SOCKS_PORT_RANGE, OVPN_PORT_RANGE: this.o.config.OVPN_PORT_RANGE });
      for (const [id, port] of this.allocations.entries()) {
        // A node deleted while the bot was down: its port is free again.
        if (!this.o.store.get(id)) this.allocations.delete(id);
        else this.ovpnPorts.claim(port, id);
      }
      await this.revokeOrphans();
    })();
    return this.initP;
  }

  private pki(): Promise<Pki> {
    // Loaded on first use: the X.509 library is the heaviest module a one-shot command would load.
    this.pkiP ??= import('./ovpn/pki.ts').then((m) => m.Pki.open(this.pkiDir, undefined, { crlCopy: this.crlCopyPath() ?? undefined }));
    // A failed open (disk full) is retried on the next use rather than remembered.
    this.pkiP.catch(() => (this.pkiP = null));
    return this.pkiP;
  }

  /**
   * The CRL copy servers running as nobody read (DATA_DIR is 0700): one directory per data
   * directory, so two instances never share one. Null when the servers keep root.
   */
  private crlCopyPath(): string | null {
    const h = this.ovpnHost();
    if (!h.capability.ok || !h.runAs) return null;
    let real = this.o.config.dataDir;
    try {
      real = fs.realpathSync(real);
    } catch {
      /* not created yet: the configured path names it */
    }
    const id = createHash('sha256').update(real).digest('hex').slice(0, 16);
    return path.join(this.o.publicCrlDir ?? '/run/connexa', `ovpn-${id}`, 'crl.pem');
  }

  /**
   * Nothing but replies may come in from a node: the driver guards every tunnel it opens. Compose
   * guards the driver it shares with the speed tests; a driver given bare (tests) is guarded here.
   */
  private guardedDriver(): TunnelDriver | null {
    const d = this.o.driver;
    if (!d) return null;
    this.guard ??= guardOf(d) ?? this.o.tunnelGuard ?? new TunnelGuard(this.firewall());
    this.guarded ??= guardedDriver(d, this.guard);
    return this.guarded;
  }

  /** The host's one nftables table: the tunnel guard's and the OpenVPN routing's elements share it. */
  private firewall(): NodeFirewall {
    const d = this.o.driver;
    this.ownFirewall ??= (d && guardOf(d)?.firewall) ?? this.o.tunnelGuard?.firewall ?? new NodeFirewall(nftRunner([this.ovpnHost().nft ?? 'nft']));
    return this.ownFirewall;
  }

  private routingTools(): RoutingTools {
    return { ip: ipRunner(this.ovpnHost().ip ?? 'ip'), firewall: this.firewall() };
  }

  /** Starts the node's server when this host can run it; null when it cannot (profile only). */
  private async startOvpnServer(node: FleetNode, port: number, pki: Pki): Promise<NodeOvpnServer | null> {
    const host = this.ovpnHost();
    if (!host.capability.ok || !host.openvpn) return null;
    const server = new NodeOvpnServer({
      nodeId: node.id,
      nodeLabel: nodeLabel(node),
      layout: layoutFor(port),
      pki,
      dir: this.ovpnDir,
      binary: host.openvpn,
      tools: this.routingTools(),
      log: this.o.log,
      readyTimeoutMs: this.o.ovpnReadyTimeoutMs,
      dns: this.o.config.OVPN_DNS ?? [],
      runAs: host.runAs ?? null,
    });
    await server.start();
    return server;
  }

  private newKeeper(node: FleetNode, runtime: () => NodeRuntime | null): TunnelKeeper {
    const driver = this.guardedDriver();
    const open = (signal?: AbortSignal): Promise<OpenResult> =>
      driver
        ? driver.open({ ip: node.ip, port: node.port, login: node.login, password: node.password }, { timeoutMs: this.o.tunnelOpenTimeoutMs ?? 30_000, signal })
        : Promise.resolve({ ok: false, kind: 'host_not_capable', reason: 'TUNNEL_DRIVER=none', elapsedMs: 0 });
    return new TunnelKeeper(
      open,
      {
        up: async (t: Tunnel) => {
          await runtime()?.ovpn?.attach(t);
        },
        down: async () => {
          const rt = runtime();
          // Relays through the vanished tunnel are dead; close them now rather than at the idle timeout.
          rt?.socks.cutSessions();
          await rt?.ovpn?.detach();
        },
      },
      this.o.log,
      { node: node.id },
      this.o.tunnelBackoff,
    );
  }

  private newProxy(nodeId: string, port: number, credentials: SocksCredentials, keeper: TunnelKeeper): SocksProxy {
    return new SocksProxy({
      bind: this.o.config.SOCKS_BIND,
      port,
      credentials,
      egress: () => keeper.tunnel?.localAddress ?? null,
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

  private async teardown(rt: NodeRuntime): Promise<void> {
    if (this.running.get(rt.nodeId) === rt) this.running.delete(rt.nodeId);
    // Listeners first (no new work), then the server and its routing, the tunnel last.
    await rt.socks.close();
    await rt.ovpn?.stop();
    await rt.keeper.close();
  }

  private freePorts(node: FleetNode): void {
    this.releaseById(node.id, node.socks?.port);
  }

  private releaseById(nodeId: string, socksPort: number | undefined): void {
    if (socksPort !== undefined) this.socksPorts.release(socksPort, nodeId);
    const port = this.allocations.get(nodeId);
    if (port !== undefined) {
      this.ovpnPorts.release(port, nodeId);
      this.allocations.delete(nodeId);
    }
  }
}

/**
 * Ports the kernel hands out for outgoing connections (net.ipv4.ip_local_port_range) cannot be
 * listened on while a connection in TIME_WAIT holds them: a range inside it loses ports at random
 * under load (the pool skips them, but the range shrinks). Said once at start-up.
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
