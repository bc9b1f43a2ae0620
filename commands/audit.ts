import { z } from 'zod';
import { failed, ok } from '../src/chat/command.ts';
import { table } from '../src/chat/render.ts';
import { command } from './define.ts';

export const audit = command({
  name: 'audit',
  summary: 'Who ran which command, and how it ended (newest first)',
  usage: 'audit [user=slack:U123] [command=delete] [outcome=denied] [limit=30]',
  examples: ['audit', 'audit command=delete', 'audit outcome=denied limit=100', 'audit user=discord:123456789'],
  role: 'admin',
  options: z.object({
    user: z.string().optional(),
    command: z.string().optional(),
    outcome: z.enum(['ok', 'invalid', 'denied', 'needsConfirmation', 'pressRefused', 'failed', 'error']).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(30),
  }),
  optionHelp: {
    user: 'only this user (as in CONNEXA_* lists: slack:U123, discord:123, terminal:NAME)',
    command: 'only this command',
    outcome: 'ok, invalid, denied, needsConfirmation, pressRefused (a button someone else, or too late, pressed), failed or error',
    limit: 'how many entries (default 30, at most 500)',
  },
  async run({ options }, ctx) {
    const out = [];
    const entries = ctx.services.store.audit();
    for (let i = entries.length - 1; i >= 0 && out.length < options.limit; i--) {
      const e = entries[i]!;
      if (options.user && e.actor !== options.user) continue;
      if (options.command && e.command !== options.command.toLowerCase()) continue;
      if (options.outcome && e.outcome !== options.outcome) continue;
      out.push([e.at.slice(0, 19).replace('T', ' '), e.actor, e.args, e.outcome, e.detail]);
    }
    if (!out.length) return failed('no audit entries match');
    return ok(`Audit trail (${out.length} newest matching of ${entries.length} kept):\n${table(['at (UTC)', 'who', 'command', 'outcome', 'detail'], out, [], 60)}`);
  },
});
