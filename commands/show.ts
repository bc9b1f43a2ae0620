import { failed, ok } from '../src/chat/command.ts';
import { command } from './define.ts';
import { clean, code } from '../src/chat/render.ts';
import type { FleetNode } from '../src/fleet/node.ts';
import { nodesNamed } from './lookup.ts';
import { withoutQuotedAnswer } from '../src/probes/pptp/codec.ts';
import { describeGeo, isGeoMismatch } from '../src/geo/location.ts';

function describe(n: FleetNode): string {
  const loc = [n.country, n.state, n.city, n.zip].filter(Boolean).map((v) => clean(v)).join(' / ') || '–';
  const lines = [
    `**${n.id}** ${code(`${n.ip}:${n.port}`)} login ${code(n.login)} — **${n.status}**`,
    `Location (claimed by the file): ${loc}${n.provider ? ` · provider ${clean(n.provider)}` : ''}${n.comment ? ` · ${clean(n.comment, 120)}` : ''}`,
    `Located (IP database): ${clean(describeGeo(n.geo), 200)}${isGeoMismatch(n) ? ` — **mismatch**: the file claims ${clean(n.country)}, the database places it in ${n.geo!.country}` : ''}`,
    `Imported ${n.createdAt}${n.importedFrom ? ` from ${clean(n.importedFrom)}` : ''}; updated ${n.updatedAt}`,
  ];
  if (n.pptp) {
    lines.push(n.pptp.ok
      ? `PPTP: ok in ${n.pptp.latencyMs} ms, vendor ${code(n.pptp.vendor ?? '')}, host ${code(n.pptp.hostname ?? '')}, firmware ${n.pptp.firmware} (${n.pptp.checkedAt})`
      : `PPTP: ${n.pptp.result} — ${clean(n.pptp.error && withoutQuotedAnswer(n.pptp.error), 200)} (${n.pptp.checkedAt})`);
  }
  if (n.speed) lines.push(n.speed.error ? `Speed: ${clean(n.speed.error, 200)} (${n.speed.checkedAt})` : `Speed: ${n.speed.downMbps} Mbit/s down, ${n.speed.upMbps ?? '–'} up (${n.speed.checkedAt})`);
  if (n.speed?.exitIp) lines.push(`Exit address (seen by the speed server): ${code(n.speed.exitIp)}, located ${clean(describeGeo(n.speed.exitGeo ?? null), 200)}`);
  if (n.gateway) lines.push(`Gateway: ${code(n.gateway)} (runs its tunnel, SOCKS5 proxy and OpenVPN server)`);
  if (n.socks) lines.push(`SOCKS5: ${n.socks.host}:${n.socks.port} (credentials: \`/connexa secrets ${n.id}\`)`);
  if (n.history.length) {
    lines.push('History:');
    for (const h of n.history.slice(-5).reverse()) lines.push(`• ${h.at} ${h.from} → ${h.to}${h.applied === false ? ' (not applied)' : ''}: ${clean(withoutQuotedAnswer(h.reason), 160)} — ${clean(h.actor)}`);
  }
  return lines.join('\n');
}

export const show = command({
  name: 'show',
  summary: 'Show one node (or every account on an IP) without secrets',
  usage: 'show <ip|id>',
  examples: ['show 203.0.113.5', 'show n12'],
  role: 'viewer',
  positional: { name: 'ip|id', description: 'an IP address or a node id such as n12', required: true },
  async run({ positional }, ctx) {
    const nodes = nodesNamed(ctx.services.store, positional!);
    if (!nodes.length) return failed(`no node has the id or IP ${code(positional!)}`);
    return ok(nodes.slice(0, 5).map(describe).join('\n\n') + (nodes.length > 5 ? `\n…and ${nodes.length - 5} more accounts on this IP (\`/connexa list ip:${positional}\`)` : ''));
  },
});
