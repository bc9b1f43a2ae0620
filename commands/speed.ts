import { failed, ok } from '../src/chat/command.ts';
import { plural } from '../src/chat/render.ts';
import type { Filter } from '../src/fleet/filter.ts';
import { command, speedCanRun } from './define.ts';
import { startJob } from './job-report.ts';
import { speedable, speedStageFor, type Undialable } from './probe-stages.ts';
import { byStatus, selectFor } from './selection.ts';

/** With no filter, speed tests what passed ping and has not passed speed yet. */
const DEFAULT_SPEED_SELECTION: Filter = { statuses: ['ping_ok'] };

function skippedText(refused: Record<string, number>, undialable: Undialable): string {
  const parts: string[] = [];
  const statuses = byStatus(refused);
  if (statuses) parts.push(`Not tested: ${statuses} (speed runs on ping_ok and speed_ok only; ping them first).`);
  if (undialable.length) {
    const shown = undialable.slice(0, 5).map((u) => `${u.node.id}: ${u.reason}`).join('; ');
    parts.push(`Not dialled: ${plural(undialable.length, 'node')} — ${shown}${undialable.length > 5 ? '; …' : ''}`);
  }
  return parts.join('\n');
}

export const speed = command({
  name: 'speed',
  summary: 'Open a PPTP tunnel with each node\'s credentials and measure its throughput (default: ping_ok)',
  usage: 'speed [filter]',
  examples: ['speed', 'speed country:US limit:20', 'speed status:speed_ok speed<5'],
  role: 'operator',
  // Before anything else: an incapable host refuses in one line and starts no job.
  needs: [speedCanRun],
  filter: 'optional',
  async run(input, ctx) {
    const selection = selectFor(ctx.services.store, null, input, DEFAULT_SPEED_SELECTION);
    const { runnable, refused, undialable } = speedable(selection.runnable);
    const skipped = skippedText(refused, undialable);
    if (!runnable.length) return failed(`no nodes to speed-test in ${selection.words}${skipped ? `\n${skipped}` : ''}`);
    startJob(ctx, { stage: await speedStageFor(ctx.services), nodes: runnable, selection: selection.words });
    return ok(undefined, skipped ? { private: { text: `${skipped}\nTesting ${plural(runnable.length, 'node')}.` } } : {});
  },
});
