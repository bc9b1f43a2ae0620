import { z } from 'zod';
import { failed, ok } from '../src/chat/command.ts';
import { command } from './define.ts';
import { saved } from './saved.ts';
import { plural, table } from '../src/chat/render.ts';
import { canRun } from '../src/fleet/status-machine.ts';
import { principalOf } from '../src/chat/roles.ts';
import { requireSelection, selected, selectionWords } from './selection.ts';

export const reset = command({
  name: 'reset',
  summary: 'Send nodes back to not_tested (anything but online) so they are tested afresh',
  usage: 'reset <filter>',
  examples: ['reset status:auth_failed', 'reset ip:203.0.113.0/24'],
  role: 'operator',
  filter: 'optional',
  options: z.object({}),
  async run(input, ctx) {
    const missing = requireSelection(input, 'reset');
    if (missing) return failed(missing);
    const { store, jobs } = ctx.app;
    const nodes = selected(store, input);
    if (!nodes.length) return failed(`no nodes match ${selectionWords(input)}`);
    const actor = principalOf(ctx.actor);
    const counts = { reset: 0, unchanged: 0, online: 0, busy: 0 };
    for (const n of nodes) {
      if (jobs.leases.isLeased(n.id)) counts.busy++;
      else if (!canRun('reset', n.status)) counts.online++;
      else if (n.status === 'not_tested') counts.unchanged++;
      else {
        const out = store.transition({ id: n.id, from: n.status, to: 'not_tested', patch: { pptp: null, speed: null }, reason: 'reset', actor });
        if (out.ok) counts.reset++;
        else counts.busy++;
      }
    }
    const rows: Array<[string, number]> = [['reset to not_tested', counts.reset], ['already not_tested', counts.unchanged]];
    if (counts.online) rows.push(['online: skipped (stop them first)', counts.online]);
    if (counts.busy) rows.push(['busy in a running job: skipped', counts.busy]);
    const note = counts.reset ? await saved(store) : '';
    return ok(`Reset ${plural(nodes.length, 'selected node')} (${selectionWords(input)}):\n${table(['result', 'nodes'], rows, [1])}${note}`);
  },
});
