/**
 * The bot side of the services plane: what only the bot does, for every gateway alike. It issues and
 * revokes client certificates (the CA stays here), commits what gateways report into the store (the
 * bot is its only writer), reconciles after a job, restores after a restart, checks for the monitor
 * and builds bundles. Gateways are reached only through the GatewayPort.
 *
 * What is persisted, and where:
 *   node.socks  {host, port, login, password}       the store (written with the start's transition)
 *   node.ovpn   {serial, issuedAt, revokedAt, port} the store
 *   node.gateway                                    the store: where the node's services run
 *   CA, keys, certificates, CRL                     DATA_DIR/pki (see services/ovpn/pki.ts)
 * A gateway keeps only what it runs; after its restart the bot starts again with `keep` what is missing.
 */
import type { FleetNode } from '../fleet/node.ts';
import type { Logger } from '../log.ts';
import type { Leases } from '../pipeline/leases.ts';
import type { ServiceCheck } from '../pipeline/stages/monitor.ts';
import { ovpnServerNote, tunnelRefusal } from '../services/host-capability.ts';
import type { Pki } from '../services/ovpn/pki.ts';
import type { NodePatch, Store } from '../store/store.ts';
import { migrateOvpnAllocations } from './allocations-migration.ts';
import { buildBundleValue, type BundleValue } from './bundles.ts';
import { ClientCertificates } from './certificates.ts';
import type { GatewayDirectory } from './directory.ts';
import { place, speedCapable, type Placement } from './placement.ts';
import { TrustSender } from './trust.ts';
import type { EnrolAnswer } from './remote/control.ts';
import { pkiSigner } from './remote/pki-signer.ts';
import type { CheckResult, GatewayDescription, GatewayPort, StartedServices, StartResult } from './port.ts';
import { restoreLiveNodes, type RestoreSummary } from './restore.ts';
import { nodeTarget } from './target.ts';
import { LocalGateway } from './local.ts';

export interface GatewayControlOptions {
  /** The gateways, the first the default (where nodes without a recorded gateway run). */
  gateways: readonly GatewayPort[];
  store: Store;
  /** The job runner's leases: a node a job holds is left alone, and the restore holds its nodes. */
  leases: Leases;
  log: Logger;
  pki: () => Promise<Pki>;
  dataDir: string;
  /** TUNNEL_OPEN_TIMEOUT_MS. */
  tunnelOpenTimeoutMs: number;
  /** Nodes restored at once after a restart. Default 4. */
  restoreConcurrency?: number;
  /**
   * Every gateway the bot knows (the local one and those that send heartbeats through Redis), with
   * their liveness. Default: a directory of the gateways above only.
   */
  directory?: GatewayDirectory;
}

export type StartFailure = Extract<StartResult, { ok: false }>;

/** A gateway that can set ports aside for nodes it will serve again (the local one). */
type Reserving = GatewayPort & { reserve?(claims: ReadonlyArray<{ nodeId: string; socksPort: number; ovpnPort: number | null }>): void; close?(): Promise<void> };

export const isLive = (n: FleetNode | undefined): boolean => n !== undefined && (n.status === 'online' || n.status === 'offline');
const liveSerial = (n: FleetNode | undefined) => (n?.ovpn && !n.ovpn.revokedAt ? n.ovpn.serial : null);

export class GatewayControl {
  /** By name; more gateways are added here. */
  readonly gateways = new Map<string, Reserving>();
  readonly certificates: ClientCertificates;
  readonly defaultGateway: string;
  /** Per node, the certificate its running services were started with (revoked when a leftover goes). */
  private readonly serials = new Map<string, string>();
  private initP: Promise<void> | null = null;
  private restoring: Promise<RestoreSummary> | null = null;
  private closing = false;
  private readonly trust: TrustSender;

