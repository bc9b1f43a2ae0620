import { z } from 'zod';
import { failed, ok } from '../src/chat/command.ts';
import { principalOf } from '../src/chat/roles.ts';
import { clean, table } from '../src/chat/render.ts';
import { command } from './define.ts';
import { countsLine, progressText } from './job-report.ts';
import type { JobRecord } from '../src/store/schema.ts';
import type { JobSnapshot } from '../src/pipeline/job-runner.ts';

export const jobs = command({
  name: 'jobs',
  summary: 'Running jobs with their progress, and the last finished ones; or one job in detail',
  usage: 'jobs [job] [chart=yes]',
  examples: ['jobs', 'jobs j12', 'jobs j12 chart=yes'],
  role: 'viewer',
  positional: { name: 'job', description: 'a job id such as j12', required: false },
  options: z.object({ chart: z.enum(['yes', 'no']).optional() }),
  optionHelp: { chart: 'yes, with a job id: attach a PNG of its outcome breakdown' },
  async run(input, ctx) {
    if (input.positional) return oneJob(input.positional.toLowerCase(), input.options.chart === 'yes', ctx.services);
    if (input.options.chart === 'yes') return failed('chart=yes draws one job: give its id, e.g. `/connexa jobs j12 chart=yes`');
    const running = ctx.services.jobs.list();
    const finished = ctx.services.store.jobs().filter((j) => j.state !== 'running').slice(-10).reverse();
    const parts: string[] = [];
    parts.push(running.length ? running.map((j) => progressText(j.snapshot())).join('\n') : 'No job is running.');
    if (finished.length) {
      parts.push(`Last finished:\n${table(['job', 'kind', 'state', 'nodes', 'finished', 'result'], finished.map((j) => [j.id, j.kind, j.state, `${j.done}/${j.total}`, j.finishedAt, clean(j.note ?? countsLine(j.counts), 80)]), [3], 80)}`);
    }
    return ok(parts.join('\n'));
  },
});

/** One job: its record (or the running job's live counts), and its outcome picture when asked. */
async function oneJob(id: string, chart: boolean, services: { jobs: { list(): Array<{ snapshot(): JobSnapshot }> }; store: { jobs(): readonly JobRecord[] } }) {
  const live = services.jobs.list().find((j) => j.snapshot().id === id)?.snapshot();
  const rec = services.store.jobs().find((j) => j.id === id);
  if (!live && !rec) return failed(`there is no job ${clean(id, 20)}; \`/connexa jobs\` lists them`);
  const job = { id, kind: live?.kind ?? rec!.kind, state: live?.state ?? rec!.state, selection: live?.selection ?? rec!.selection, total: live?.total ?? rec!.total, done: live?.done ?? rec!.done, counts: live?.counts ?? rec!.counts };
  const rows = Object.entries(job.counts as Record<string, number>).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  const text =
    `**${job.kind} ${id}** — ${job.state}, ${job.done.toLocaleString('en-US')}/${job.total.toLocaleString('en-US')} nodes (${clean(job.selection, 80)})` +
    (rec ? `\nby ${rec.actor}, started ${rec.createdAt}${rec.finishedAt ? `, finished ${rec.finishedAt}` : ''}${rec.note ? `\n${clean(rec.note, 200)}` : ''}` : '') +
    `\n${table(['outcome', 'nodes'], rows, [1])}`;
  if (!chart) return ok(text);
  const { renderJobChart } = await import('../src/charts/job-chart.ts');
  const { png } = await renderJobChart(job);
  return ok({ text, files: [{ name: `connexa-${id}.png`, data: png, contentType: 'image/png' }] });
}

export const cancel = command({
  name: 'cancel',
  summary: 'Stop a running job; checked nodes keep their results',
  usage: 'cancel <job>',
  examples: ['cancel j12'],
  role: 'operator',
  positional: { name: 'job', description: 'a job id such as j12 (see `/connexa jobs`)', required: true },
  async run({ positional }, ctx) {
    const id = positional!.toLowerCase();
    if (ctx.services.jobs.cancel(id, principalOf(ctx.actor))) return ok(`Cancelling ${id}; its summary follows.`);
    const past = ctx.services.store.jobs().find((j) => j.id === id);
    return failed(past ? `${id} is not running (${past.state}${past.finishedAt ? ` at ${past.finishedAt}` : ''})` : `there is no job ${clean(id, 20)}; \`/connexa jobs\` lists them`);
  },
});
