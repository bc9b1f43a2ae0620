/**
 * What a node's PPTP server may send into this host through its tunnel: only replies.
 *
 *   filter INPUT    -i IFACE, conntrack not ESTABLISHED/RELATED  -> DROP   (no connection to this host)
 *   filter FORWARD  -i IFACE, conntrack not ESTABLISHED/RELATED  -> DROP   (no connection through it)
 *   filter FORWARD  -i IFACE, out anything but an OpenVPN device -> DROP   (nowhere but the VPN clients)
 *
 * The node is someone else's machine: without these, once ip_forward is on (the OpenVPN side needs
 * it) the server at the far end of the tunnel could reach this host's services and, through it,
 * anything this host can route to. Replies to the VPN clients pass: conntrack ties them to a
 * connection a client of this node opened (a client subnet only leaves by its own node's tunnel, see
 * ovpn/routing.ts). The rules only DROP, so their order against the ACCEPT rules of routing.ts does
 * not matter. Each carries the comment `connexa-guard:IFACE`.
 *
 * Interface names are reused (ppp0 again after a drop, maybe by another node): rules are counted per
 * name, and every change is serialised, so removing a dead tunnel's rules never strips a live one.
 */
import type { IpRunner } from '../probes/tunnel/routes.ts';
import type { OpenOptions, OpenResult, TunnelDriver, TunnelTarget } from '../probes/tunnel/types.ts';

export const GUARD_COMMENT_PREFIX = 'connexa-guard:';
/** Every OpenVPN server device is cxo + port (see ovpn/layout.ts). */
const OVPN_DEVICES = 'cxo+';

export class TunnelGuardError extends Error {}

export class TunnelGuard {
  private readonly iptables: IpRunner;
  private readonly counts = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(iptables: IpRunner) {
    this.iptables = iptables;
  }

  /** Rules in force for `iface` (for tests and status). */
  isGuarded(iface: string): boolean {
    return (this.counts.get(iface) ?? 0) > 0;
  }

  /** Installs the rules for `iface` (once per name, however many tunnels use it). Rejects if it cannot. */
  install(iface: string): Promise<void> {
    // Loopback carries nothing from a remote peer (and the unit tests' fake tunnels use it).
    if (iface === 'lo') return Promise.resolve();
    return this.serial(async () => {
      const n = this.counts.get(iface) ?? 0;
      if (n === 0) {
        for (const rule of this.rules(iface)) {
          await this.iptables(['-w', '-D', ...rule]); // a leftover of a crashed run
          const r = await this.iptables(['-w', '-I', ...rule]);
          if (!r.ok) {
            await this.deleteAll(iface);
            throw new TunnelGuardError(`iptables could not guard ${iface}: ${r.stderr}`);
          }
        }
      }
      this.counts.set(iface, n + 1);
    });
  }

  /** Drops one use of `iface`; the rules go with the last. Never rejects. */
  remove(iface: string): Promise<void> {
    if (iface === 'lo') return Promise.resolve();
    return this.serial(async () => {
      const n = this.counts.get(iface) ?? 0;
      if (n > 1) {
        this.counts.set(iface, n - 1);
        return;
      }
      this.counts.delete(iface);
      await this.deleteAll(iface);
    });
  }

  /** Resolves once every change asked so far is done (a stop or shutdown waits for its rules to go). */
  async idle(): Promise<void> {
    await this.queue;
  }

  private async deleteAll(iface: string): Promise<void> {
    for (const rule of this.rules(iface)) {
      // A -D that failed for another reason than "no such rule" (a busy xtables lock past the
      // runner's deadline) is tried again: a leftover would outlive the tunnel.
      for (let i = 0; i < 3; i++) {
        if ((await this.iptables(['-w', '-D', ...rule])).ok) break;
        if (!(await this.iptables(['-w', '-C', ...rule])).ok) break;
      }
    }
  }

  private rules(iface: string): string[][] {
    const c = ['-m', 'comment', '--comment', `${GUARD_COMMENT_PREFIX}${iface}`];
    const notReply = ['-m', 'conntrack', '!', '--ctstate', 'ESTABLISHED,RELATED'];
    return [
      ['INPUT', '-i', iface, ...notReply, ...c, '-j', 'DROP'],
      ['FORWARD', '-i', iface, ...notReply, ...c, '-j', 'DROP'],
      ['FORWARD', '-i', iface, '!', '-o', OVPN_DEVICES, ...c, '-j', 'DROP'],
    ];
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
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
