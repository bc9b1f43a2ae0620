import { describe, expect, it } from 'vitest';
import type { IpRunner } from '../../src/probes/tunnel/routes.ts';
import type { TunnelClosed, TunnelDriver } from '../../src/probes/tunnel/types.ts';
import { guardedDriver, guardOf, TunnelGuard } from '../../src/services/tunnel-guard.ts';

/** Records iptables calls and keeps the rule set they would leave (the commands themselves run in the lab test). */
function fakeIptables(fail: (args: string[]) => boolean = () => false): { run: IpRunner; rules: string[] } {
  const rules: string[] = [];
  const run: IpRunner = async (args) => {
    if (fail(args)) return { ok: false, stdout: '', stderr: 'iptables: boom' };
    const rule = args.slice(2).join(' ');
    if (args[1] === '-I') rules.unshift(rule);
    else if (args[1] === '-C') return rules.includes(rule) ? { ok: true, stdout: '', stderr: '' } : { ok: false, stdout: '', stderr: 'no such rule' };
    else if (args[1] === '-D') {
      const i = rules.indexOf(rule);
      if (i < 0) return { ok: false, stdout: '', stderr: 'no such rule' };
      rules.splice(i, 1);
    }
    return { ok: true, stdout: '', stderr: '' };
  };
  return { run, rules };
}

describe('TunnelGuard', () => {
  it('drops what is not a reply, in INPUT and FORWARD, and forwards only to OpenVPN devices', async () => {
    const ipt = fakeIptables();
    const g = new TunnelGuard(ipt.run);
    await g.install('ppp0');
    expect(ipt.rules.sort()).toEqual(
      [
        'FORWARD -i ppp0 ! -o cxo+ -m comment --comment connexa-guard:ppp0 -j DROP',
        'FORWARD -i ppp0 -m conntrack ! --ctstate ESTABLISHED,RELATED -m comment --comment connexa-guard:ppp0 -j DROP',
        'INPUT -i ppp0 -m conntrack ! --ctstate ESTABLISHED,RELATED -m comment --comment connexa-guard:ppp0 -j DROP',
      ].sort(),
    );
  });

  it('keeps the rules of a reused interface name until its last tunnel is gone', async () => {
    const ipt = fakeIptables();
    const g = new TunnelGuard(ipt.run);
    await g.install('ppp3'); // node A
    await g.install('ppp3'); // node B got the same name before A's removal ran
    await g.remove('ppp3'); // A's tunnel is gone
    expect(ipt.rules).toHaveLength(3);
    expect(g.isGuarded('ppp3')).toBe(true);
    await g.remove('ppp3');
    expect(ipt.rules).toHaveLength(0);
  });

  it('rejects (and leaves nothing) when iptables fails, so the tunnel is not used', async () => {
    const ipt = fakeIptables((a) => a[1] === '-I' && a[2] === 'FORWARD');
    const g = new TunnelGuard(ipt.run);
    await expect(g.install('ppp1')).rejects.toThrow(/could not guard ppp1: iptables: boom/);
    expect(ipt.rules).toHaveLength(0);
    expect(g.isGuarded('ppp1')).toBe(false);
  });

  it('a guarded driver hands out a tunnel only once it is guarded, and unguards it when it is down', async () => {
    let closedCount = 0;
    const bare: TunnelDriver = {
      name: 'fake',
      async open() {
        let end!: (c: TunnelClosed) => void;
        const closed = new Promise<TunnelClosed>((r) => (end = r));
        return { ok: true, tunnel: { iface: 'ppp5', localAddress: '10.0.0.1', remoteAddress: '10.0.0.2', setupMs: 1, closed, close: async () => { closedCount++; end({ why: 'closed', exitCode: 0, reason: 'closed' }); } } };
      },
    };
    const ipt = fakeIptables();
    const guard = new TunnelGuard(ipt.run);
    const d = guardedDriver(bare, guard);
    expect(guardOf(d)).toBe(guard);
    expect(guardedDriver(d, new TunnelGuard(ipt.run))).toBe(d); // never guarded twice
    const r = await d.open({ ip: '203.0.113.1', port: 1723, login: 'a', password: 'b' }, { timeoutMs: 1000 });
    expect(r.ok && ipt.rules.length).toBe(3);
    if (r.ok) await r.tunnel.close();
    await guard.idle();
    expect(ipt.rules).toHaveLength(0);

    const failing = guardedDriver(bare, new TunnelGuard(fakeIptables(() => true).run));
    expect(await failing.open({ ip: '203.0.113.1', port: 1723, login: 'a', password: 'b' }, { timeoutMs: 1000 })).toMatchObject({ ok: false, kind: 'local_error' });
    expect(closedCount).toBe(2); // the unguarded tunnel was closed, not handed out
  });
});
