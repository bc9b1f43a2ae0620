import { describe, expect, it } from 'vitest';
import { FirewallError, NodeFirewall, type NftRunner } from '../../src/services/node-firewall.ts';

/** Records every script; fails those the predicate picks (the kernel then applies nothing of it). */
function recordingNft(fail: (script: string) => boolean = () => false): { run: NftRunner; scripts: string[] } {
  const scripts: string[] = [];
  return {
    scripts,
    run: async (script) => {
      scripts.push(script);
      return fail(script) ? { ok: false, stderr: 'Error: Could not process rule: No such file or directory' } : { ok: true, stderr: '' };
    },
  };
}

describe('NodeFirewall', () => {
  it('applies what is asked in one turn as one nft batch, and replaces a leftover table in the first', async () => {
    const nft = recordingNft();
    const fw = new NodeFirewall(nft.run);
    await Promise.all([fw.addGuarded('ppp0'), fw.addGuarded('ppp1'), fw.addOvpnDevice('cxo7000'), fw.addEgress('cxo7000', 'ppp0', '10.0.0.2')]);
    expect(nft.scripts).toHaveLength(1);
    const [first] = nft.scripts;
    // A crashed run's table is deleted and defined again in the same atomic batch.
    expect(first!.indexOf('table inet connexa {}\ndelete table inet connexa\ntable inet connexa {')).toBe(0);
    expect(first).toContain('add element inet connexa guarded { "ppp0" }\nadd element inet connexa guarded { "ppp1" }');
    expect(first).toContain('add element inet connexa egress { "cxo7000" . "ppp0" : 10.0.0.2 }');
    await fw.removeGuarded('ppp1');
    expect(nft.scripts[1]).toBe('delete element inet connexa guarded { "ppp1" }\n');
  });

  it('sends a delete only for what it added, and replaces a map entry in one batch', async () => {
    const nft = recordingNft();
    const fw = new NodeFirewall(nft.run);
    await fw.removeGuarded('ppp9'); // never added: nothing to send (a missing element would fail the batch)
    expect(nft.scripts).toHaveLength(0);
    await fw.addEgress('cxo7000', 'ppp0', '10.0.0.2');
    await fw.addEgress('cxo7000', 'ppp0', '10.0.0.2'); // the same: nothing to do
    expect(nft.scripts).toHaveLength(1);
    await fw.addEgress('cxo7000', 'ppp0', '10.0.0.9');
    expect(nft.scripts[1]).toBe('delete element inet connexa egress { "cxo7000" . "ppp0" }\nadd element inet connexa egress { "cxo7000" . "ppp0" : 10.0.0.9 }\n');
  });

  it('when a batch fails, applies each change on its own so only the bad one fails', async () => {
    const nft = recordingNft((s) => s.includes('"ppp1"'));
    const fw = new NodeFirewall(nft.run);
    const results = await Promise.allSettled([fw.addGuarded('ppp0'), fw.addGuarded('ppp1'), fw.addGuarded('ppp2')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(FirewallError);
    // The failed add is not taken as present: asking again sends it again.
    await fw.addGuarded('ppp1').catch(() => {});
    expect(nft.scripts.at(-1)).toBe('add element inet connexa guarded { "ppp1" }\n');
  });

  it('says so when the table itself cannot be made, for every change of the batch', async () => {
    const fw = new NodeFirewall(recordingNft(() => true).run);
    await expect(fw.addGuarded('ppp0')).rejects.toThrow(/nft could not create table inet connexa: Error: Could not process rule/);
  });

  it('never lets a name or an address become nft syntax', async () => {
    const nft = recordingNft();
    const fw = new NodeFirewall(nft.run);
    expect(() => fw.addGuarded('ppp0" } ; flush ruleset ; {')).toThrow(FirewallError);
    expect(() => fw.addEgress('cxo7000', 'ppp0', '10.0.0.2 ; flush ruleset')).toThrow(FirewallError);
    expect(() => fw.addOvpnDevice('a-name-longer-than-15')).toThrow(FirewallError);
    expect(nft.scripts).toHaveLength(0);
  });

  it('deletes its table whole at close, and only if it made one', async () => {
    const idle = recordingNft();
    await new NodeFirewall(idle.run).close();
    expect(idle.scripts).toHaveLength(0);
    const nft = recordingNft();
    const fw = new NodeFirewall(nft.run, { table: 'connexa_test' });
    await fw.addGuarded('ppp0');
    await fw.close();
    expect(nft.scripts.at(-1)).toBe('delete table inet connexa_test\n');
  });
});
