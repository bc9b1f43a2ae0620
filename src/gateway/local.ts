/**
 * The local gateway: the bot's own host serves nodes in this process (the default; no Redis). A thin
 * GatewayPort over a GatewayHost (what runs), the host's capability, and the speed test and PPTP
 * handshake run from here.
 */
import { readFileSync } from 'node:fs';
import type { PptpResult } from '../fleet/node.ts';
import type { Locate } from '../geo/location.ts';
import type { StageOutcome } from '../pipeline/stage.ts';
import { probePolicy } from '../probes/pptp/policy.ts';
import { probePptp, toStoredPptp } from '../probes/pptp/probe.ts';
import path from 'node:path';
import type { Logger } from '../log.ts';
import type { Capability, TunnelDriver } from '../probes/tunnel/types.ts';
import { GatewayHost, type GatewayHostConfig, type GatewayHostOptions } from '../services/gateway-host.ts';
import { HostCapability } from '../services/host-capability.ts';
import type { OvpnHost } from '../services/ovpn/capability.ts';
import type { Pki } from '../services/ovpn/pki.ts';
import { lazyPki, pkiMaterial, publicCrlPath } from '../services/ovpn/pki-material.ts';
import { measureNodeSpeed } from '../services/speed-test.ts';
import type { CheckResult, GatewayDescription, GatewayPort, HandshakeRequest, RunningNode, ServerMaterial, ServerTrust, SpeedRequest, StartRequest, StartResult } from './port.ts';
import { LOCAL_GATEWAY } from './port.ts';

/** The tunnel driver speed tests use on this host, and whether the host can open tunnels (tests swap them). */
export interface TunnelRuntime {
  driver: TunnelDriver | null;
  capability(): Capability;
}

export interface LocalGatewayOptions {
  name?: string;
  host: GatewayHost;
  capability: HostCapability;
  /** The tunnel driver speed tests use (compose's, guarded) and the host check. */
  tunnels: TunnelRuntime;
  /** The material its OpenVPN servers read (the bot's PKI); `trust` installs into it. */
  material: () => Promise<ServerMaterial>;
  /** Locates a speed test's exit address (default: the local IP database). */
  locate?: Locate;
}

export interface LocalGatewaySetup {
  config: GatewayHostConfig & { dataDir: string; TUNNEL_DRIVER: 'pppd' | 'none' };
  log: Logger;
  tunnels: TunnelRuntime;
  name?: string;
  /** Default: checkOvpnHost(). */
  ovpnHost?: () => OvpnHost;
  /** Where the world-readable CRL copy lives for servers that drop root. Default /run/connexa. */
  publicCrlDir?: string;
  /** Proxy limits, backoff, destinations ... (tests). */
  host?: Partial<Omit<GatewayHostOptions, 'config' | 'dir' | 'capability' | 'driver' | 'material' | 'log'>>;
  locate?: Locate;
  /** A remote gateway's own material (its key, the certificate the bot signed); default: the bot's PKI. */
  material?: ServerMaterial;
}

/**
 * The bot's own host as a gateway, with the PKI it shares with the bot side: DATA_DIR/pki is both
 * where client certificates are issued (gateway/control.ts) and what the servers here read.
 */
export function createLocalGateway(s: LocalGatewaySetup): { gateway: LocalGateway; pki: () => Promise<Pki> } {
  let gateway: LocalGateway | null = null;
  // Read through the gateway: tests swap its tunnel runtime (useTunnels).
  const tunnels = () => gateway?.tunnels ?? s.tunnels;
  const capability = new HostCapability({ TUNNEL_DRIVER: s.config.TUNNEL_DRIVER, hasDriver: () => tunnels().driver !== null, tunnels: () => tunnels().capability(), ovpn: s.ovpnHost });
  const pki = lazyPki(path.join(s.config.dataDir, 'pki'), () => {
    const h = capability.ovpn();
    // Servers that drop root need a CRL they can still read: a copy outside the 0700 DATA_DIR.
    return h.capability.ok && h.runAs ? publicCrlPath(s.config.dataDir, s.publicCrlDir) : null;
  });
  const own = s.material;
  const material = own ? async () => own : async () => pkiMaterial(await pki());
  const host = new GatewayHost({ config: s.config, dir: path.join(s.config.dataDir, 'ovpn'), capability, driver: s.tunnels.driver, material, log: s.log, ...s.host });
  gateway = new LocalGateway({ name: s.name, host, capability, tunnels: s.tunnels, material, locate: s.locate });
  return { gateway, pki };
}

let version: string | null = null;
function connexaVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}

export class LocalGateway implements GatewayPort {
  readonly name: string;
  readonly local = true;
  readonly host: GatewayHost;
  readonly capability: HostCapability;
  tunnels: TunnelRuntime;
  private readonly o: LocalGatewayOptions;
  constructor(o: LocalGatewayOptions) {
    this.o = o;
    this.name = o.name ?? LOCAL_GATEWAY;
    this.host = o.host;
    this.capability = o.capability;
    this.tunnels = o.tunnels;
  }

  /** Replaces the speed tests' tunnel driver and the host check (tests). */
  useTunnels(t: TunnelRuntime): void {
    this.tunnels = t;
  }

  async describe(): Promise<GatewayDescription> {
    const h = this.host.publicHosts();
    const free = this.host.free();
    const total = Math.min(this.host.socksPorts.size, this.host.ovpnPorts.size);
    return {
      name: this.name,
      publicHost: { socks: h.socks, ovpn: h.ovpn },
      warnings: h.warnings,
      tunnels: this.capability.tunnels(),
      ovpn: this.capability.ovpn().capability,
      ports: { socks: this.host.socksPorts.range, ovpn: this.host.ovpnPorts.range },
      capacity: { total, free: Math.min(free.socks, free.ovpn) },
      running: this.host.list().length,
      version: connexaVersion(),
    };
  }

  start(req: StartRequest, signal?: AbortSignal): Promise<StartResult> {
    return this.host.start(req, signal);
  }

  stop(nodeId: string): Promise<void> {
    return this.host.stop(nodeId);
  }

  async check(nodeId: string): Promise<CheckResult> {
    return this.host.check(nodeId);
  }

  async list(): Promise<RunningNode[]> {
    return this.host.list();
  }

  speedTest(req: SpeedRequest, signal?: AbortSignal): Promise<StageOutcome> {
    return measureNodeSpeed(this.tunnels.driver, req, signal, this.o.locate);
  }

  async handshake(req: HandshakeRequest, signal?: AbortSignal): Promise<PptpResult> {
    const r = await probePptp({ host: req.node.ip, port: req.node.port }, { timeoutMs: req.timeoutMs, retries: req.retries, signal, policy: probePolicy(req.probeAllow) });
    return toStoredPptp(r, new Date());
  }

  /** Sets aside the ports of nodes the bot will bring back here, before anything new is allocated. */
  reserve(claims: ReadonlyArray<{ nodeId: string; socksPort: number; ovpnPort: number | null }>): void {
    for (const c of claims) this.host.claim(c.nodeId, c.socksPort, c.ovpnPort);
  }

  /** Shutdown of the bot: every proxy, server and tunnel here goes down. */
  close(): Promise<void> {
    return this.host.close();
  }

  async trust(t: ServerTrust): Promise<void> {
    await (await this.o.material()).install(t);
  }
}
