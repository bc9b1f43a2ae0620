import { runHelpOnce } from '../adapters/shell/help.ts';
import { usageText, version } from '../adapters/shell/usage.ts';
import type { RunningAdapter } from './chat-adapters.ts';
import { AdapterStartError } from './chat/adapter-start-error.ts';
import type { Composed } from './compose.ts';
import type { Ops } from './ops/service.ts';
import { ConfigError, loadConfig } from './config.ts';
import { runModes } from './run-modes.ts';
import { StoreOpenError } from './store/store.ts';
import { StoreLocked } from './store/lock.ts';

/**
 * The entry point: flags and one-shot `help` first (no configuration, no store), then the
 * configuration, the composed bot (a dynamic import: `help` must not load the store) and the chat
 * adapters whose tokens are set; start-up failures become one line and exit code 2. How the bot
 * then runs (chat, one command, a REPL, piped lines) is src/run-modes.ts.
 */
async function main(argv: string[]): Promise<number> {
  const args = argv[0] === '/connexa' || argv[0] === 'connexa' ? argv.slice(1) : argv;
  // Flags are answered before the configuration is read: they must work on a fresh clone.
  if (args[0] === '--help' || args[0] === '-h') {
    process.stdout.write(`${usageText()}\n`);
    return 0;
  }
  if (args[0] === '--version' || args[0] === '-v') {
    process.stdout.write(`connexa ${version()}\n`);
    return 0;
  }
  if (args[0]?.startsWith('-')) {
    process.stderr.write(`connexa: unknown option ${args[0].slice(0, 40)}; connexa --help lists the usage\n`);
    return 2;
  }
  if (args[0]?.toLowerCase() === 'help') return runHelpOnce(args);
  // Terminal only, before anything opens the store: a backup holds the CA key and every password.
  if (args[0] === 'backup' || args[0] === 'restore') {
    try {
      const { runTerminalOnly } = await import('./ops/cli.ts');
      return await runTerminalOnly(args, loadConfig(), version(), process.stdout, process.stderr);
    } catch (err) {
      return startUpFailure(err);
    }
  }
  // A gateway host serves the bot's queues on Redis; it opens no store of its own.
  if (args[0] === 'gateway') {
    try {
      const { runGateway } = await import('./gateway/remote/run.ts');
      const { gatewayHostPort } = await import('./gateway/remote/host-port.ts');
      const config = loadConfig();
      return await runGateway(config, { port: (material, log) => gatewayHostPort(config, log, material) });
    } catch (err) {
      return startUpFailure(err);
    }
  }
  let composed: Composed;
  let chat: RunningAdapter[] = [];
  let ops: Ops | null = null;
  try {
    const config = loadConfig();
    const chatMode = args.length === 0 && Boolean(config.SLACK_BOT_TOKEN || config.DISCORD_TOKEN);
    // In the terminal, routine log lines would only interleave with the command output.
    const logLevel = !process.env.LOG_LEVEL && !chatMode ? 'warn' : config.LOG_LEVEL;
    // Loaded here, after help and the flags: the store, pipeline and services are most of the start-up.
    const { compose } = await import('./compose.ts');
    composed = await compose(config, { logLevel });
    // Metrics, health and scheduled backups serve a long-running Connexa only; started before the
    // adapters so that their start-up (API calls, a connection that fails) is seen too.
    if (chatMode || (args.length === 0 && process.stdin.isTTY)) {
      const { startOps } = await import('./ops/service.ts');
      ops = await startOps(composed, { adapters: () => chat, version: version() });
    }
    if (chatMode) {
      try {
        // Loaded only here: Bolt and discord.js are most of what a one-shot command would load.
        const { startChatAdapters } = await import('./chat-adapters.ts');
        chat = await startChatAdapters(composed);
      } catch (err) {
        await ops?.close();
        await composed.close();
        throw err;
      }
    }
  } catch (err) {
    return startUpFailure(err);
  }

  return runModes(composed, chat, args, ops);
}

/** A failure someone can fix (configuration, store, lock, platform token) is said in lines and exits 2. */
function startUpFailure(err: unknown): number {
  if (err instanceof ConfigError || err instanceof StoreOpenError || err instanceof StoreLocked || err instanceof AdapterStartError) {
    // A ConfigError holds one line per bad variable: each gets the prefix.
    process.stderr.write(err.message.split('\n').map((line) => `connexa: ${line}\n`).join(''));
    return 2;
  }
  throw err;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`connexa: fatal: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
