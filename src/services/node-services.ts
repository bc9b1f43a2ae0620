/**
 * One node's services on the host that runs them: its tunnel (kept open by a TunnelKeeper), its
 * SOCKS5 proxy leaving through that tunnel, and its OpenVPN server routed into it. Started new (new
 * ports, new credentials) or with `keep` (the same port and credentials after a restart), checked
 * for the monitor, and closed. The ports come from the host's pools (gateway-host.ts); nothing here
 * knows the store, the PKI or other nodes.
 */
import type { CheckResult, NodeTarget, RunningNode, StartRequest, StartResult } from '../gateway/port.ts';
import type { Logger } from '../log.ts';
import { HOST_SIDE_FAILURES, type OpenResult, type Tunnel } from '../probes/tunnel/types.ts';
import type { NodeOvpnServer } from './ovpn/node-server.ts';
import { isAddrInUse, NoFreePort, udpPortFree, type PortPool } from './ports.ts';
import { newSocksCredentials, type SocksCredentials } from './random.ts';
import type { SocksProxy } from './socks/server.ts';
import { TunnelKeeper, type Backoff } from './tunnel-keeper.ts';

export interface NodeServicesDeps {
  /** Opens the node's tunnel (host_not_capable when this host has no driver). */
  openTunnel(node: NodeTarget, timeoutMs: number, signal?: AbortSignal): Promise<OpenResult>;
  /** A proxy (not yet listening) whose egress is the node's tunnel address. */
  newProxy(nodeId: string, port: number, credentials: SocksCredentials, egress: () => string | null): SocksProxy;
  /** The node's OpenVPN server (not yet started), or null when this host cannot run one. */
  newOvpnServer(node: NodeTarget, port: number): Promise<NodeOvpnServer | null>;
  /** Whether this host runs OpenVPN servers at all (a missing one is then a failure of the node). */
  ovpnCapable(): boolean;
  ports: { socks: PortPool; ovpn: PortPool };
  /** Where clients reach the proxies (the host's public name, SOCKS_PUBLIC_HOST). */
  publicSocksHost(): string;
  log: Logger;
  backoff?: Backoff;
}

type Failure = Extract<StartResult, { ok: false }>;
const fail = (outcome: string, reason: string, hostSide: boolean): Failure => ({ ok: false, outcome, reason, hostSide });

export class NodeServices {
  readonly nodeId: string;
  private readonly keeper: TunnelKeeper;
  private socks: SocksProxy | null = null;
  private ovpn: NodeOvpnServer | null = null;
  /** Whether an OpenVPN server was asked for (the monitor reports one that is not running). */
  private ovpnWanted = false;
  private ovpnPort: number | null = null;

  private readonly deps: NodeServicesDeps;
  private constructor(node: NodeTarget, timeoutMs: number, deps: NodeServicesDeps) {
    this.nodeId = node.id;
    this.deps = deps;
    this.keeper = new TunnelKeeper(
      (signal) => deps.openTunnel(node, timeoutMs, signal),
      {
        up: async (t: Tunnel) => {
          await this.ovpn?.attach(t);
        },
        down: async () => {
          // Relays through the vanished tunnel are dead; close them now rather than at the idle timeout.
          this.socks?.cutSessions();
          await this.ovpn?.detach();
        },
      },
      deps.log,
      { node: node.id },
      deps.backoff,
    );
  }

  /** Starts the node's services; on failure nothing is left running and no port stays allocated. */
  static async start(req: StartRequest, deps: NodeServicesDeps, signal?: AbortSignal): Promise<{ ok: true; services: NodeServices; result: StartResult & { ok: true } } | Failure> {
    const t0 = Date.now();
    const s = new NodeServices(req.node, req.tunnelOpenTimeoutMs, deps);
    const r = req.keep ? await s.startKept(req, req.keep) : await s.startNew(req, signal);
    if (!r.ok) return r;
    const t = s.keeper.tunnel;
    const services = {
      socks: { host: deps.publicSocksHost(), port: s.socks!.port, login: r.socks.login, password: r.socks.password },
      ovpnPort: s.ovpnPort,
      ovpnServer: s.ovpn !== null,
      tunnel: t ? { iface: t.iface, localAddress: t.localAddress, setupMs: t.setupMs } : null,
      startMs: Date.now() - t0,
    };
    return { ok: true, services: s, result: { ok: true, services } };
  }

