/**
 * What a node's PPTP server may send into this host through its tunnel: only replies. The rules live
 * in Connexa's nftables table (node-firewall.ts); a tunnel is guarded by putting its interface in the
 * table's `guarded` set:
 *
 *   INPUT    from a guarded tunnel, conntrack not ESTABLISHED/RELATED  -> drop  (no connection to this host)
 *   FORWARD  from a guarded tunnel, conntrack not ESTABLISHED/RELATED  -> drop  (no connection through it)
 *   FORWARD  from a guarded tunnel, out anything but an OpenVPN device -> drop  (nowhere but the VPN clients)
 *
 * The node is someone else's machine: without these, once ip_forward is on (the OpenVPN side needs
 * it) the server at the far end of the tunnel could reach this host's services and, through it,
 * anything this host can route to. Replies to the VPN clients pass: conntrack ties them to a
 * connection a client of this node opened (a client subnet only leaves by its own node's tunnel, see
 * ovpn/routing.ts).
 *
 * Interface names are reused (ppp0 again after a drop, maybe by another node): uses are counted per
 * name, so removing a dead tunnel's element never unguards a live one.
 */
import type { OpenOptions, OpenResult, TunnelDriver, TunnelTarget } from '../probes/tunnel/types.ts';
import type { NodeFirewall } from './node-firewall.ts';

export class TunnelGuardError extends Error {}

export class TunnelGuard {
  /** The table the guard's set lives in; the OpenVPN routing of the same host shares it. */
  readonly firewall: NodeFirewall;
  private readonly counts = new Map<string, number>();
  /** The add of each guarded name: a second user of the name waits for it too. */
  private readonly added = new Map<string, Promise<void>>();

  constructor(firewall: NodeFirewall) {
    this.firewall = firewall;
  }

  /** Rules in force for `iface` (for tests and status). */
  isGuarded(iface: string): boolean {
    return (this.counts.get(iface) ?? 0) > 0;
  }

  /** Guards `iface` (once per name, however many tunnels use it). Rejects if it cannot. */
  async install(iface: string): Promise<void> {
    // Loopback carries nothing from a remote peer (and the unit tests' fake tunnels use it).
    if (iface === 'lo') return;
    const n = this.counts.get(iface) ?? 0;
    this.counts.set(iface, n + 1);
    if (n === 0) this.added.set(iface, this.firewall.addGuarded(iface));
    try {
      await this.added.get(iface);
    } catch (err) {
      this.release(iface);
      throw new TunnelGuardError(`could not guard ${iface}: ${(err as Error).message}`);
    }
  }

  /** Drops one use of `iface`; the guard goes with the last. Never rejects. */
  async remove(iface: string): Promise<void> {
    if (iface === 'lo') return;
    if (this.release(iface)) await this.firewall.removeGuarded(iface).catch(() => {});
  }

  /** Resolves once every change asked so far is done (a stop or shutdown waits for its rules to go). */
  idle(): Promise<void> {
    return this.firewall.idle();
  }

  /** One use less; true when it was the last. */
  private release(iface: string): boolean {
    const n = this.counts.get(iface) ?? 0;
    if (n > 1) {
      this.counts.set(iface, n - 1);
      return false;
    }
    this.counts.delete(iface);
    this.added.delete(iface);
    return n === 1;
  }
}

const GUARD = Symbol('connexa.tunnelGuard');

/** The guard of a guarded driver, else null (one guard per driver: two would strip each other's rules). */
export function guardOf(driver: TunnelDriver): TunnelGuard | null {
  return (driver as { [GUARD]?: TunnelGuard })[GUARD] ?? null;
}

/**
 * The driver, with every tunnel guarded before it is handed out (speed tests and node services
 * alike) and unguarded once it is down. A tunnel that cannot be guarded is closed: local_error.
 */
export function guardedDriver(driver: TunnelDriver, guard: TunnelGuard): TunnelDriver {
  if (guardOf(driver)) return driver;
  return {
    name: driver.name,
    [GUARD]: guard,
    async open(target: TunnelTarget, opts: OpenOptions): Promise<OpenResult> {
      const r = await driver.open(target, opts);
      if (!r.ok) return r;
      try {
        await guard.install(r.tunnel.iface);
      } catch (err) {
        await r.tunnel.close();
        return { ok: false, kind: 'local_error', reason: (err as Error).message, elapsedMs: r.tunnel.setupMs };
      }
      void r.tunnel.closed.then(() => guard.remove(r.tunnel.iface));
      return r;
    },
  } as TunnelDriver;
}
