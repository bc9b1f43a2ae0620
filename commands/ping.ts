import { z } from 'zod';
import { failed, ok } from '../src/chat/command.ts';
import { plural } from '../src/chat/render.ts';
import { describeFilter, isEmptyFilter, selectNodes, type Filter } from '../src/fleet/filter.ts';
import type { FleetNode } from '../src/fleet/node.ts';
import { splitByStatus } from '../src/fleet/status-machine.ts';
import type { App } from '../src/app.ts';
import { pingStage } from '../src/pipeline/stages/ping.ts';
import { probePolicy } from '../src/probes/pptp/policy.ts';
import { command } from './define.ts';
import { startJob } from './job-report.ts';

/** With no filter, ping tests what has not passed yet. */
export const DEFAULT_PING_SELECTION: Filter = { statuses: ['not_tested', 'ping_failed'] };

export function pingStageFor(app: App) {
  const c = app.config;
  return pingStage({ concurrency: c.PING_CONCURRENCY, timeoutMs: c.PING_TIMEOUT_MS, retries: c.PING_RETRIES, policy: probePolicy(c.PROBE_ALLOW) });
}

/** Splits a selection into the nodes ping may run on and a count of the others by status. */
export function pingable(nodes: readonly FleetNode[]): { runnable: FleetNode[]; refused: Record<string, number> } {
  return splitByStatus('ping', nodes);
}

export const ping = command({
  name: 'ping',
  summary: 'Check that servers answer a real PPTP handshake (default: not_tested and ping_failed)',
  usage: 'ping [filter]',
  examples: ['ping', 'ping country:US', 'ping status:ping_ok,speed_ok ip:203.0.113.0/24'],
  role: 'operator',
  filter: 'optional',
  options: z.object({}),
  notes: ["Addresses of this host, loopback, link-local and multicast are never connected to (outcome `blocked`, the node becomes ping_failed) unless PROBE_ALLOW names them."],
  async run(input, ctx) {
    const filter = isEmptyFilter(input.filter) ? { ...DEFAULT_PING_SELECTION, limit: input.filter.limit } : input.filter;
    const words = input.filterText || describeFilter(filter);
    const { runnable, refused } = pingable(selectNodes(ctx.app.store.nodes(), filter));
    const skipped = Object.entries(refused).map(([s, n]) => `${n} ${s}`).join(', ');
    if (!runnable.length) return failed(`no nodes to ping in ${words}${skipped ? ` (${skipped}: ping does not run on those; stop online nodes first)` : ''}`);
    startJob(ctx, pingStageFor(ctx.app), runnable, words);
    return ok(undefined, skipped ? { private: { text: `Not pinged: ${skipped} (ping does not run on those). Pinging ${plural(runnable.length, 'node')}.` } } : {});
  },
});