  private readonly o: GatewayControlOptions;
  constructor(o: GatewayControlOptions) {
    this.o = o;
    for (const g of o.gateways) this.gateways.set(g.name, g);
    this.defaultGateway = o.gateways[0]!.name;
    this.certificates = new ClientCertificates(o.pki, o.log);
    this.trust = new TrustSender(o.pki, (name) => this.o.directory?.get(name)?.bootId ?? '');
  }

  /** The local gateway (the bot's own host), if one is configured. */
  local(): LocalGateway | null {
    for (const g of this.gateways.values()) if (g instanceof LocalGateway) return g;
    return null;
  }

  get directory(): GatewayDirectory | undefined {
    return this.o.directory;
  }

  /** The gateway of this name: a configured one, or a remote one the directory reaches. */
  port(name: string): Reserving | undefined {
    return this.gateways.get(name) ?? this.o.directory?.port(name);
  }

  /** Where a node's services run (its recorded gateway, else the default); undefined for an unknown name. */
  gatewayOf(node: Pick<FleetNode, 'gateway'>): Reserving | undefined {
    return this.port(node.gateway ?? this.defaultGateway);
  }

  /** Gateways that answer now: the configured ones, and remote ones up and heard from since the bot started. */
  private reachable(): Reserving[] {
    const out = new Map<string, Reserving>(this.gateways);
    for (const g of this.o.directory?.list() ?? []) {
      if (g.local || !g.up || g.lastHeartbeatAt === null || out.has(g.name)) continue;
      const p = this.port(g.name);
      if (p) out.set(g.name, p);
    }
    return [...out.values()];
  }

  /** No gateway but the configured ones (no remote gateway known): the bot's host alone. */
  private oneHost(): boolean {
    return (this.o.directory?.list() ?? []).every((g) => this.gateways.has(g.name));
  }

  /** Why a remote gateway cannot be asked now (down, not heard from yet), or null. */
  private silence(name: string): { reason: string; decisive: boolean } | null {
    const d = this.o.directory;
    const g = d?.get(name);
    if (!d || !g || g.local || this.gateways.has(name)) return null;
    const silent = Math.round(d.silentMs(name) / 1000);
    if (!g.up) return { reason: `gateway ${name} is down: no heartbeat for ${silent} s`, decisive: true };
    if (g.lastHeartbeatAt === null) return { reason: `gateway ${name} has not been heard from since the bot started (${silent} s)`, decisive: false };
    return null;
  }

  /**
   * Where `ids` go: gateway=NAME, or the up, non-draining gateways that can open tunnels by free
   * capacity (placement.ts). Asked before a job starts.
   */
  async placement(ids: readonly string[], wanted?: string): Promise<Placement> {
    await this.init();
    const d = this.o.directory;
    // One host and no name asked: today's behaviour (start checks that host's port ranges itself).
    if (!d || (wanted === undefined && this.oneHost() && !d.list().some((g) => g.draining))) return { ok: true, byGateway: new Map([[this.defaultGateway, [...ids]]]) };
    await d.refreshLocal();
    return place(ids, d.list(), wanted);
  }

  /** Enrolment of a remote gateway: its CSR signed by the CA, which never leaves the bot. */
  async signServerCsr(csrPem: string, gatewayName: string): Promise<EnrolAnswer> {
    return pkiSigner(await this.o.pki())(csrPem, gatewayName);
  }

  /** One line when no gateway can open tunnels (`start`/`speed` refuse before a job), else null. */
  tunnelRefusal(what: 'start' | 'speed'): string | null {
    // A remote gateway up and able to open tunnels is enough (its heartbeat carries its own check).
    if (this.o.directory?.list().some((g) => !g.local && g.up && g.description?.tunnels.ok)) return null;
    const local = this.local();
    if (!local) return null;
    return tunnelRefusal(what, local.capability.tunnels());
  }

