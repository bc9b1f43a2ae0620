import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { renderStatsChart, statsChartData } from '../../src/charts/stats-chart.ts';
import { newNode, type FleetNode, type Status } from '../../src/fleet/node.ts';

const NOW = new Date('2026-11-24T12:00:00Z');

/** A known fleet: every count the picture shows is fixed here. */
function fleet(): FleetNode[] {
  const nodes: FleetNode[] = [];
  const add = (count: number, status: Status, country: string | null, downMbps: number | null, changedOn: string | null) => {
    for (let i = 0; i < count; i++) {
      const n = newNode(`n${nodes.length + 1}`, { ip: `198.18.0.${nodes.length + 1}`, login: 'u', password: 'p', country }, null, NOW.toISOString());
      n.status = status;
      if (downMbps !== null) n.speed = { downMbps, upMbps: null, error: null, checkedAt: NOW.toISOString() };
      if (changedOn) n.history.push({ from: 'not_tested', to: status, reason: 'test', actor: 'system', at: `${changedOn}T03:00:00Z` });
      nodes.push(n);
    }
  };
  add(1234, 'ping_ok', 'US', null, '2026-11-23');
  add(567, 'speed_ok', 'DE', 7.5, '2026-11-20');
  add(89, 'online', 'DE', 42, '2026-11-10'); // changed before the 7-day window
  add(3, 'ping_failed', null, null, null);
  return nodes;
}

/** Width and height from a PNG's IHDR, after checking the signature and that its pixels inflate. */
function decodePng(png: Buffer): { width: number; height: number; pixelBytes: number } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  let at = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (at < png.length) {
    const len = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') [width, height] = [data.readUInt32BE(0), data.readUInt32BE(4)];
    if (type === 'IDAT') idat.push(data);
    at += 12 + len;
  }
  return { width, height, pixelBytes: inflateSync(Buffer.concat(idat)).length };
}

describe('the stats picture', () => {
  it('counts from the nodes: statuses, countries, speed bins, the last 7 days of changes', () => {
    const d = statsChartData(fleet(), NOW);
    expect(d.total).toBe(1893);
    expect(d.byStatus).toContainEqual({ status: 'ping_ok', nodes: 1234 });
    expect(d.byStatus).toContainEqual({ status: 'not_tested', nodes: 0 });
    expect(d.topCountries).toEqual([
      { country: 'US', nodes: 1234 },
      { country: 'DE', nodes: 656 },
      { country: 'unknown', nodes: 3 },
    ]);
    expect(d.countrySource).toBe('claimed'); // no node of this fleet was looked up
    expect(d.speedMeasured).toBe(656);
    expect(d.speedBins.reduce((s, b) => s + b.nodes, 0)).toBe(656);
    expect(d.speedBins.find((b) => b.from <= 7.5 && 7.5 < b.to)!.nodes).toBe(567);
    expect(d.days).toEqual(['2026-11-18', '2026-11-19', '2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23', '2026-11-24']);
    expect(d.changes).toEqual([
      { day: '2026-11-20', status: 'speed_ok', changes: 567 },
      { day: '2026-11-23', status: 'ping_ok', changes: 1234 },
    ]);
  });

  it('renders a PNG that decodes, at the size of its SVG, whose text holds the store numbers', async () => {
    const chart = await renderStatsChart(fleet(), NOW);
    const png = decodePng(chart.png);
    expect(png).toMatchObject({ width: chart.width, height: chart.height });
    expect(chart.width).toBeGreaterThan(700);
    expect(chart.height).toBeGreaterThan(400);
    // RGBA rows, each with its filter byte.
    expect(png.pixelBytes).toBe(chart.height * (chart.width * 4 + 1));
    const svgWidth = Number(/<svg[^>]* width="(\d+(?:\.\d+)?)"/.exec(chart.svg)![1]);
    expect(Math.round(svgWidth)).toBe(chart.width);
    const text = [...chart.svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    for (const label of ['Connexa: 1,893 nodes', '1,234', '567', '656', '89', 'US', 'DE', 'unknown', 'Download speed, 656 nodes measured', 'Status changes, last 7 days', 'Top countries (claimed)']) {
      expect(text).toContain(label);
    }
  });
});

describe('stats and its picture', () => {
  it('attaches the PNG by default and leaves it out with chart=no', async () => {
    const { testApp } = await import('../kit/app.ts');
    const t = await testApp();
    try {
      t.app.store.addNodes([{ ip: '198.18.0.1', login: 'a', password: 'pw-a-1' }, { ip: '198.18.0.2', login: 'b', password: 'pw-b-2', country: 'DE' }], 'test');
      const plain = await t.run('stats chart=no');
      expect(plain.kind).toBe('ok');
      expect(t.port.calls.flatMap((c) => ('msg' in c ? (c.msg.files ?? []) : []))).toEqual([]);
      expect((await t.run('stats')).kind).toBe('ok');
      const files = t.port.calls.flatMap((c) => ('msg' in c ? (c.msg.files ?? []) : []));
      expect(files.map((f) => [f.name.replace(/\d{4}-\d\d-\d\d/, 'DATE'), f.contentType])).toEqual([['connexa-stats-DATE.png', 'image/png']]);
      expect(decodePng(files[0]!.data).width).toBeGreaterThan(700);
    } finally {
      await t.dispose();
    }
  });
});
