import { z } from 'zod';
import { ok } from '../src/chat/command.ts';
import { command } from './define.ts';
import { table } from '../src/chat/render.ts';
import { describeFilter, selectNodes } from '../src/fleet/filter.ts';

const PAGE_SIZE = 25;
/** Where one message holds under 3,000 characters (Discord: 2,000), a page is short enough to fit one: Previous / Next can then replace it in place. */
const SHORT_PAGE_SIZE = 15;

export const list = command({
  name: 'list',
  summary: 'Show nodes in a compact table, a page at a time',
  usage: 'list [filter] [page=N]',
  examples: ['list status:ping_ok country:US', 'list ip:203.0.113.0/24 page=2'],
  role: 'viewer',
  filter: 'optional',
  options: z.object({ page: z.coerce.number().int().min(1).max(100_000).default(1) }),
  optionHelp: { page: 'which page of 25 rows, 15 where messages are short (default 1)' },
  async run({ filter, filterText, options }, ctx) {
    const { store } = ctx.services;
    const nodes = selectNodes(store.nodes(), filter);
    if (!nodes.length) return ok(`No nodes match ${describeFilter(filter)}.`);
    const size = ctx.reply.maxTextChars < 3000 ? SHORT_PAGE_SIZE : PAGE_SIZE;
    const pages = Math.ceil(nodes.length / size);
    const page = Math.min(options.page, pages);
    const rows = nodes.slice((page - 1) * size, page * size).map((n) => [
      n.id, n.port === 1723 ? n.ip : `${n.ip}:${n.port}`, n.login, n.status, n.country, n.state, n.city,
      n.pptp?.latencyMs != null ? `${Math.round(n.pptp.latencyMs)} ms` : null,
      n.speed?.downMbps != null ? `${n.speed.downMbps.toFixed(1)} Mb/s` : null,
    ]);
    const pageLine = (n: number) => `list ${filterText ? `${filterText} ` : ''}page=${n}`;
    const next = page < pages ? ` — next: \`/connexa ${pageLine(page + 1)}\`` : '';
    // Previous / Next replace this page in place; the typed `page=` works everywhere.
    const actions = ctx.buttons([
      ...(page > 1 ? [{ label: '◀ Previous', run: pageLine(page - 1), inPlace: true }] : []),
      ...(page < pages ? [{ label: 'Next ▶', run: pageLine(page + 1), inPlace: true }] : []),
    ]);
    const text = `${nodes.length.toLocaleString('en-US')} nodes match ${describeFilter(filter)} · page ${page} of ${pages}${next}\n${table(['id', 'ip', 'login', 'status', 'country', 'state', 'city', 'latency', 'speed'], rows, [7, 8])}`;
    return ok(actions.length ? { text, actions } : text);
  },
});
