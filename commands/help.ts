import { failed, ok } from '../src/chat/command.ts';
import { command } from './define.ts';
import { hasRole } from '../src/chat/roles.ts';
import { table } from '../src/chat/render.ts';
import { gatewaysLine, jobSuggestions, seenLines } from './suggestions.ts';
import type { CommandServices } from '../src/app.ts';

/** `connexa help` in the terminal runs on the registry alone, without a store. */
const hasStore = (services: Partial<CommandServices>): services is CommandServices => services.store !== undefined && services.jobs !== undefined;

/** The job ids `cancel` could take now (Slack has no autocomplete: help says them). */
function jobsLine(services: CommandServices): string {
  const ids = jobSuggestions(services, '').slice(0, 10);
  return ids.length ? `Jobs now: ${ids.map((id) => `\`${id}\``).join(', ')}` : 'No jobs yet.';
}

const FILTER_HELP =
  'Filter: `status:ping_ok,speed_ok country:US state:Ohio city:Akron provider:X zip:44301 ip:203.0.113. ip:203.0.113.0/24 speed>5 latency<200 limit:100`, or a bare IP, a node id, or `all`. Located by the IP database (not the file): `geo:US geo:mismatch geo:unknown`; a speed test\'s exit address: `exit:US exit:203.0.113.5`.';

export const help = command({
  name: 'help',
  summary: 'List the commands, or explain one',
  usage: 'help [command]',
  examples: ['help', 'help list'],
  role: 'viewer',
  positional: { name: 'command', description: 'a command name', required: false },
  async run({ positional }, ctx) {
    const { registry } = ctx.services;
    if (positional) {
      const def = registry.get(positional.toLowerCase());
      if (!def) return failed(`there is no command \`${positional.slice(0, 40)}\`; \`/connexa help\` lists them`);
      const opts = Object.entries(def.optionHelp ?? {}).map(([k, v]) => `• \`${k}=\` ${v}`);
      const lines = [
        `**/connexa ${def.usage}** — ${def.summary}`,
        `Needs the ${def.role} role.`,
        ...(def.filter === 'optional' ? [FILTER_HELP] : []),
        // The values to type (Slack's slash commands have no autocomplete); the one-shot terminal help has no store.
        ...(def.filter === 'optional' && hasStore(ctx.services) ? seenLines(ctx.services.store.nodes()) : []),
        ...(def.positional?.name === 'job' && hasStore(ctx.services) ? [jobsLine(ctx.services)] : []),
        ...(hasStore(ctx.services) ? [gatewaysLine(def, ctx.services)].filter((l): l is string => l !== null) : []),
        ...(opts.length ? ['Options:', ...opts] : []),
        ...(def.notes ?? []),
        `Examples: ${def.examples.map((e) => `\`/connexa ${e}\``).join('  ')}`,
      ];
      return ok(undefined, { private: { text: lines.join('\n') } });
    }
    const rows = registry.list.map((c) => [c.usage, c.role, c.summary + (hasRole(ctx.role, c.role) ? '' : ' (not for your role)')]);
    // Help is for the person who asked (ephemeral on Slack and Discord): it would only crowd the channel.
    return ok(undefined, { private: { text: `**Connexa** — run a PPTP fleet from chat. \`/connexa help <command>\` explains one.\n${table(['command', 'role', 'what it does'], rows, [], 100)}` } });
  },
});
