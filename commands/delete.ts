import { failed, ok } from '../src/chat/command.ts';
import { table } from '../src/chat/render.ts';
import { command, needsFilter } from './define.ts';
import { saved } from './saved.ts';
import { preview, selectFor, selectionWords } from './selection.ts';

export const deleteCommand = command({
  name: 'delete',
  summary: 'Remove nodes from the fleet (asks for confirmation)',
  usage: 'delete <filter>',
  examples: ['delete status:ping_failed country:US', 'delete 203.0.113.5'],
  role: 'admin',
  needs: [needsFilter],
  filter: 'optional',
  optionHelp: { confirm: 'the code the first run gives you, to confirm' },
  confirm(input, ctx) {
    return preview(selectFor(ctx.services.store, 'delete', input).runnable, input, 'deletes {n}. It cannot be undone.');
  },
  async run(input, ctx) {
    const { store, gateways, jobs } = ctx.services;
    const nodes = selectFor(store, 'delete', input).runnable;
    if (!nodes.length) return failed(`no nodes match ${selectionWords(input)}`);
    // Online and offline nodes are stopped first: services torn down, profiles revoked.
    const live = nodes.filter((n) => (n.status === 'online' || n.status === 'offline') && !jobs.leases.isLeased(n.id));
    if (live.length) await gateways.retire(live);
    const { deleted, busy } = store.deleteNodes(nodes.map((n) => n.id), jobs.leases.isLeased);
    const rows: Array<[string, number]> = [['deleted', deleted.length]];
    if (live.length) rows.push(['of which online/offline, stopped first', live.length]);
    if (busy.length) rows.push(['busy in a running job: kept', busy.length]);
    const note = deleted.length ? await saved(store) : '';
    return ok(`Delete of ${selectionWords(input)}:\n${table(['result', 'nodes'], rows, [1])}${note}`);
  },
});
