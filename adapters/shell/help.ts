import { userInfo } from 'node:os';
import { COMMANDS } from '../../commands/index.ts';
import { Dispatcher } from '../../src/chat/dispatcher.ts';
import { CommandRegistry } from '../../src/chat/registry.ts';
import type { Actor } from '../../src/chat/types.ts';
import { ShellPort } from './port.ts';
import { Shell } from './shell.ts';

/** The person at the terminal: the machine's operator (resolveRole makes the terminal admin). */
export function terminalActor(): Actor {
  const user = userInfo().username;
  return { platform: 'terminal', id: user, name: user, roleIds: [] };
}

/**
 * `connexa help [command]` in one-shot mode. Help reads only the command list, so it runs through the
 * same dispatcher and rendering as in chat, but on a registry alone: no configuration, no store (a
 * 15,000-node store would triple its start-up), no lock (it works beside a running bot), and no audit
 * line (it neither reads nor changes data).
 */
export async function runHelpOnce(args: readonly string[]): Promise<number> {
  const registry = new CommandRegistry(COMMANDS);
  const dispatcher = new Dispatcher({ registry, app: { registry }, roles: () => ({ admins: [], operators: [], viewers: [] }), secretsDelivery: 'dm' });
  // Help writes no attachment, so the outbox is never created.
  const port = new ShellPort({ out: process.stdout, err: process.stderr, outboxDir: '' });
  const shell = new Shell({ dispatcher, port, actor: terminalActor(), idle: async () => {}, interrupt: () => false });
  return shell.runOnce(args);
}