  /**
   * The gateways a speed job runs on: those up and able to open tunnels (placement.ts speedCapable),
   * the local one freshly described. Without a directory (or none able): the local one, whose own
   * answer is the backstop after the command's refusal.
   */
  async speedGateways(): Promise<GatewayPort[]> {
    const d = this.o.directory;
    const local = this.local();
    // One host (no REDIS_URL): today's behaviour, the local gateway answers for itself.
    if (!d || this.oneHost()) return local ? [local] : [];
    await d.refreshLocal();
    const able = speedCapable(d.list()).flatMap((g) => this.port(g.name) ?? []);
    return able.length ? able : local ? [local] : [];
  }

  /** The gateway a command asks by name (`ping … from=NAME`), or one line why it cannot be asked now. */
  askable(name: string): { ok: true; port: GatewayPort } | { ok: false; reason: string } {
    const known = this.o.directory?.list().map((g) => g.name) ?? [...this.gateways.keys()];
    let port: GatewayPort | undefined;
    try {
      port = known.includes(name) ? this.port(name) : undefined;
    } catch (err) {
      return { ok: false, reason: (err as Error).message };
    }
    if (!port) return { ok: false, reason: `no gateway is named ${name} (known: ${known.join(', ') || 'none'})` };
    const silent = this.silence(name);
    return silent ? { ok: false, reason: silent.reason } : { ok: true, port };
  }

  /**
   * A gateway's description: a remote one's last heartbeat (no round trip, and it answers for a
   * gateway that is down), else asked.
   */
  private described(gw: GatewayPort): Promise<GatewayDescription> {
    const known = gw.local ? undefined : this.o.directory?.get(gw.name)?.description;
    return known ? Promise.resolve(known) : gw.describe();
  }

  async describe(name = this.defaultGateway): Promise<GatewayDescription> {
    await this.init();
    const gw = this.port(name);
    if (!gw) throw new Error(`no gateway is named ${name}`);
    return gw.describe();
  }

  /** Free ports per pool on the default gateway (start refuses a selection that cannot fit). */
  async capacity(): Promise<{ socks: number; ovpn: number }> {
    await this.init();
    const local = this.local();
    if (local && local.name === this.defaultGateway) return local.host.free();
    const d = await this.describe();
    return { socks: d.capacity.free, ovpn: d.capacity.free };
  }

  /** What `start` says before it begins: the OpenVPN server notes and public-host warnings of the gateways it uses. */
  async startNotes(names: readonly string[] = [this.defaultGateway]): Promise<{ ovpnServerNote: string | null; warnings: string[] }> {
    const notes: string[] = [];
    const warnings: string[] = [];
    for (const name of names) {
      await this.init();
      const gw = this.port(name);
      if (!gw) throw new Error(`no gateway is named ${name}`);
      const d = await this.described(gw);
      const tag = names.length > 1 || name !== this.defaultGateway ? `${name}: ` : '';
      const note = ovpnServerNote(d.ovpn);
      if (note) notes.push(`${tag}${note}`);
      for (const w of d.warnings) warnings.push(`${tag}${w}`);
    }
    return { ovpnServerNote: notes.length ? notes.join('; ') : null, warnings };
  }

  // ---- start / stop (called by the stages) ----

