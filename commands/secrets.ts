import { failed, ok } from '../src/chat/command.ts';
import { command } from './define.ts';
import { code, table } from '../src/chat/render.ts';
import { nodesNamed } from './lookup.ts';

export const secrets = command({
  name: 'secrets',
  summary: 'Send you a node\'s PPTP and SOCKS credentials privately',
  usage: 'secrets <ip|id>',
  examples: ['secrets n12', 'secrets 203.0.113.5'],
  role: 'operator',
  positional: { name: 'ip|id', description: 'an IP address or a node id such as n12', required: true },
  async run({ positional }, ctx) {
    const nodes = nodesNamed(ctx.services.store, positional!).slice(0, 20);
    if (!nodes.length) return failed(`no node has the id or IP ${code(positional!)}`);
    const rows = nodes.map((n) => [n.id, `${n.ip}:${n.port}`, n.login, n.password, n.socks ? `${n.socks.host}:${n.socks.port} ${n.socks.login} ${n.socks.password}` : null]);
    return ok(undefined, { secret: { text: `Credentials (keep them private):\n${table(['id', 'address', 'login', 'password', 'socks5'], rows)}` } });
  },
});
