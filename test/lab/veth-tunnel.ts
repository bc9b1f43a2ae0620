/**
 * TEST ONLY — a TunnelDriver for hosts without kernel PPP. open() builds what a PPTP tunnel gives
 * the services, with a veth pair instead of ppp0:
 *
 *   here  cxvNNNN  10.B.X.Y+1/30  <- the node's "egress" (Tunnel.localAddress)
 *   ns    cxvNNNNp 10.B.X.Y+2/30  <- the "PPTP server" end (Tunnel.remoteAddress), inside the lab
 *                                    namespace that also holds the test's HTTP server
 *   ip rule from 10.B.X.Y+1 lookup T (pref 17723) ; table T: default via 10.B.X.Y+2 dev cxvNNNN
 *
 * which is what the pppd driver sets up for ppp0 (src/probes/tunnel/routes.ts): only traffic
 * bound to the egress address leaves through the "tunnel". B is 214 unless given: gateways in their
 * own namespaces that share one web namespace each take their own B, so their /30s never collide
 * there; each B holds 16,383 tunnels. drop() deletes the link, as a server hanging up would. Needs
 * root; everything is removed by close()/closeAll(). "here" is the namespace this process runs in.
 */
import { execFileSync } from 'node:child_process';
import type { OpenOptions, OpenResult, Tunnel, TunnelClosed, TunnelDriver, TunnelTarget } from '../../src/probes/tunnel/types.ts';
import { run } from './netns.ts';

const RULE_PREF = 17723;
// Far from the pppd driver's 17000 + unit and the OpenVPN subnets' 270000 + port.
const TABLE_BASE = 40_000;

interface Live {
  iface: string;
  slot: number;
  end(c: TunnelClosed): void;
}

/**
 * /30 number `slot` of 10.B.0.0/16: its first (egress) and second (peer) addresses. Slots 1-254 are
 * 10.B.slot.0/30 (the addresses single-namespace tests have always used); later ones take the next
 * /30 of each /24 in turn.
 */
const SLOTS = 16_383;
function slotAddresses(block: number, slot: number): { local: string; remote: string } {
  const x = slot % 256;
  const y = Math.floor(slot / 256) * 4;
  return { local: `10.${block}.${x}.${y + 1}`, remote: `10.${block}.${x}.${y + 2}` };
}

/** Slots of 10.B.0.0/16 some address or route here already uses (another test, a leftover). */
function usedSlots(block: number): Set<number> {
  const used = new Set<number>();
  const text = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }) + execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (const m of text.matchAll(new RegExp(`10\\.${block}\\.(\\d{1,3})\\.(\\d{1,3})`, 'g'))) used.add(Math.floor(Number(m[2]) / 4) * 256 + Number(m[1]));
  return used;
}

export class VethTunnelDriver implements TunnelDriver {
  readonly name = 'veth-test';
  private seq = 0;
  private readonly taken = new Set<number>();
  private readonly live = new Map<string, Live[]>();
  /** login -> failure kind the next opens report */
  readonly failures = new Map<string, 'auth_failed' | 'unreachable'>();

  private readonly ns: string;
  private readonly block: number;
  constructor(ns: string, opts: { block?: number } = {}) {
    this.ns = ns;
    this.block = opts.block ?? 214;
  }

  async open(target: TunnelTarget, o: OpenOptions): Promise<OpenResult> {
    const t0 = Date.now();
    if (o.signal?.aborted) return { ok: false, kind: 'cancelled', reason: 'cancelled', elapsedMs: 0 };
    const fail = this.failures.get(target.login);
    if (fail) return { ok: false, kind: fail, reason: `test: ${fail}`, elapsedMs: 1 };
    const n = this.seq++;
    const used = usedSlots(this.block);
    let slot = -1;
    for (let i = 0; i < SLOTS; i++) {
      // The first 254 tried are 10.B.1-254.0/30, spread by pid as they always were; then the rest.
      const c = i < 254 ? ((process.pid + n * 13 + i) % 254) + 1 : i + 1;
      if (!used.has(c) && !this.taken.has(c)) {
        slot = c;
        break;
      }
    }
    if (slot < 0) return { ok: false, kind: 'local_error', reason: `no free /30 in 10.${this.block}.0.0/16`, elapsedMs: 0 };
    // Reserved before the first await: tunnels opened concurrently never pick the same /30.
    this.taken.add(slot);
    const iface = `cxv${process.pid % 100000}${n}`.slice(0, 14);
    const peer = `${iface}p`;
    const { local, remote } = slotAddresses(this.block, slot);
    const table = String(TABLE_BASE + slot);
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
      this.taken.delete(slot);
      return { ok: false, kind: 'local_error', reason: (err as Error).message, elapsedMs: Date.now() - t0 };
    }
    let finish!: (c: TunnelClosed) => void;
    const closed = new Promise<TunnelClosed>((resolve) => (finish = resolve));
    let done = false;
    const entry: Live = {
      iface,
      slot,
      end: (c) => {
        if (done) return;
        done = true;
        this.taken.delete(slot);
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
      await this.remove(l.iface, slotAddresses(this.block, l.slot).local, String(TABLE_BASE + l.slot));
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
      await this.remove(l.iface, slotAddresses(this.block, l.slot).local, String(TABLE_BASE + l.slot));
      l.end({ why: 'closed', exitCode: 0, reason: 'closed' });
    }
  }
}