  /**
   * Starts the node's services on its gateway, then issues its client certificate (the server
   * accepts only that node's CN, so the order does not matter to it). Nothing is left behind on failure.
   */
  async start(node: FleetNode, signal?: AbortSignal, on: string = this.defaultGateway): Promise<{ ok: true; patch: NodePatch; services: StartedServices } | StartFailure> {
    const t0 = Date.now();
    await this.init();
    if (this.closing) return { ok: false, outcome: 'shutting_down', reason: 'the bot is shutting down', hostSide: true };
    const gw = this.port(on);
    if (!gw) return { ok: false, outcome: 'no_gateway', reason: `no gateway is named ${on}`, hostSide: true };
    const silent = this.silence(on);
    if (silent) return { ok: false, outcome: 'gateway_down', reason: silent.reason, hostSide: true };
    await this.trust.ensure(gw);
    // A leftover from a start whose result lost its compare-and-set: its certificate goes for good.
    const old = this.serials.get(node.id);
    this.serials.delete(node.id);
    if (old && old !== liveSerial(node)) await this.certificates.revokeOrRemember(old);
    const r = await gw.start({ node: nodeTarget(node), ovpn: true, tunnelOpenTimeoutMs: this.o.tunnelOpenTimeoutMs }, signal);
    if (!r.ok) return r;
    let cert: { serial: string; issuedAt: string };
    try {
      cert = await this.certificates.issue(node.id);
    } catch (err) {
      await gw.stop(node.id);
      return { ok: false, outcome: 'ovpn_failed', reason: `the OpenVPN profile could not be issued: ${(err as Error).message}`, hostSide: true };
    }
    this.serials.set(node.id, cert.serial);
    const s = r.services;
    // startMs: end to end, the certificate included (the figure the lab test reports).
    return { ok: true, patch: { socks: s.socks, ovpn: { serial: cert.serial, issuedAt: cert.issuedAt, revokedAt: null, port: s.ovpnPort }, gateway: gw.name }, services: { ...s, startMs: Date.now() - t0 } };
  }

  /**
   * Revokes the node's profile (first: if that fails nothing else changes and stop can be retried),
   * then tears its services down. Returns the fields to write with the status.
   */
  async stop(node: FleetNode): Promise<NodePatch> {
    await this.init();
    await this.certificates.retryPending();
    let ovpn: FleetNode['ovpn'] = null;
    if (node.ovpn) {
      const { serial, issuedAt } = node.ovpn;
      let revokedAt = node.ovpn.revokedAt;
      if (!revokedAt) {
        const at = new Date();
        await this.certificates.revoke(serial, at);
        revokedAt = at.toISOString();
      }
      ovpn = { serial, issuedAt, revokedAt }; // the port goes with the services
    }
    const leftover = this.serials.get(node.id);
    this.serials.delete(node.id);
    if (leftover && leftover !== node.ovpn?.serial) await this.certificates.revokeOrRemember(leftover);
    const gw = this.gatewayOf(node);
    // A gateway that is down cannot be asked: its copy is torn down by reconcile when it is back
    // (the profile is revoked already, so nothing it still runs lets anyone in).
    if (gw && !this.silence(gw.name)) await gw.stop(node.id);
    this.o.log.info('node services stopped', { node: node.id, gateway: gw?.name });
    return { socks: null, ovpn, gateway: null };
  }

  /**
   * Moves a live node to another gateway: new proxy credentials and profile there first, then the
   * old profile revoked and the old services stopped. A failure leaves the node where it was.
   */
  async move(node: FleetNode, to: string, signal?: AbortSignal): Promise<{ ok: true; patch: NodePatch } | StartFailure> {
    const from = node.gateway ?? this.defaultGateway;
    if (from === to) return { ok: false, outcome: 'already_there', reason: `it runs on ${to} already`, hostSide: true };
    const r = await this.start({ ...node, gateway: to }, signal, to);
    if (!r.ok) return r;
    if (signal?.aborted) {
      // Past the deadline the runner keeps the old record: undo the new copy, leave the old one as it was.
      await this.stop({ ...node, ...r.patch });
      return { ok: false, outcome: 'cancelled', reason: 'cut short before the old services were stopped', hostSide: true };
    }
    const old = this.gatewayOf(node);
    if (liveSerial(node)) await this.certificates.revokeOrRemember(node.ovpn!.serial);
    if (old && !this.silence(old.name)) {
      try {
        await old.stop(node.id);
      } catch (err) {
        // Its profile is revoked: what is left there is torn down by reconcile.
        this.o.log.warn('the old services of a moved node could not be stopped', { node: node.id, gateway: old.name, error: (err as Error).message });
      }
    }
    this.o.log.info('node moved', { node: node.id, from, to });
    return { ok: true, patch: r.patch };
  }

