/**
 * Where nodes go. Pure: it sees each gateway's state (from the directory) and answers with an
 * assignment or one line saying why not, before any job starts.
 *
 * Without a name, nodes go to the up, non-draining gateways that can open tunnels, by free capacity:
 * each next node goes to the gateway with the largest share of its room still left, so a batch is
 * spread in proportion to what each can take (bandwidth, the real limit, grows with every host used).
 */
import type { GatewayState } from './directory.ts';

const nodes = (n: number) => `${n} more node${n === 1 ? '' : 's'}`;

export type Placement = { ok: true; byGateway: Map<string, string[]> } | { ok: false; reason: string };

/** Why a gateway cannot take new nodes now, or null when it can. */
export function unplaceable(g: GatewayState): string | null {
  if (!g.up) return `gateway ${g.name} is down`;
  if (g.draining) return `gateway ${g.name} is draining (\`gateway undrain ${g.name}\` takes it back)`;
  if (!g.description) return `gateway ${g.name} has not described itself yet (no heartbeat since the bot started)`;
  const t = g.description.tunnels;
  if (!t.ok) return `gateway ${g.name} cannot open tunnels: ${t.message}`;
  return null;
}

export function place(nodeIds: readonly string[], gateways: readonly GatewayState[], wanted?: string): Placement {
  if (wanted !== undefined) {
    const g = gateways.find((x) => x.name === wanted);
    if (!g) return { ok: false, reason: `no gateway is named ${wanted} (known: ${gateways.map((x) => x.name).join(', ') || 'none'})` };
    const why = unplaceable(g);
    if (why) return { ok: false, reason: why };
    const free = g.description!.capacity.free;
    if (free < nodeIds.length) return { ok: false, reason: `gateway ${g.name} has room for ${nodes(free)}, not ${nodeIds.length}: select fewer (e.g. \`limit:${free}\`)` };
    return { ok: true, byGateway: new Map([[g.name, [...nodeIds]]]) };
  }
  const able = gateways.filter((g) => unplaceable(g) === null);
  if (!able.length) {
    const why = gateways.map((g) => unplaceable(g)).filter(Boolean);
    return { ok: false, reason: `no gateway can take nodes now${why.length ? `: ${why.join('; ')}` : ''}` };
  }
  const initial = new Map(able.map((g) => [g.name, g.description!.capacity.free]));
  const room = new Map(initial);
  const total = [...room.values()].reduce((a, b) => a + b, 0);
  if (total < nodeIds.length) return { ok: false, reason: `the gateways have room for ${nodes(total)}, not ${nodeIds.length}: select fewer (e.g. \`limit:${total}\`), widen a port range or add a gateway` };
  const byGateway = new Map<string, string[]>();
  for (const id of nodeIds) {
    let best: string | null = null;
    const share = (name: string) => room.get(name)! / initial.get(name)!;
    for (const name of room.keys()) if (room.get(name)! > 0 && (best === null || share(name) > share(best))) best = name;
    room.set(best!, room.get(best!)! - 1);
    const list = byGateway.get(best!) ?? [];
    list.push(id);
    byGateway.set(best!, list);
  }
  return { ok: true, byGateway };
}

/** Gateways a speed test may run on: up and able to open tunnels (draining ones still test). */
export function speedCapable(gateways: readonly GatewayState[]): GatewayState[] {
  return gateways.filter((g) => g.up && g.description?.tunnels.ok === true);
}
