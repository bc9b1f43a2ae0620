import { failed, ok } from '../src/chat/command.ts';
import { principalOf } from '../src/chat/roles.ts';
import { clean, table } from '../src/chat/render.ts';
import { command } from './define.ts';
import { countsLine, progressText } from './job-report.ts';

export const jobs = command({
  name: 'jobs',
  summary: 'Running jobs with their progress, and the last finished ones',
  usage: 'jobs',
  examples: ['jobs'],
  role: 'viewer',
  async run(_input, ctx) {
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
