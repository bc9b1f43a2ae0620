import { z } from 'zod';
import { failed, ok } from '../src/chat/command.ts';
import { plural } from '../src/chat/render.ts';
import type { Filter } from '../src/fleet/filter.ts';
import { START_CONCURRENCY, startStage } from '../src/gateway/stages.ts';
import { GATEWAY_NAME } from '../src/gateway/remote/transport.ts';
import { command, hostCanTunnel } from './define.ts';
import { deliverJobBundle } from './delivery.ts';
import { startJob } from './job-report.ts';
import { SOCKS_DNS_NOTE } from './notes.ts';
import { byStatus, selectFor } from './selection.ts';

/** With no filter, start takes every node that passed the speed test. */
const DEFAULT_START_SELECTION: Filter = { statuses: ['speed_ok'] };

export const start = command({
  name: 'start',
  summary: "Put speed_ok nodes online: a SOCKS5 proxy and an OpenVPN profile per node, leaving through the node's tunnel",
  usage: 'start [filter] [gateway=NAME]',
  examples: ['start', 'start country:US limit:20', 'start 203.0.113.5', 'start country:DE gateway=fra-1'],
  role: 'operator',
  needs: [hostCanTunnel],
  filter: 'optional',
  options: z.object({ gateway: z.string().regex(GATEWAY_NAME, 'a gateway name, as `gateways` lists them').optional() }),
  optionHelp: { gateway: 'where the nodes run (`gateways` lists them); without it, the gateways that can take them, by free room' },
  notes: [SOCKS_DNS_NOTE],
  async run(input, ctx) {
    const { store, gateways, config: c } = ctx.services;
    const { runnable, refused, words } = selectFor(store, 'start', input, DEFAULT_START_SELECTION);
    const skipped = byStatus(refused);
    if (!runnable.length) return failed(`no speed_ok nodes in ${words}${skipped ? ` (${skipped}: start runs on speed_ok nodes only)` : ''}`);
    const placed = await gateways.placement(runnable.map((n) => n.id), input.options.gateway);
    if (!placed.ok) return failed(placed.reason);
    const onlyDefault = placed.byGateway.size === 1 && placed.byGateway.has(gateways.defaultGateway);
    const free = onlyDefault ? await gateways.capacity() : { socks: Infinity, ovpn: Infinity };
    const room = Math.min(free.socks, free.ovpn);
    if (onlyDefault && runnable.length > room) {
      const which = free.socks <= free.ovpn ? `SOCKS_PORT_RANGE ${c.SOCKS_PORT_RANGE.from}-${c.SOCKS_PORT_RANGE.to}` : `OVPN_PORT_RANGE ${c.OVPN_PORT_RANGE.from}-${c.OVPN_PORT_RANGE.to}`;
      return failed(`only ${plural(room, 'port')} free in ${which} for ${plural(runnable.length, 'node')}: select fewer (e.g. \`limit:${room}\`) or widen the range`);
    }

    const where = new Map<string, string>();
    for (const [gw, ids] of placed.byGateway) for (const id of ids) where.set(id, gw);
    // START_CONCURRENCY on each gateway used, the nodes interleaved so every gateway works from the start.
    const stage = startStage(gateways, { tunnelOpenTimeoutMs: c.TUNNEL_OPEN_TIMEOUT_MS, placeOf: (id) => where.get(id), concurrency: START_CONCURRENCY * placed.byGateway.size });
    startJob(ctx, {
      stage,
      nodes: interleave(runnable, placed.byGateway),
      selection: words,
      // The stage leaves the bundle of what it put online; delivering it is this command's part.
      afterwards: (summary) => deliverJobBundle(stage.bundle(), ctx, { id: summary.id, kind: 'start' }, `Your start ${summary.id}`),
    });

    const spread = onlyDefault ? '' : ` on ${[...placed.byGateway].map(([g, ids]) => `${g} (${ids.length})`).join(', ')}`;
    const lines = [`Starting ${plural(runnable.length, 'node')}${spread}. When the job ends, the bundle (OpenVPN profiles and SOCKS credentials) is sent to you privately.`];
    if (skipped) lines.push(`Not started: ${skipped} (start runs on speed_ok nodes only).`);
    const notes = await gateways.startNotes([...placed.byGateway.keys()]);
    if (notes.ovpnServerNote) lines.push(`⚠️ OpenVPN: ${notes.ovpnServerNote}.`);
    for (const w of notes.warnings) lines.push(`Note: ${w}.`);
    return ok(undefined, { private: { text: lines.join('\n') } });
  },
});

/** Nodes in turn from each gateway's list (a, b, c, a, b, c ...), so a job keeps every gateway busy. */
function interleave<N extends { id: string }>(nodes: readonly N[], byGateway: ReadonlyMap<string, readonly string[]>): N[] {
  if (byGateway.size < 2) return [...nodes];
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const lists = [...byGateway.values()];
  const out: N[] = [];
  for (let i = 0; out.length < nodes.length; i++) for (const l of lists) if (i < l.length) out.push(byId.get(l[i]!)!);
  return out;
}