  private async startNew(req: StartRequest, signal?: AbortSignal): Promise<Failure | { ok: true; socks: SocksCredentials }> {
    const opened = await this.keeper.openOnce(signal);
    if (!opened.ok) {
      await this.keeper.close();
      return fail(opened.kind, `tunnel: ${opened.reason}`, HOST_SIDE_FAILURES.has(opened.kind));
    }
    const { socks: socksPool, ovpn: ovpnPool } = this.deps.ports;
    let step = 'socks';
    try {
      const creds = newSocksCredentials();
      const got = await socksPool.allocate(this.nodeId, async (port) => {
        const p = this.deps.newProxy(this.nodeId, port, creds, () => this.keeper.tunnel?.localAddress ?? null);
        try {
          await p.listen();
          return p;
        } catch (err) {
          if (isAddrInUse(err)) return false;
          throw err;
        }
      });
      this.socks = got.value;
      if (req.ovpn) {
        this.ovpnWanted = true;
        // OpenVPN binds the port itself; a quick probe skips ports another program holds.
        this.ovpnPort = (await ovpnPool.allocate(this.nodeId, async (port) => (await udpPortFree(port)) || false)).port;
        step = 'ovpn';
        this.ovpn = await this.deps.newOvpnServer(req.node, this.ovpnPort);
        await this.ovpn?.start();
        if (this.ovpn) await this.ovpn.attach(opened.tunnel);
      }
      if (signal?.aborted) {
        await this.close();
        return fail('cancelled', 'cancelled while the services were starting', true);
      }
      return { ok: true, socks: creds };
    } catch (err) {
      await this.close();
      if (err instanceof NoFreePort) return fail('no_free_port', err.message, true);
      return fail(step === 'ovpn' ? 'ovpn_failed' : 'local_error', (err as Error).message, true);
    }
  }

  /**
   * The same port and credentials as before. A tunnel that does not open still gets its listeners
   * (they answer "network unreachable") and is retried in the background, unless the host cannot
   * open tunnels at all (retrying cannot help).
   */
  private async startKept(req: StartRequest, keep: NonNullable<StartRequest['keep']>): Promise<Failure | { ok: true; socks: SocksCredentials }> {
    const opened = await this.keeper.openOnce();
    const { socks: socksPool, ovpn: ovpnPool } = this.deps.ports;
    const port = keep.socks.port;
    const holder = socksPool.ownerOf(port);
    const proxy = this.deps.newProxy(this.nodeId, port, { login: keep.socks.login, password: keep.socks.password }, () => this.keeper.tunnel?.localAddress ?? null);
    try {
      if (holder !== undefined && holder !== this.nodeId) throw new Error(`it is allocated to node ${holder}`);
      await proxy.listen();
    } catch (err) {
      await this.keeper.close();
      return fail('socks_failed', `SOCKS port ${port} cannot be bound: ${(err as Error).message}`, true);
    }
    socksPool.claim(port, this.nodeId);
    this.socks = proxy;
    if (req.ovpn && keep.ovpnPort !== null) {
      this.ovpnWanted = true;
      this.ovpnPort = keep.ovpnPort;
      ovpnPool.claim(keep.ovpnPort, this.nodeId);
      try {
        this.ovpn = await this.deps.newOvpnServer(req.node, keep.ovpnPort);
        await this.ovpn?.start();
        if (this.ovpn && opened.ok) await this.ovpn.attach(opened.tunnel);
      } catch (err) {
        this.deps.log.error('the OpenVPN server of a node could not be restored', { node: this.nodeId, port: keep.ovpnPort, error: (err as Error).message });
        await this.ovpn?.stop();
        this.ovpn = null;
      }
    }
    if (!opened.ok && opened.kind !== 'host_not_capable' && opened.kind !== 'cancelled') this.keeper.retryLater();
    return { ok: true, socks: { login: keep.socks.login, password: keep.socks.password } };
  }

  status(): RunningNode {
    const t = this.keeper.tunnel;
    return {
      nodeId: this.nodeId,
      socksPort: this.socks!.port,
      ovpnPort: this.ovpnPort,
      ovpnServer: this.ovpn?.running ?? false,
      tunnel: t ? { iface: t.iface, localAddress: t.localAddress } : null,
      tunnelError: this.keeper.error,
    };
  }

  /** The tunnel is up, the proxy listens, the OpenVPN server runs (where this host runs them). */
  check(): CheckResult {
    if (!this.keeper.tunnel) return { ok: false, outcome: 'tunnel_down', reason: `its tunnel is down${this.keeper.error ? ` (${this.keeper.error})` : ''}; reopening with backoff` };
    if (!this.socks?.isListening) return { ok: false, outcome: 'socks_down', reason: `its SOCKS proxy is not listening on port ${this.socks?.port}` };
    if (this.ovpnWanted && this.deps.ovpnCapable() && !this.ovpn?.running) return { ok: false, outcome: 'ovpn_down', reason: 'its OpenVPN server is not running (restarting)' };
    return { ok: true };
  }

  /** Listeners first (no new work), then the server and its routing, the tunnel last. Idempotent. */
  async close(): Promise<void> {
    await this.socks?.close();
    await this.ovpn?.stop();
    this.ovpn = null;
    await this.keeper.close();
  }
}
