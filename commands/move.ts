import { z } from 'zod';
import type { CommandServices } from '../src/app.ts';
import { failed, ok, type CommandContext, type CommandResult } from '../src/chat/command.ts';
import { plural } from '../src/chat/render.ts';
import type { FleetNode } from '../src/fleet/node.ts';
import { GATEWAY_NAME } from '../src/gateway/remote/transport.ts';
import { moveStage, START_CONCURRENCY } from '../src/gateway/stages.ts';
import { command, needsFilter } from './define.ts';
import { deliverJobBundle } from './delivery.ts';
import { startJob } from './job-report.ts';
import { selectFor, selectionWords } from './selection.ts';

/**
 * Starts the job that moves `nodes` where `byGateway` says, and sends the new bundle when it ends
 * (the old profiles are revoked). Shared by `move` and `gateway drain`.
 */
export function startMoveJob(ctx: CommandContext<CommandServices>, nodes: readonly FleetNode[], byGateway: ReadonlyMap<string, readonly string[]>, selection: string): void {
  const { gateways, config } = ctx.services;
  const where = new Map<string, string>();
  for (const [gw, ids] of byGateway) for (const id of ids) where.set(id, gw);
  const stage = moveStage(gateways, { tunnelOpenTimeoutMs: config.TUNNEL_OPEN_TIMEOUT_MS, placeOf: (id) => where.get(id), concurrency: START_CONCURRENCY * byGateway.size });
  startJob(ctx, {
    stage,
    nodes,
    selection,
    afterwards: (summary) => deliverJobBundle(stage.bundle(), ctx, { id: summary.id, kind: 'move' }, `Your move ${summary.id} (new profiles: the old ones are revoked)`),
  });
}

export const move = command({
  name: 'move',
  summary: 'Move online/offline nodes to another gateway: new proxy credentials and profile there, the old profile revoked (the bundle is sent again)',
  usage: 'move <filter> gateway=NAME',
  examples: ['move country:DE gateway=fra-1', 'move gateway:sgp-1 gateway=fra-1'],
  role: 'operator',
  needs: [needsFilter],
  filter: 'optional',
  options: z.object({ gateway: z.string().regex(GATEWAY_NAME, 'a gateway name, as `gateways` lists them') }),
  optionHelp: { gateway: 'where the nodes go (`gateways` lists them)' },
  async run(input, ctx): Promise<CommandResult> {
    const { store, gateways } = ctx.services;
    const to = input.options.gateway;
    const { runnable, words } = selectFor(store, 'move', input);
    const nodes = runnable.filter((n) => (n.gateway ?? gateways.defaultGateway) !== to);
    const already = runnable.length - nodes.length;
    if (!nodes.length) return failed(`no online or offline nodes to move in ${selectionWords(input)}${already ? ` (${plural(already, 'node')} already on ${to})` : ''}`);
    const placed = await gateways.placement(nodes.map((n) => n.id), to);
    if (!placed.ok) return failed(placed.reason);
    startMoveJob(ctx, nodes, placed.byGateway, words);
    return ok(undefined, { private: { text: `Moving ${plural(nodes.length, 'node')} to ${to}.${already ? ` ${plural(already, 'node')} already there: skipped.` : ''} Their old profiles and proxy credentials stop working; the new bundle is sent to you privately when the job ends.` } });
  },
});
