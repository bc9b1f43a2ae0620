/**
 * TEST ONLY — a TunnelDriver for hosts without kernel PPP. open() builds what a PPTP tunnel gives
 * the services, with a veth pair instead of ppp0:
 *
 *   host  cxvNNNN  10.214.X.1/30  <- the node's "egress" (Tunnel.localAddress)
 *   ns    cxvNNNNp 10.214.X.2/30  <- the "PPTP server" end (Tunnel.remoteAddress), inside the lab
 *                                    namespace that also holds the test's HTTP server
 *   ip rule from 10.214.X.1 lookup T (pref 17723) ; table T: default via 10.214.X.2 dev cxvNNNN
 *
 * which is what the pppd driver sets up for ppp0 (src/probes/tunnel/routes.ts): only traffic
 * bound to the egress address leaves through the "tunnel". drop() deletes the link, as a server
 * hanging up would. Needs root; everything is removed by close()/closeAll().
 */
import { execFileSync } from 'node:child_process';
import type { OpenOptions, OpenResult, Tunnel, TunnelClosed, TunnelDriver, TunnelTarget } from '../../src/probes/tunnel/types.ts';
import { run } from './netns.ts';

const RULE_PREF = 17723;
const TABLE_BASE = 17_600;

interface Live {
  iface: string;
  octet: number;
  end(c: TunnelClosed): void;
}

function usedOctets(): Set<number> {
  const used = new Set<number>();
  const text = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }) + execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (const m of text.matchAll(/10\.214\.(\d{1,3})\./g)) used.add(Number(m[1]));
  return used;
}

export class VethTunnelDriver implements TunnelDriver {
  readonly name = 'veth-test';
  private seq = 0;
  private readonly live = new Map<string, Live[]>();
  /** login -> failure kind the next opens report */
  readonly failures = new Map<string, 'auth_failed' | 'unreachable'>();

  private readonly ns: string;
  constructor(ns: string) {
    this.ns = ns;
  }

  async open(target: TunnelTarget, o: OpenOptions): Promise<OpenResult> {
    const t0 = Date.now();
    if (o.signal?.aborted) return { ok: false, kind: 'cancelled', reason: 'cancelled', elapsedMs: 0 };
    const fail = this.failures.get(target.login);
    if (fail) return { ok: false, kind: fail, reason: `test: ${fail}`, elapsedMs: 1 };
    const n = this.seq++;
    const used = usedOctets();
    let octet = -1;
    for (let i = 0; i < 254; i++) {
      const c = ((process.pid + n * 13 + i) % 254) + 1;
      if (!used.has(c)) {
        octet = c;
        break;
      }
    }
    if (octet < 0) return { ok: false, kind: 'local_error', reason: 'no free 10.214.X.0/30', elapsedMs: 0 };
    const iface = `cxv${process.pid % 100000}${n}`.slice(0, 14);
    const peer = `${iface}p`;
    const local = `10.214.${octet}.1`;
    const remote = `10.214.${octet}.2`;
    const table = String(TABLE_BASE + octet);
    try {
      await run('ip', ['link', 'add', iface, 'type', 'veth', 'peer', 'name', peer]);
      await run('ip', ['link', 'set', peer, 'netns', this.ns]);
      await run('ip', ['addr', 'add', `${local}/30`, 'dev', iface]);
      await run('ip', ['link', 'set', iface, 'up']);
      await run('ip', ['netns', 'exec', this.ns, 'ip', 'addr', 'add', `${remote}/30`, 'dev', peer]);
      await run('ip', ['netns', 'exec', this.ns, 'ip', 'link', 'set', peer, 'up']);
      await run('ip', ['-4', 'route', 'replace', 'default', 'via', remote, 'dev', iface, 'table', table]);
      await run('ip', ['-4', 'rule', 'add', 'from', `${local}/32`, 'table', table, 'pref', String(RULE_PREF)]);
    } catch (err) {
      await this.remove(iface, local, table);
      return { ok: false, kind: 'local_error', reason: (err as Error).message, elapsedMs: Date.now() - t0 };
    }
    let finish!: (c: TunnelClosed) => void;
    const closed = new Promise<TunnelClosed>((resolve) => (finish = resolve));
    let done = false;
    const entry: Live = {
      iface,
      octet,
      end: (c) => {
        if (done) return;
        done = true;
        this.live.set(target.ip, (this.live.get(target.ip) ?? []).filter((l) => l !== entry));
        finish(c);
      },
    };
    this.live.set(target.ip, [...(this.live.get(target.ip) ?? []), entry]);
    const tunnel: Tunnel = {
      iface,
      localAddress: local,
      remoteAddress: remote,
      setupMs: Date.now() - t0,
      closed,
      close: async () => {
        if (done) return;
        await this.remove(iface, local, table);
        entry.end({ why: 'closed', exitCode: 0, reason: 'closed' });
      },
    };
    return { ok: true, tunnel };
  }

  private async remove(iface: string, local: string, table: string): Promise<void> {
    await run('ip', ['-4', 'rule', 'del', 'from', `${local}/32`, 'table', table, 'pref', String(RULE_PREF)]).catch(() => {});
    await run('ip', ['-4', 'route', 'flush', 'table', table]).catch(() => {});
    await run('ip', ['link', 'del', iface]).catch(() => {});
  }

  /** The "server" hangs up every tunnel of the node at `ip`. */
  async drop(ip: string): Promise<number> {
    const list = [...(this.live.get(ip) ?? [])];
    for (const l of list) {
      await this.remove(l.iface, `10.214.${l.octet}.1`, String(TABLE_BASE + l.octet));
      l.end({ why: 'dropped', exitCode: 16, reason: 'the tunnel dropped: test' });
    }
    return list.length;
  }

  /** The live tunnel of the node at `ip` (its interface, for byte counters). */
  ifaceOf(ip: string): string | null {
    return this.live.get(ip)?.at(-1)?.iface ?? null;
  }

  liveCount(): number {
    return [...this.live.values()].reduce((a, l) => a + l.length, 0);
  }

  async closeAll(): Promise<void> {
    for (const list of [...this.live.values()]) for (const l of [...list]) {
      await this.remove(l.iface, `10.214.${l.octet}.1`, String(TABLE_BASE + l.octet));
      l.end({ why: 'closed', exitCode: 0, reason: 'closed' });
    }
  }
}
