import { readFileSync } from 'node:fs';
import { COMMANDS } from '../../commands/index.ts';

/** The version in package.json, read at run time so that it cannot drift from the package. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

/** `connexa --help`: works without a configuration or a data directory. */
export function usageText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  return [
    `connexa ${version()} — run a fleet of PPTP servers from Slack, Discord and the terminal`,
    '',
    'Usage:',
    '  connexa <command> [args]   run one command, print its output, exit (0 ok, 1 refused or failed)',
    '  connexa                    with SLACK_/DISCORD_ tokens: serve chat; otherwise a prompt on a',
    '                             terminal, or one command per line from a pipe',
    '  connexa backup <dir>       write a backup of the store and the PKI (terminal only)',
    '  connexa restore <file>     restore one into DATA_DIR (refused while a Connexa uses it)',
    '  connexa gateway            serve this host\'s nodes for the bot on REDIS_URL, as GATEWAY_NAME',
    '  connexa --help | -h        this text',
    '  connexa --version | -v     the version',
    '',
    'Commands (`connexa help <command>` explains one):',
    ...COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    'Configuration comes from the environment and ./.env (see .env.example); results go to stdout,',
    'refusals and errors to stderr; NO_COLOR turns text attributes off.',
  ].join('\n');
}
