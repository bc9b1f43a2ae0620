import { describe, expect, it } from 'vitest';
import { jobChartSpec, renderJobChart } from '../../src/charts/job-chart.ts';
import { testApp } from '../kit/app.ts';

const filesOf = (calls: Array<{ msg?: { files?: Array<{ name: string; data: Buffer; contentType: string }> } }>) => calls.flatMap((c) => c.msg?.files ?? []);

describe('jobs <id>', () => {
  it('draws the outcome counts of the job record, largest first, each written on its bar', async () => {
    const job = { id: 'j7', kind: 'ping', state: 'done' as const, selection: 'status:not_tested', total: 1500, done: 1500, counts: { ok: 1200, refused: 250, timeout_reply: 50, busy: 0 } };
    const spec = jobChartSpec(job) as { data: { values: unknown[] } };
    expect(spec.data.values).toEqual([
      { outcome: 'ok', nodes: 1200 },
      { outcome: 'refused', nodes: 250 },
      { outcome: 'timeout_reply', nodes: 50 },
    ]);
    const chart = await renderJobChart(job);
    const text = [...chart.svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    for (const label of ['ping j7: 1,500 of 1,500 nodes, done', '1,200', '250', '50', 'refused']) expect(text).toContain(label);
    expect(chart.png.subarray(1, 4).toString()).toBe('PNG');
  });

  it('shows one job, attaches its picture when asked, and says so for an unknown id', async () => {
    const t = await testApp();
    try {
      const rec = t.app.store.createJob({ kind: 'ping', actor: 'slack:UOPER', selection: 'country:DE', total: 3 });
      t.app.store.updateJob(rec.id, { state: 'done', done: 3, counts: { ok: 2, refused: 1 }, finishedAt: '2026-11-24T10:00:00.000Z' });
      expect((await t.run(`jobs ${rec.id}`)).kind).toBe('ok');
      const shown = t.port.calls.at(-1) as { msg: { text: string } };
      expect(shown.msg.text).toMatch(/ping j\d+\*\* — done, 3\/3 nodes \(country:DE\)/);
      expect(shown.msg.text).toMatch(/ok\s+2/);
      expect(filesOf(t.port.calls as never)).toEqual([]);
      expect((await t.run(`jobs ${rec.id} chart=yes`)).kind).toBe('ok');
      expect(filesOf(t.port.calls as never).map((f) => [f.name, f.contentType])).toEqual([[`connexa-${rec.id}.png`, 'image/png']]);
      expect(await t.run('jobs j999')).toMatchObject({ kind: 'failed' });
      expect(await t.run('jobs chart=yes')).toMatchObject({ kind: 'failed' });
    } finally {
      await t.dispose();
    }
  });
});