  /** For `delete`: stops (and revokes) every given node that has services, without a status write. */
  async retire(nodes: readonly FleetNode[]): Promise<void> {
    for (const n of nodes) if (isLive(n) || this.serials.has(n.id) || liveSerial(n)) await this.stop(n);
  }

  /**
   * After a job: tears down services whose node is gone or no longer online/offline (a start result
   * that lost its compare-and-set, a node deleted meanwhile). Nodes held by a running job are left alone.
   */
  async reconcile(): Promise<number> {
    let n = 0;
    for (const gw of this.reachable()) {
      for (const r of await gw.list()) {
        const node = this.o.store.get(r.nodeId);
        if (this.o.leases.holder(r.nodeId)) continue;
        if (node && isLive(node) && this.gatewayOf(node) === gw) continue;
        if (isLive(node)) await gw.stop(r.nodeId); // it runs elsewhere now: only this copy goes
        else if (node) this.o.store.patchNode(node.id, await this.stop(node));
        else {
          await gw.stop(r.nodeId);
          const serial = this.serials.get(r.nodeId);
          this.serials.delete(r.nodeId);
          if (serial) await this.certificates.revokeOrRemember(serial);
        }
        this.o.log.warn('services of a node that is not online were torn down', { node: r.nodeId, gateway: gw.name, status: node?.status ?? 'deleted' });
        n++;
      }
    }
    return n;
  }

  // ---- the monitor ----

  /**
   * A check for the monitor (after its PPTP handshake): the node's tunnel is up, its proxy listens,
   * its OpenVPN server runs. Services missing altogether (a restore that failed: its port was taken,
   * say) are brought back first — the monitor holds the node, so nothing else starts or stops it
   * meanwhile — so a node heals as soon as what broke it is fixed.
   */
  monitorCheck(): ServiceCheck {
    return async (node, signal) => {
      const gw = this.gatewayOf(node);
      if (!gw) return { ok: false, outcome: 'services_down', reason: `its gateway ${node.gateway} is not known` };
      const silent = this.silence(gw.name);
      if (silent) return { ok: false, outcome: 'gateway_down', reason: silent.reason, decisive: silent.decisive };
      let c: CheckResult;
      try {
        c = await gw.check(node.id, signal);
      } catch (err) {
        return { ok: false, outcome: 'gateway_unreachable', reason: `gateway ${gw.name} did not answer: ${(err as Error).message}` };
      }
      if (c.ok || c.outcome !== 'services_down' || !isLive(node) || !node.socks || this.closing) return c;
      const r = await this.resume(node, gw);
      if (!r.ok) return { ok: false, outcome: 'services_down', reason: `its services could not be resumed: ${r.reason}` };
      this.o.log.info('node services resumed by the monitor', { node: node.id });
      c = await gw.check(node.id, signal);
      return c;
    };
  }

  // ---- restart and shutdown ----

  /**
   * Brings back the services of every online and offline node after a restart, with the same ports,
   * credentials and profiles: what a gateway does not list is started again with `keep`.
   */
  restore(): Promise<RestoreSummary> {
    this.restoring ??= this.doRestore();
    return this.restoring;
  }

  private async doRestore(): Promise<RestoreSummary> {
    await this.init();
    return restoreLiveNodes({
      store: this.o.store,
      leases: this.o.leases,
      log: this.o.log,
      gateways: this.reachable(),
      gatewayOf: (n) => this.gatewayOf(n),
      resume: (n, gw) => this.resume(n, gw),
      restorable: (n): n is FleetNode => n !== undefined && isLive(n) && n.socks !== null,
      closing: () => this.closing,
      refusal: this.tunnelRefusal('start'),
      concurrency: this.o.restoreConcurrency ?? 4,
    });
  }

