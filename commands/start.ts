import { z } from 'zod';
import { failed, ok } from '../src/chat/command.ts';
import { plural } from '../src/chat/render.ts';
import { principalOf } from '../src/chat/roles.ts';
import { describeFilter, isEmptyFilter, selectNodes, type Filter } from '../src/fleet/filter.ts';
import type { FleetNode } from '../src/fleet/node.ts';
import { canRun } from '../src/fleet/status-machine.ts';
import type { JobReporter } from '../src/pipeline/job-runner.ts';
import { deliverBundle } from '../src/services/delivery.ts';
import { startStage } from '../src/services/index.ts';
import { command } from './define.ts';
import { chatReporter } from './job-report.ts';

/** With no filter, start takes every node that passed the speed test. */
/** Said in `help start` and `help bundle`: where a proxy's host names are looked up. */
export const SOCKS_DNS_NOTE =
  "Host names sent to a SOCKS proxy (socks5h, curl --socks5-hostname) are looked up by the bot's host with its own resolver, outside the node's tunnel; only the connection goes through the tunnel. Resolve names yourself and send addresses (socks5) if the lookup must not be seen there; SOCKS_HOSTNAMES=refuse makes the proxies refuse names.";

export const DEFAULT_START_SELECTION: Filter = { statuses: ['speed_ok'] };

export const start = command({
  name: 'start',
  summary: "Put speed_ok nodes online: a SOCKS5 proxy and an OpenVPN profile per node, leaving through the node's tunnel",
  usage: 'start [filter]',
  examples: ['start', 'start country:US limit:20', 'start 203.0.113.5'],
  role: 'operator',
  filter: 'optional',
  options: z.object({}),
  notes: [SOCKS_DNS_NOTE],
  async run(input, ctx) {
    const { store } = ctx.app;
    const services = ctx.app.services;
    // A host that cannot open tunnels refuses before any job: no node is marked failed for it.
    const refusal = services.tunnelRefusal();
    if (refusal) return failed(refusal);
    const filter = isEmptyFilter(input.filter) ? { ...DEFAULT_START_SELECTION, limit: input.filter.limit } : input.filter;
    const words = input.filterText || describeFilter(filter);
    const runnable: FleetNode[] = [];
    const refused: Record<string, number> = {};
    for (const n of selectNodes(store.nodes(), filter)) {
      if (canRun('start', n.status)) runnable.push(n);
      else refused[n.status] = (refused[n.status] ?? 0) + 1;
    }
    const skipped = Object.entries(refused).map(([s, n]) => `${n} ${s}`).join(', ');
    if (!runnable.length) return failed(`no speed_ok nodes in ${words}${skipped ? ` (${skipped}: start runs on speed_ok nodes only)` : ''}`);
    const free = await services.capacity();
    const room = Math.min(free.socks, free.ovpn);
    if (runnable.length > room) {
      const c = ctx.app.config;
      const which = free.socks <= free.ovpn ? `SOCKS_PORT_RANGE ${c.SOCKS_PORT_RANGE.from}-${c.SOCKS_PORT_RANGE.to}` : `OVPN_PORT_RANGE ${c.OVPN_PORT_RANGE.from}-${c.OVPN_PORT_RANGE.to}`;
      return failed(`only ${plural(room, 'port')} free in ${which} for ${plural(runnable.length, 'node')}: select fewer (e.g. \`limit:${room}\`) or widen the range`);
    }

    const stage = startStage(services);
    const base = chatReporter(ctx);
    const conversation = ctx.conversation;
    const reporter: JobReporter = {
      ...base,
      async finished(summary) {
        await base.finished?.(summary);
        // A result that lost its compare-and-set left services for a node that is not online: undo them.
        await services.reconcile();
        const online = [...stage.started.keys()].map((id) => store.get(id)).filter((n): n is FleetNode => n?.status === 'online');
        if (!online.length) return;
        try {
          await deliverBundle(services, conversation, online, `Your start ${summary.id}`);
        } catch (err) {
          ctx.app.log.error('the start bundle could not be delivered', { job: summary.id, error: (err as Error).message });
          await conversation.secret(`❌ The bundle of start ${summary.id} could not be built: ${(err as Error).message}. Try \`bundle status:online\`.`);
        }
      },
    };
    ctx.app.jobs.start({ stage, nodes: runnable, actor: principalOf(ctx.actor), selection: words, reporter });

    const lines = [`Starting ${plural(runnable.length, 'node')}. When the job ends, the bundle (OpenVPN profiles and SOCKS credentials) is sent to you privately.`];
    if (skipped) lines.push(`Not started: ${skipped} (start runs on speed_ok nodes only).`);
    const note = services.ovpnServerNote();
    if (note) lines.push(`⚠️ OpenVPN: ${note}.`);
    for (const w of services.publicHosts().warnings) lines.push(`Note: ${w}.`);
    return ok(undefined, { private: { text: lines.join('\n') } });
  },
});
