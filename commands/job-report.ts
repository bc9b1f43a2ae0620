import type { CommandContext } from '../src/chat/command.ts';
import { ProgressMessage } from '../src/chat/progress.ts';
import { PlatformRefused } from '../src/chat/types.ts';
import { bar, clean, duration, plural, table } from '../src/chat/render.ts';
import { csvRows } from '../src/fleet/export.ts';
import type { FleetNode } from '../src/fleet/node.ts';
import type { App } from '../src/app.ts';
import { principalOf } from '../src/chat/roles.ts';
import type { Job, JobReporter, JobSnapshot, JobSummary } from '../src/pipeline/job-runner.ts';
import type { Stage } from '../src/pipeline/stage.ts';

const SHOWN_FAILURES = 10;

/** `ok 700 · refused 50 · timeout_reply 70`, ok first, then by count. */
export function countsLine(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => (a[0] === 'ok' ? -1 : b[0] === 'ok' ? 1 : b[1] - a[1]));
  return entries.map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(' · ') || 'nothing yet';
}

export function progressText(s: JobSnapshot): string {
  const eta = s.etaMs === null ? '' : ` · ETA ${duration(s.etaMs)}`;
  return `⏳ **${s.kind} ${s.id}** (${clean(s.selection, 80)})\n${bar(s.done, s.total)} · ${s.done.toLocaleString('en-US')} / ${s.total.toLocaleString('en-US')} · ${countsLine(s.counts)} · ${s.rate.toFixed(0)}/s${eta}`;
}

export function summaryText(s: JobSummary): string {
  const head = s.state === 'cancelled' ? `⏹️ **${s.kind} ${s.id}** ${s.note}` : `✅ **${s.kind} ${s.id}** finished`;
  const changes = Object.entries(s.changes).map(([k, v]) => `${k.replace('>', ' → ')} ${v.toLocaleString('en-US')}`);
  return [
    `${head} in ${duration(s.elapsedMs)}: ${plural(s.total, 'node')} (${clean(s.selection, 80)})`,
    countsLine(s.counts),
    ...(changes.length ? [`Status changes: ${changes.join(' · ')}`] : ['No status changed.']),
  ].join('\n');
}

/**
 * Connects a job to a conversation: a parent message edited as the job goes (throttled by the
 * port's edit budget), the final summary edited into it, and the failures in a thread (first ones
 * in text, all of them as a CSV attachment).
 */
export function chatReporter(ctx: CommandContext<App>): JobReporter {
  let progress: ProgressMessage | null = null;
  const conv = ctx.conversation;
  return {
    async started(s) {
      let ref;
      try {
        ref = await conv.say(progressText(s));
      } catch (err) {
        // The job runs on; the person who started it learns why its progress cannot be shown.
        if (err instanceof PlatformRefused) await conv.whisper(`❌ ${err.message}`).catch(() => undefined);
        throw err;
      }
      progress = ProgressMessage.of(conv.port, conv.where, ref);
    },
    update(s) {
      progress?.update({ text: progressText(s) });
    },
    async finished(s) {
      const text = summaryText(s);
      let parent;
      if (progress) {
        await progress.finish({ text });
        parent = progress.message;
      } else parent = await conv.say(text);
      if (!s.failures.length) return;
      // The thread hangs under this job's own message, not under whatever the command said first.
      const thread = await conv.port.openThread(parent);
      const shown = s.failures.slice(0, SHOWN_FAILURES).map((f) => [f.id, f.port === 1723 ? f.ip : `${f.ip}:${f.port}`, f.outcome, clean(f.reason, 90)]);
      await conv.say(
        {
          text: `${plural(s.failures.length, 'failure')}${s.failures.length > SHOWN_FAILURES ? ` (first ${SHOWN_FAILURES}; all in the CSV)` : ''}:\n${table(['id', 'address', 'outcome', 'reason'], shown, [], 90)}`,
          files: [{ name: `${s.kind}-${s.id}-failures.csv`, contentType: 'text/csv', data: Buffer.from(csvRows(['id', 'ip', 'port', 'outcome', 'reason'], s.failures.map((f) => [f.id, f.ip, f.port, f.outcome, f.reason])), 'utf8') }],
        },
        thread,
      );
    },
  };
}

export function startJob(ctx: CommandContext<App>, stage: Stage, nodes: readonly FleetNode[], selection: string): Job {
  return ctx.app.jobs.start({ stage, nodes, actor: principalOf(ctx.actor), selection, reporter: chatReporter(ctx) });
}
