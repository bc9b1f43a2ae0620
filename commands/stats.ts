import { z } from 'zod';
import { ok } from '../src/chat/command.ts';
import { command } from './define.ts';
import { table } from '../src/chat/render.ts';
import { STATUSES } from '../src/fleet/node.ts';
import { countByCountry, countrySource } from '../src/geo/country-counts.ts';

export const stats = command({
  name: 'stats',
  summary: 'Counts by status and by country (located by the IP database)',
  usage: 'stats',
  examples: ['stats', 'stats chart=no'],
  role: 'viewer',
  options: z.object({ chart: z.enum(['yes', 'no']).optional() }),
  optionHelp: { chart: 'no: the text only, without the PNG picture (nodes by status, top countries, download speeds, 7 days of status changes) that is attached by default; in the terminal the picture goes to the outbox' },
  async run(input, ctx) {
    const { store } = ctx.services;
    const byStatus = new Map<string, number>(STATUSES.map((s) => [s, 0]));
    for (const n of store.nodes()) byStatus.set(n.status, (byStatus.get(n.status) ?? 0) + 1);
    const byCountry = countByCountry(store.nodes());
    const countries = byCountry.rows.map(([c, n]): [string, number] => [c ?? '(unknown)', n]);
    const top = countries.slice(0, 15);
    if (countries.length > 15) top.push([`${countries.length - 15} others`, countries.slice(15).reduce((s, [, n]) => s + n, 0)]);
    const running = store.jobs().filter((j) => j.state === 'running').length;
    const text =
      `**${store.nodes().length.toLocaleString('en-US')} nodes**${running ? ` · ${running} job${running > 1 ? 's' : ''} running` : ''}\n` +
      table(['status', 'nodes'], [...byStatus].map(([s, n]) => [s, n]), [1]) +
      '\n' +
      `By country (${countrySource(byCountry)}):\n` +
      table(['country', 'nodes'], top.map(([c, n]) => [c, n]), [1]);
    // The picture is the default (the renderers load on the first one); chart=no is the text alone.
    if (input.options.chart === 'no') return ok(text);
    const { renderStatsChart } = await import('../src/charts/stats-chart.ts');
    const { png } = await renderStatsChart(store.nodes());
    return ok({ text, files: [{ name: `connexa-stats-${new Date().toISOString().slice(0, 10)}.png`, data: png, contentType: 'image/png' }] });
  },
});