  /**
   * A remote gateway that came back (or spoke for the first time since the bot started): what it
   * does not run of its nodes is started again there as it was. The monitor then brings them online.
   */
  async restoreGateway(name: string): Promise<RestoreSummary> {
    await this.init();
    const gw = this.port(name);
    if (!gw || this.closing) return { restored: 0, tunnelDown: 0, failed: [], busy: 0, ms: 0 };
    this.trust.forget(name);
    return restoreLiveNodes({
      store: this.o.store,
      leases: this.o.leases,
      log: this.o.log,
      gateways: [gw],
      gatewayOf: (n) => this.gatewayOf(n),
      resume: (n, g) => this.resume(n, g),
      restorable: (n): n is FleetNode => n !== undefined && isLive(n) && n.socks !== null,
      closing: () => this.closing,
      refusal: null,
      concurrency: this.o.restoreConcurrency ?? 4,
      only: name,
    });
  }

  /** Starts a live node's services again as they were (same ports, credentials, profile). */
  private async resume(node: FleetNode, gw: GatewayPort): Promise<StartResult> {
    const s = node.socks!;
    const serial = liveSerial(node);
    const ovpnPort = serial ? (node.ovpn?.port ?? null) : null;
    await this.trust.ensure(gw);
    const r = await gw.start({ node: nodeTarget(node), ovpn: ovpnPort !== null, keep: { socks: s, ovpnPort }, tunnelOpenTimeoutMs: this.o.tunnelOpenTimeoutMs });
    if (!r.ok) return r;
    if (serial) this.serials.set(node.id, serial);
    // The public host may have been configured since (what `secrets` shows), and older records name no gateway.
    const patch: NodePatch = {};
    if (r.services.socks.host !== s.host) patch.socks = { ...s, host: r.services.socks.host };
    if (node.gateway !== gw.name) patch.gateway = gw.name;
    if (Object.keys(patch).length) this.o.store.patchNode(node.id, patch);
    return r;
  }

  /** Shutdown: the local gateway's services go down; nothing is revoked, nothing forgotten. */
  async close(): Promise<void> {
    this.closing = true;
    await this.restoring?.catch(() => {});
    for (const gw of this.gateways.values()) await gw.close?.();
  }

  // ---- bundles ----

  node(id: string): FleetNode | undefined {
    return this.o.store.get(id);
  }

  /** Those of these nodes that are online now (what a start job leaves in its bundle). */
  onlineNodes(ids: readonly string[]): FleetNode[] {
    return ids.map((id) => this.o.store.get(id)).filter((n): n is FleetNode => n?.status === 'online');
  }

  /** The bundle of these nodes, as a value (nodes without services are listed in `skipped`). */
  async bundle(nodes: readonly FleetNode[]): Promise<BundleValue> {
    await this.init();
    const described = new Map<string, Promise<GatewayDescription>>();
    return buildBundleValue(
      nodes,
      (n) => {
        const gw = this.gatewayOf(n);
        if (!gw) return Promise.resolve(null);
        if (!described.has(gw.name)) described.set(gw.name, this.described(gw));
        return described.get(gw.name)!;
      },
      this.o.pki,
    );
  }

  // ---- internals ----

  /**
   * First use: OpenVPN ports move from allocations.json into the records (once), the ports of live
   * nodes are set aside on their gateways before anything new is allocated, and certificates no
   * node names are revoked.
   */
  private init(): Promise<void> {
    this.initP ??= (async () => {
      await migrateOvpnAllocations(this.o.dataDir, this.o.store, this.o.log);
      const claims = new Map<Reserving, Array<{ nodeId: string; socksPort: number; ovpnPort: number | null }>>();
      for (const n of this.o.store.nodes()) {
        const gw = n.socks ? this.gatewayOf(n) : undefined;
        if (!gw?.reserve) continue;
        if (!claims.has(gw)) claims.set(gw, []);
        claims.get(gw)!.push({ nodeId: n.id, socksPort: n.socks!.port, ovpnPort: n.ovpn?.port ?? null });
      }
      for (const [gw, list] of claims) gw.reserve!(list);
      const named = new Set(this.o.store.nodes().flatMap((n) => liveSerial(n) ?? []));
      await this.certificates.revokeOrphans(named);
    })();
    return this.initP;
  }
}
