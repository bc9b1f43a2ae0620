/**
 * `npm run bench:charts [-- --nodes 15000 --runs 5]`: how long the stats picture takes to render and
 * how large its PNG is, for a store of N nodes with speeds and 7 days of history (built in memory;
 * nothing is contacted). The first render includes loading the renderers; the median is of the rest.
 */
import { parseArgs } from 'node:util';
import { renderStatsChart, statsChartData } from '../src/charts/stats-chart.ts';
import { newNode, STATUSES, type FleetNode } from '../src/fleet/node.ts';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '15000' }, runs: { type: 'string', default: '5' } } });
const N = Number(values.nodes);
const RUNS = Number(values.runs);
const now = new Date();
const countries = ['US', 'DE', 'FR', 'GB', 'NL', 'CA', 'JP', 'BR', 'IN', 'SG', 'AU', 'PL', null];
const nodes: FleetNode[] = [];
for (let i = 0; i < N; i++) {
  // Documentation-range addresses: the bench only counts them.
  const n = newNode(`n${i}`, { ip: `198.18.${i >> 8}.${i & 255}`, login: 'u', password: 'p', country: countries[i % countries.length] ?? null }, null, now.toISOString());
  n.status = STATUSES[i % STATUSES.length]!;
  if (i % 3 === 0) n.speed = { downMbps: ((i * 7919) % 1000) / 10, upMbps: null, error: null, checkedAt: now.toISOString() };
  for (let h = 0; h < 3; h++) n.history.push({ from: 'not_tested', to: STATUSES[(i + h) % STATUSES.length]!, reason: 'bench', actor: 'bench', at: new Date(now.getTime() - ((i + h) % 9) * 86_400_000).toISOString() });
  nodes.push(n);
}
const t0 = performance.now();
statsChartData(nodes, now);
const countMs = performance.now() - t0;
const first = performance.now();
const c = await renderStatsChart(nodes, now);
const firstMs = performance.now() - first;
const ms: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const t = performance.now();
  await renderStatsChart(nodes, now);
  ms.push(performance.now() - t);
}
ms.sort((a, b) => a - b);
console.log(`bench:charts — ${N.toLocaleString('en-US')} nodes, ${RUNS} runs`);
console.log(`  counting the nodes: ${countMs.toFixed(1)} ms`);
console.log(`  first render (loads vega, vega-lite, resvg): ${firstMs.toFixed(0)} ms`);
console.log(`  render, median: ${ms[Math.floor(ms.length / 2)]!.toFixed(0)} ms (min ${ms[0]!.toFixed(0)}, max ${ms.at(-1)!.toFixed(0)})`);
console.log(`  PNG: ${(c.png.length / 1024).toFixed(1)} KiB, ${c.width} x ${c.height}; SVG ${(c.svg.length / 1024).toFixed(1)} KiB`);
console.log(`  peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
