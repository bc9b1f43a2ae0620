import { failed, ok } from '../src/chat/command.ts';
import { plural } from '../src/chat/render.ts';
import { command } from './define.ts';
import { deliverBundle } from './delivery.ts';
import { SOCKS_DNS_NOTE } from './notes.ts';
import { selectFor } from './selection.ts';

export const bundle = command({
  name: 'bundle',
  summary: 'Send you a zip of OpenVPN profiles and SOCKS credentials for online nodes, privately',
  usage: 'bundle [filter]',
  examples: ['bundle', 'bundle country:US', 'bundle 203.0.113.5'],
  role: 'operator',
  filter: 'optional',
  notes: [SOCKS_DNS_NOTE],
  async run(input, ctx) {
    const { runnable, words } = selectFor(ctx.services.store, null, input, { statuses: ['online', 'offline'] });
    const nodes = runnable.filter((n) => (n.status === 'online' || n.status === 'offline') && n.socks);
    if (!nodes.length) return failed(`no online nodes with services match ${words}`);
    const sent = await deliverBundle(await ctx.services.gateways.bundle(nodes), ctx.reply, `Your bundle (${words})`);
    if (!sent) return failed(`no bundle could be made for ${words}`);
    // Public: that a bundle was sent, never what is in it.
    return ok(`Sent ${ctx.actor.name} a bundle of ${plural(sent.nodes, 'node')} (${words}) privately${sent.files > 1 ? ` in ${sent.files} zips` : ''}.`);
  },
});
