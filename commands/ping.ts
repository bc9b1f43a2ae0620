import { z } from 'zod';
import { failed, ok } from '../src/chat/command.ts';
import { plural } from '../src/chat/render.ts';
import type { Filter } from '../src/fleet/filter.ts';
import { command } from './define.ts';
import { startJob } from './job-report.ts';
import { GATEWAY_NAME } from '../src/gateway/remote/transport.ts';
import { gatewayPingStageFor, pingStageFor } from './probe-stages.ts';
import { byStatus, selectFor } from './selection.ts';

/** With no filter, ping tests what has not passed yet. */
const DEFAULT_PING_SELECTION: Filter = { statuses: ['not_tested', 'ping_failed'] };

export const ping = command({
  name: 'ping',
  summary: 'Check that servers answer a real PPTP handshake (default: not_tested and ping_failed)',
  usage: 'ping [filter] [from=NAME]',
  examples: ['ping', 'ping country:US', 'ping status:ping_ok,speed_ok ip:203.0.113.0/24', 'ping country:DE from=fra-1'],
  role: 'operator',
  filter: 'optional',
  options: z.object({ from: z.string().regex(GATEWAY_NAME, 'a gateway name, as `gateways` lists them').optional() }),
  optionHelp: { from: 'the gateway the handshakes run from (`gateways` lists them); without it, the bot\'s own host' },
  notes: ["Addresses of this host, loopback, link-local and multicast are never connected to (outcome `blocked`, the node becomes ping_failed) unless PROBE_ALLOW names them."],
  async run(input, ctx) {
    const from = input.options.from;
    // An unknown or silent gateway is refused before anything is selected or started.
    const asked = from === undefined ? null : ctx.services.gateways.askable(from);
    if (asked && !asked.ok) return failed(asked.reason);
    const { runnable, refused, words } = selectFor(ctx.services.store, 'ping', input, DEFAULT_PING_SELECTION);
    const skipped = byStatus(refused);
    if (!runnable.length) return failed(`no nodes to ping in ${words}${skipped ? ` (${skipped}: ping does not run on those; stop online nodes first)` : ''}`);
    const stage = asked?.ok ? gatewayPingStageFor(ctx.services, asked.port) : pingStageFor(ctx.services);
    startJob(ctx, { stage, nodes: runnable, selection: asked?.ok ? `${words} from ${asked.port.name}` : words });
    return ok(undefined, skipped ? { private: { text: `Not pinged: ${skipped} (ping does not run on those). Pinging ${plural(runnable.length, 'node')}.` } } : {});
  },
});
