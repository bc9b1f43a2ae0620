import { failed, ok } from '../src/chat/command.ts';
import { clean, duration, plural, table } from '../src/chat/render.ts';
import type { GatewayState } from '../src/gateway/directory.ts';
import type { FleetNode } from '../src/fleet/node.ts';
import { command } from './define.ts';
import { startMoveJob } from './move.ts';
import { gatewayActionSuggestions, gatewayNames } from './suggestions.ts';

/** A capability in a word or two, with what is missing (the whole line is in `help`). */
function able(c: { ok: true } | { ok: false; missing: string[] } | undefined): string {
  if (!c) return '?';
  return c.ok ? 'yes' : `no (${c.missing.join(', ')})`;
}

function heartbeat(g: GatewayState, now: number): string {
  if (g.local) return 'this host';
  if (g.lastHeartbeatAt === null) return 'none yet';
  return `${duration(Math.max(0, now - g.lastHeartbeatAt))} ago`;
}

function state(g: GatewayState): string {
  if (!g.up) return 'DOWN';
  return g.draining ? 'draining' : 'up';
}

/** One row per gateway: what `gateways` shows. Pure (tests render a known directory). */
export function gatewayRows(gateways: readonly GatewayState[], nodes: readonly FleetNode[], now: number): Array<Array<string | number>> {
  const online = new Map<string, number>();
  for (const n of nodes) if (n.status === 'online' && n.gateway) online.set(n.gateway, (online.get(n.gateway) ?? 0) + 1);
  return gateways.map((g) => {
    const d = g.description;
    return [
      clean(g.name, 32),
      state(g),
      d ? clean(d.publicHost.socks, 40) : '?',
      `PPP ${able(d?.tunnels)} · OpenVPN ${able(d?.ovpn)}`,
      `${online.get(g.name) ?? 0}/${d ? d.capacity.total : '?'}`,
      heartbeat(g, now),
      d ? clean(d.version, 16) : '?',
    ];
  });
}

export const gateways = command({
  name: 'gateways',
  summary: 'The hosts that run nodes: name, public host, capability, nodes online/capacity, last heartbeat, version',
  usage: 'gateways',
  examples: ['gateways'],
  role: 'viewer',
  async run(_input, ctx) {
    const { gateways: control, store } = ctx.services;
    const directory = control.directory;
    if (!directory) return failed('this bot has no gateway directory');
    await directory.refreshLocal();
    const list = directory.list();
    const rows = gatewayRows(list, store.nodes(), Date.now());
    const down = list.filter((g) => !g.up);
    const lines = [
      `**Gateways** (${plural(list.length, 'gateway')}; one silent for ${duration(directory.deadAfterMs)} is down):`,
      table(['gateway', 'state', 'public host', 'can run', 'online/capacity', 'heartbeat', 'version'], rows, [4]),
    ];
    if (down.length) lines.push(`⚠️ Down: ${down.map((g) => g.name).join(', ')}: their nodes are offline until they are back.`);
    return ok(lines.join('\n'));
  },
});

export const gateway = command({
  name: 'gateway',
  summary: 'Drain a gateway (no new nodes; what it runs moves to the others) or take it back',
  usage: 'gateway <drain|undrain> <name>',
  examples: ['gateway drain gw2', 'gateway undrain gw2'],
  role: 'admin',
  rawRest: true,
  positional: { name: 'action', description: 'drain <name> or undrain <name>', required: true },
  suggest: (field, partial, services) => (field === 'positional' ? gatewayActionSuggestions(gatewayNames(services), partial) : []),
  async run({ positional }, ctx) {
    const [action, name, ...extra] = (positional ?? '').trim().split(/\s+/);
    if (!action || !name || extra.length || !['drain', 'undrain'].includes(action.toLowerCase())) {
      return failed('say `gateway drain <name>` or `gateway undrain <name>` (`gateways` lists the names)');
    }
    const directory = ctx.services.gateways.directory;
    const g = directory?.get(name);
    if (!g) return failed(`no gateway is named ${clean(name, 32)} (\`gateways\` lists them)`);
    if (action.toLowerCase() === 'undrain') {
      directory!.setDraining(g.name, false);
      return ok(`Gateway ${g.name} takes new nodes again.`);
    }
    directory!.setDraining(g.name, true);
    // What it runs goes to the other gateways, by their free room, as `move` would.
    const { store, gateways: control } = ctx.services;
    const nodes = store.nodes().filter((n) => (n.status === 'online' || n.status === 'offline') && (n.gateway ?? control.defaultGateway) === g.name && !ctx.services.jobs.leases.isLeased(n.id));
    if (!nodes.length) return ok(`Gateway ${g.name} is draining: it takes no new nodes, and runs none.`);
    const placed = await control.placement(nodes.map((n) => n.id));
    if (!placed.ok) return ok(`Gateway ${g.name} is draining: it takes no new nodes. Its ${plural(nodes.length, 'node')} stay there for now: ${placed.reason}.`);
    startMoveJob(ctx, nodes, placed.byGateway, `gateway:${g.name}`);
    return ok(`Gateway ${g.name} is draining: it takes no new nodes, and its ${plural(nodes.length, 'node')} move to ${[...placed.byGateway].map(([n, ids]) => `${n} (${ids.length})`).join(', ')}. The new bundle goes to ${ctx.actor.name} privately.`);
  },
});
