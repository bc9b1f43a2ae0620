import { z } from 'zod';
import { failed, ok } from '../src/chat/command.ts';
import { plural } from '../src/chat/render.ts';
import { principalOf } from '../src/chat/roles.ts';
import type { FleetNode } from '../src/fleet/node.ts';
import { canRun } from '../src/fleet/status-machine.ts';
import type { JobReporter } from '../src/pipeline/job-runner.ts';
import { stopStage } from '../src/services/index.ts';
import { command } from './define.ts';
import { chatReporter } from './job-report.ts';
import { requireSelection, selected, selectionWords } from './selection.ts';

export const stop = command({
  name: 'stop',
  summary: 'Take online/offline nodes back to speed_ok: proxies and OpenVPN servers down, profiles revoked',
  usage: 'stop <filter>',
  examples: ['stop 203.0.113.5', 'stop status:offline', 'stop all'],
  role: 'operator',
  filter: 'optional',
  options: z.object({}),
  async run(input, ctx) {
    // Stopping cuts users off and revokes their profiles for good: never by an empty filter.
    const missing = requireSelection(input, 'stop');
    if (missing) return failed(missing);
    const services = ctx.app.services;
    const runnable: FleetNode[] = [];
    let others = 0;
    for (const n of selected(ctx.app.store, input)) {
      if (canRun('stop', n.status)) runnable.push(n);
      else others++;
    }
    if (!runnable.length) return failed(`no online or offline nodes match ${selectionWords(input)}${others ? ` (${plural(others, 'other node')} selected: nothing to stop)` : ''}`);
    const base = chatReporter(ctx);
    const reporter: JobReporter = {
      ...base,
      async finished(summary) {
        await base.finished?.(summary);
        await services.reconcile();
      },
    };
    ctx.app.jobs.start({ stage: stopStage(services), nodes: runnable, actor: principalOf(ctx.actor), selection: input.filterText || selectionWords(input), reporter });
    return ok(undefined, { private: { text: `Stopping ${plural(runnable.length, 'node')}: their SOCKS proxies and OpenVPN servers go down and their profiles are revoked.${others ? ` ${plural(others, 'other selected node')} ${others === 1 ? 'is' : 'are'} not online/offline: skipped.` : ''}` } });
  },
});
