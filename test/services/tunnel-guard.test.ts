import { describe, expect, it } from 'vitest';
import type { IpRunner } from '../../src/probes/tunnel/routes.ts';
import { TunnelGuard } from '../../src/services/tunnel-guard.ts';

/** Records iptables calls and keeps the rule set they would leave (the commands themselves run in the lab test). */
function fakeIptables(fail: (args: string[]) => boolean = () => false): { run: IpRunner; rules: string[] } {
  const rules: string[] = [];
  const run: IpRunner = async (args) => {
    if (fail(args)) return { ok: false, stdout: '', stderr: 'iptables: boom' };
    const rule = args.slice(2).join(' ');
    if (args[1] === '-I') rules.unshift(rule);
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
});
