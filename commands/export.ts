import { z } from 'zod';
import { failed, ok } from '../src/chat/command.ts';
import { command } from './define.ts';
import { plural } from '../src/chat/render.ts';
import { toCsv, toSocks, toTxt } from '../src/fleet/export.ts';
import { selected, selectionWords } from './selection.ts';

const FORMATS = {
  csv: { render: toCsv, ext: 'csv', type: 'text/csv' },
  txt: { render: toTxt, ext: 'txt', type: 'text/plain' },
  socks: { render: toSocks, ext: 'txt', type: 'text/plain' },
} as const;

export const exportCommand = command({
  name: 'export',
  summary: 'Export nodes with their credentials as a file, sent to you privately',
  usage: 'export [filter] [format=csv|txt|socks]',
  examples: ['export status:speed_ok format=csv', 'export country:US format=txt', 'export format=socks'],
  role: 'operator',
  filter: 'optional',
  options: z.object({ format: z.enum(['csv', 'txt', 'socks']).default('csv') }),
  optionHelp: { format: 'csv (every field, node field names as the header), txt (ip:login:password, re-importable) or socks (host:port:login:password of online nodes)' },
  async run(input, ctx) {
    const { store } = ctx.app;
    const nodes = selected(store, input);
    const fmt = FORMATS[input.options.format];
    const chosen = input.options.format === 'socks' ? nodes.filter((n) => n.status === 'online' && n.socks) : nodes;
    if (!chosen.length) return failed(`no ${input.options.format === 'socks' ? 'online nodes with a SOCKS proxy' : 'nodes'} match ${selectionWords(input)}`);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    const name = `connexa-${input.options.format}-${stamp}.${fmt.ext}`;
    const data = Buffer.from(fmt.render(chosen), 'utf8');
    // The file holds passwords: it goes only to the person who asked (DM or private reply).
    return ok(`Exported ${plural(chosen.length, 'node')} (${selectionWords(input)}) as ${input.options.format}; the file was sent to ${ctx.actor.name} privately.`, {
      secret: { text: `Your export: ${plural(chosen.length, 'node')}, ${input.options.format}. It contains passwords.`, files: [{ name, data, contentType: fmt.type }] },
    });
  },
});
