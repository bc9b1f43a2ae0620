import { z } from 'zod';
import { failed, ok } from '../src/chat/command.ts';
import { command } from './define.ts';
import { plural } from '../src/chat/render.ts';
import { toCsv, toSocks, toTxt } from '../src/fleet/export.ts';
import type { FleetNode } from '../src/fleet/node.ts';
import { selectFor, selectionWords } from './selection.ts';

const all = (render: (nodes: readonly FleetNode[]) => string) => (nodes: readonly FleetNode[]) => ({ text: render(nodes), left: [] as FleetNode[] });
const FORMATS = {
  csv: { render: all(toCsv), ext: 'csv', type: 'text/csv' },
  txt: { render: toTxt, ext: 'txt', type: 'text/plain' },
  socks: { render: all(toSocks), ext: 'txt', type: 'text/plain' },
} as const;

export const exportCommand = command({
  name: 'export',
  summary: 'Export nodes with their credentials as a file, sent to you privately',
  usage: 'export [filter] [format=csv|txt|socks]',
  examples: ['export status:speed_ok format=csv', 'export country:US format=txt', 'export format=socks'],
  role: 'operator',
  filter: 'optional',
  options: z.object({ format: z.enum(['csv', 'txt', 'socks']).default('csv') }),
  optionHelp: {
    format:
      'csv (every field, node field names as the header; imports back unchanged: a leading \' is added before = + - @ tab CR and \' so a spreadsheet never runs a cell, and the import takes exactly that \' off), ' +
      'txt (ip:login:password only, re-importable: no port, provider, location or comment; a node whose login or password has \':\' or a space is left out and counted in the reply, use csv for it) ' +
      'or socks (host:port:login:password of online nodes)',
  },
  async run(input, ctx) {
    const nodes = selectFor(ctx.services.store, null, input).runnable;
    const fmt = FORMATS[input.options.format];
    const chosen = input.options.format === 'socks' ? nodes.filter((n) => n.status === 'online' && n.socks) : nodes;
    if (!chosen.length) return failed(`no ${input.options.format === 'socks' ? 'online nodes with a SOCKS proxy' : 'nodes'} match ${selectionWords(input)}`);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    const name = `connexa-${input.options.format}-${stamp}.${fmt.ext}`;
    const rendered = fmt.render(chosen);
    const written = chosen.length - rendered.left.length;
    if (!written) return failed(`none of the ${plural(chosen.length, 'node')} can be written as txt (a login or password contains ':' or a space); use format=csv`);
    const data = Buffer.from(rendered.text, 'utf8');
    // Node ids only, and why only in the private message: the reply is public.
    const ids = `${rendered.left.slice(0, 10).map((n) => n.id).join(', ')}${rendered.left.length > 10 ? ', …' : ''}`;
    const left = rendered.left.length ? ` ${plural(rendered.left.length, 'node')} left out (${ids}): txt cannot carry them; use format=csv.` : '';
    const why = rendered.left.length ? ` Left out: ${ids} (a login or password with ':' or a space).` : '';
    // The file holds passwords: it goes only to the person who asked (DM or private reply).
    return ok(`Exported ${plural(written, 'node')} (${selectionWords(input)}) as ${input.options.format}; the file was sent to ${ctx.actor.name} privately.${left}`, {
      secret: { text: `Your export: ${plural(written, 'node')}, ${input.options.format}. It contains passwords.${why}`, files: [{ name, data, contentType: fmt.type }] },
    });
  },
});
