import { failed, ok } from '../src/chat/command.ts';
import { plural, table } from '../src/chat/render.ts';
import { principalOf } from '../src/chat/roles.ts';
import { command, needsFilter } from './define.ts';
import { saved } from './saved.ts';
import { selectFor, selectionWords } from './selection.ts';

export const reset = command({
  name: 'reset',
  summary: 'Send nodes back to not_tested (anything but online) so they are tested afresh',
  usage: 'reset <filter>',
  examples: ['reset status:auth_failed', 'reset ip:203.0.113.0/24'],
  role: 'operator',
  needs: [needsFilter],
  filter: 'optional',
  async run(input, ctx) {
    const { store, jobs } = ctx.services;
    const { runnable, refused } = selectFor(store, 'reset', input);
    const online = Object.values(refused).reduce((a, b) => a + b, 0);
    const total = runnable.length + online;
    if (!total) return failed(`no nodes match ${selectionWords(input)}`);
    const actor = principalOf(ctx.actor);
    const counts = { reset: 0, unchanged: 0, busy: 0 };
    for (const n of runnable) {
      if (jobs.leases.isLeased(n.id)) counts.busy++;
      else if (n.status === 'not_tested') counts.unchanged++;
      else if (store.transition({ id: n.id, from: n.status, to: 'not_tested', patch: { pptp: null, speed: null }, reason: 'reset', actor }).ok) counts.reset++;
      else counts.busy++;
    }
    const rows: Array<[string, number]> = [['reset to not_tested', counts.reset], ['already not_tested', counts.unchanged]];
    if (online) rows.push(['online: skipped (stop them first)', online]);
    if (counts.busy) rows.push(['busy in a running job: skipped', counts.busy]);
    const note = counts.reset ? await saved(store) : '';
    return ok(`Reset ${plural(total, 'selected node')} (${selectionWords(input)}):\n${table(['result', 'nodes'], rows, [1])}${note}`);
  },
});
