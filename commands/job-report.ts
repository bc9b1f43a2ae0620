import type { CommandServices } from '../src/app.ts';
import type { CommandContext } from '../src/chat/command.ts';
import { bar, clean, duration, plural, table } from '../src/chat/render.ts';
import type { Message } from '../src/chat/types.ts';
import { csvRows } from '../src/fleet/export.ts';
import type { FleetNode } from '../src/fleet/node.ts';
import { principalOf } from '../src/chat/roles.ts';
import type { Job, JobReporter, JobSnapshot, JobSummary } from '../src/pipeline/job-runner.ts';
import type { Stage } from '../src/pipeline/stage.ts';

/** Rows a public report lists in text (failures, rejected lines, conflicts); all of them go in its CSV. */
export const SHOWN_ROWS = 10;

/** `ok 700 · refused 50 · timeout_reply 70`, ok first, then by count. */
export function countsLine(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => (a[0] === 'ok' ? -1 : b[0] === 'ok' ? 1 : b[1] - a[1]));
  return entries.map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(' · ') || 'nothing yet';
}

export function progressText(s: JobSnapshot): string {
  const eta = s.etaMs === null ? '' : ` · ETA ${duration(s.etaMs)}`;
  return `⏳ **${s.kind} ${s.id}** (${clean(s.selection, 80)})\n${bar(s.done, s.total)} · ${s.done.toLocaleString('en-US')} / ${s.total.toLocaleString('en-US')} · ${countsLine(s.counts)} · ${s.rate.toFixed(0)}/s${eta}`;
}

function summaryText(s: JobSummary): string {
  const head = s.state === 'cancelled' ? `⏹️ **${s.kind} ${s.id}** ${s.note}` : `✅ **${s.kind} ${s.id}** finished`;
  const changes = Object.entries(s.changes).map(([k, v]) => `${k.replace('>', ' → ')} ${v.toLocaleString('en-US')}`);
  return [
    `${head} in ${duration(s.elapsedMs)}: ${plural(s.total, 'node')} (${clean(s.selection, 80)})`,
    countsLine(s.counts),
    ...(changes.length ? [`Status changes: ${changes.join(' · ')}`] : ['No status changed.']),
  ].join('\n');
}

/** The failures of a job, for the thread under its message: the first ones in text, all in a CSV. */
function failuresMessage(s: JobSummary): Message {
  const shown = s.failures.slice(0, SHOWN_ROWS).map((f) => [f.id, f.port === 1723 ? f.ip : `${f.ip}:${f.port}`, f.outcome, clean(f.reason, 90)]);
  return {
    text: `${plural(s.failures.length, 'failure')}${s.failures.length > SHOWN_ROWS ? ` (first ${SHOWN_ROWS}; all in the CSV)` : ''}:\n${table(['id', 'address', 'outcome', 'reason'], shown, [], 90)}`,
    files: [{ name: `${s.kind}-${s.id}-failures.csv`, contentType: 'text/csv', data: Buffer.from(csvRows(['id', 'ip', 'port', 'outcome', 'reason'], s.failures.map((f) => [f.id, f.ip, f.port, f.outcome, f.reason])), 'utf8') }],
  };
}

/**
 * Starts a job that reports where the command was typed: a progress message edited as the job
 * goes, the summary edited into it, the failures in a thread under it, then `afterwards`.
 */
export function startJob(
  ctx: CommandContext<Pick<CommandServices, 'jobs'>>,
  job: { stage: Stage; nodes: readonly FleetNode[]; selection: string; afterwards?: (summary: JobSummary) => Promise<void> },
): Job {
  const progress = ctx.progress();
  const reporter: JobReporter = {
    // Cancel runs `cancel <job>` as whoever presses it (the one who started the job, or an admin).
    started: (s) => progress.start(progressText(s), ctx.buttons([{ label: 'Cancel', style: 'danger', run: `cancel ${s.id}` }])),
    update: (s) => progress.update(progressText(s)),
    async finished(s) {
      const text = summaryText(s);
      const parent = await (s.state === 'cancelled' ? progress.fail(text) : progress.complete(text));
      if (s.failures.length) await ctx.thread(parent, failuresMessage(s));
      await job.afterwards?.(s);
    },
  };
  return ctx.services.jobs.start({ stage: job.stage, nodes: job.nodes, actor: principalOf(ctx.actor), selection: job.selection, reporter });
}
