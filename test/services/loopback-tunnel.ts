/**
 * TEST ONLY. A TunnelDriver without PPP: each open() hands out a fresh loopback address
 * (127.77.X.Y) as the node's "egress", so a proxy bound to it is visibly distinct from a direct
 * connection (127.0.0.1) — enough for the gateway's node-services logic on any host, without root.
 * The real path (a veth in a network namespace, routed by policy) is in test/lab/veth-tunnel.ts.
 */
import type { OpenOptions, OpenResult, Tunnel, TunnelClosed, TunnelDriver, TunnelFailureKind, TunnelTarget } from '../../src/probes/tunnel/types.ts';

export class LoopbackTunnelDriver implements TunnelDriver {
  readonly name = 'loopback-test';
  private next = 1;
  /** login -> failure the next opens report */
  readonly failures = new Map<string, { kind: TunnelFailureKind; reason: string }>();
  /** target ip -> its open tunnels' drop switches */
  private readonly live = new Map<string, Array<(why: TunnelClosed) => void>>();
  opens = 0;

  async open(target: TunnelTarget, o: OpenOptions): Promise<OpenResult> {
    this.opens++;
    if (o.signal?.aborted) return { ok: false, kind: 'cancelled', reason: 'cancelled', elapsedMs: 0 };
    const f = this.failures.get(target.login);
    if (f) return { ok: false, kind: f.kind, reason: f.reason, elapsedMs: 1 };
    const n = this.next++;
    const localAddress = `127.77.${Math.floor(n / 250)}.${(n % 250) + 1}`;
    let finish!: (c: TunnelClosed) => void;
    const closed = new Promise<TunnelClosed>((resolve) => (finish = resolve));
    let done = false;
    const end = (c: TunnelClosed) => {
      if (done) return;
      done = true;
      const list = (this.live.get(target.ip) ?? []).filter((x) => x !== end);
      this.live.set(target.ip, list);
      finish(c);
    };
    this.live.set(target.ip, [...(this.live.get(target.ip) ?? []), end]);
    const tunnel: Tunnel = { iface: 'lo', localAddress, remoteAddress: '127.0.0.1', setupMs: 1, closed, close: async () => end({ why: 'closed', exitCode: 0, reason: 'closed' }) };
    return { ok: true, tunnel };
  }

  /** Simulates the server hanging up the tunnels of one node. */
  drop(ip: string): number {
    const list = [...(this.live.get(ip) ?? [])];
    for (const end of list) end({ why: 'dropped', exitCode: 16, reason: 'the tunnel dropped: test' });
    return list.length;
  }

  liveCount(): number {
    return [...this.live.values()].reduce((a, l) => a + l.length, 0);
  }
}
