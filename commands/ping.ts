import { failed, ok } from '../src/chat/command.ts';
import { plural } from '../src/chat/render.ts';
import type { Filter } from '../src/fleet/filter.ts';
import { command } from './define.ts';
import { startJob } from './job-report.ts';
import { pingStageFor } from './probe-stages.ts';
import { byStatus, selectFor } from './selection.ts';

/** With no filter, ping tests what has not passed yet. */
const DEFAULT_PING_SELECTION: Filter = { statuses: ['not_tested', 'ping_failed'] };

export const ping = command({
  name: 'ping',
  summary: 'Check that servers answer a real PPTP handshake (default: not_tested and ping_failed)',
  usage: 'ping [filter]',
  examples: ['ping', 'ping country:US', 'ping status:ping_ok,speed_ok ip:203.0.113.0/24'],
  role: 'operator',
  filter: 'optional',
  notes: ["Addresses of this host, loopback, link-local and multicast are never connected to (outcome `blocked`, the node becomes ping_failed) unless PROBE_ALLOW names them."],
  async run(input, ctx) {
    const { runnable, refused, words } = selectFor(ctx.services.store, 'ping', input, DEFAULT_PING_SELECTION);
    const skipped = byStatus(refused);
    if (!runnable.length) return failed(`no nodes to ping in ${words}${skipped ? ` (${skipped}: ping does not run on those; stop online nodes first)` : ''}`);
    startJob(ctx, { stage: pingStageFor(ctx.services), nodes: runnable, selection: words });
    return ok(undefined, skipped ? { private: { text: `Not pinged: ${skipped} (ping does not run on those). Pinging ${plural(runnable.length, 'node')}.` } } : {});
  },
});
