import { describe, expect, it } from 'vitest';
import { eventually } from '../kit/wait.ts';
import type { TunnelClosed, TunnelDriver } from '../../src/probes/tunnel/types.ts';
import { NodeFirewall, type NftRunner } from '../../src/services/node-firewall.ts';
import { guardedDriver, guardOf, TunnelGuard } from '../../src/services/tunnel-guard.ts';

/**
 * Plays nft for the element lines NodeFirewall writes, keeping each set's elements (the real table is
 * exercised in test/lab/tunnel-guard.test.ts); a failing script changes nothing, as in the kernel.
 */
function fakeNft(fail: (script: string) => boolean = () => false): { run: NftRunner; guarded: Set<string>; scripts: string[] } {
  const guarded = new Set<string>();
  const scripts: string[] = [];
  const run: NftRunner = async (script) => {
    scripts.push(script);
    if (fail(script)) return { ok: false, stderr: 'Error: boom' };
    for (const m of script.matchAll(/^(add|delete) element inet connexa guarded \{ "([^"]+)" \}$/gm)) {
      if (m[1] === 'add') guarded.add(m[2]!);
      else guarded.delete(m[2]!);
    }
    return { ok: true, stderr: '' };
  };
  return { run, guarded, scripts };
}

describe('TunnelGuard', () => {
  it('puts the tunnel in the guarded set of a table that drops what is not a reply and forwards only to OpenVPN devices', async () => {
    const nft = fakeNft();
    const g = new TunnelGuard(new NodeFirewall(nft.run));
    await g.install('ppp0');
    expect([...nft.guarded]).toEqual(['ppp0']);
    expect(nft.scripts[0]).toContain('iifname @guarded ct state != { established, related } drop');
    expect(nft.scripts[0]).toContain('iifname @guarded oifname != "cxo*" drop');
  });

  it('keeps the rules of a reused interface name until its last tunnel is gone', async () => {
    const nft = fakeNft();
    const g = new TunnelGuard(new NodeFirewall(nft.run));
    await g.install('ppp3'); // node A
    await g.install('ppp3'); // node B got the same name before A's removal ran
    await g.remove('ppp3'); // A's tunnel is gone
    await g.idle();
    expect([...nft.guarded]).toEqual(['ppp3']);
    expect(g.isGuarded('ppp3')).toBe(true);
    await g.remove('ppp3');
    await g.idle();
    expect(nft.guarded.size).toBe(0);
  });

  it('rejects (and leaves nothing) when nft fails, so the tunnel is not used', async () => {
    const nft = fakeNft((script) => script.includes('"ppp1"'));
    const g = new TunnelGuard(new NodeFirewall(nft.run));
    await expect(g.install('ppp1')).rejects.toThrow(/could not guard ppp1: nft: Error: boom/);
    expect(nft.guarded.size).toBe(0);
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
    const nft = fakeNft();
    const guard = new TunnelGuard(new NodeFirewall(nft.run));
    const d = guardedDriver(bare, guard);
    expect(guardOf(d)).toBe(guard);
    expect(guardedDriver(d, new TunnelGuard(new NodeFirewall(nft.run)))).toBe(d); // never guarded twice
    const r = await d.open({ ip: '203.0.113.1', port: 1723, login: 'a', password: 'b' }, { timeoutMs: 1000 });
    expect(r.ok && [...nft.guarded]).toEqual(['ppp5']);
    if (r.ok) await r.tunnel.close();
    await eventually(() => expect(nft.guarded.size).toBe(0));

    const failing = guardedDriver(bare, new TunnelGuard(new NodeFirewall(fakeNft(() => true).run)));
    expect(await failing.open({ ip: '203.0.113.1', port: 1723, login: 'a', password: 'b' }, { timeoutMs: 1000 })).toMatchObject({ ok: false, kind: 'local_error' });
    expect(closedCount).toBe(2); // the unguarded tunnel was closed, not handed out
  });
});
