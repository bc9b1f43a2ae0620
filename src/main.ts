import { userInfo } from 'node:os';
import { Shell } from '../adapters/shell/shell.ts';
import { ShellPort } from '../adapters/shell/port.ts';
import { usageText, version } from '../adapters/shell/usage.ts';
import type { RunningAdapter } from './chat-adapters.ts';
import { AdapterStartError } from './chat/adapter-start-error.ts';
import type { Actor } from './chat/types.ts';
import { compose, type Composed } from './compose.ts';
import { startOps, type Ops } from './ops/service.ts';
import { ConfigError, loadConfig } from './config.ts';
import { StoreOpenError } from './store/store.ts';
import { StoreLocked } from './store/lock.ts';

/**
 * The composition root. `connexa <command>` runs one command in the terminal. With no arguments:
 * the chat adapters whose tokens are set (plus a REPL if attached to a TTY) until SIGINT/SIGTERM;
 * with no token, the terminal (a REPL on a TTY, one command per line from a pipe).
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
  // Terminal only, before anything opens the store: a backup holds the CA key and every password.
  if (args[0] === 'backup' || args[0] === 'restore') {
    try {
      const { runTerminalOnly } = await import('./ops/cli.ts');
      return await runTerminalOnly(args, loadConfig(), version(), process.stdout, process.stderr);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(err.message.split('\n').map((line) => `connexa: ${line}\n`).join(''));
      return 2;
    }
  }
  let composed: Composed;
  let chat: RunningAdapter[] = [];
  let ops: Ops | null = null;
  try {
    const config = loadConfig();
    const chatMode = args.length === 0 && Boolean(config.SLACK_BOT_TOKEN || config.DISCORD_TOKEN);
    // In the terminal, routine log lines would only interleave with the command output.
    if (!process.env.LOG_LEVEL && !chatMode) config.LOG_LEVEL = 'warn';
    composed = await compose(config);
    // Metrics, health and scheduled backups serve a long-running Connexa only; started before the
    // adapters so that their start-up (API calls, a connection that fails) is seen too.
    if (chatMode || (args.length === 0 && process.stdin.isTTY)) ops = await startOps(composed, { adapters: () => chat, version: version() });
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
    if (err instanceof ConfigError || err instanceof StoreOpenError || err instanceof StoreLocked || err instanceof AdapterStartError) {
      // A ConfigError holds one line per bad variable: each gets the prefix.
      process.stderr.write(err.message.split('\n').map((line) => `connexa: ${line}\n`).join(''));
      return 2;
    }
    throw err;
  }

  let closing: Promise<void> | null = null;
  // Jobs are cancelled first so that their summaries still reach chat before the adapters leave.
  const close = () =>
    (closing ??= (async () => {
      ops?.stopping();
      composed.app.jobs.cancelAll('shutdown');
      await composed.idle();
      for (const a of chat) await a.stop().catch((err: Error) => composed.app.log.warn('adapter did not stop cleanly', { platform: a.platform, error: err.message }));
      await ops?.close();
      await composed.close();
    })());
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      // A second signal: stop waiting for jobs, but still save what is committed in memory.
      process.stderr.write(`connexa: ${signal} again: saving and exiting now\n`);
      void composed.app.store.flush().finally(() => process.exit(130));
      return;
    }
    process.stderr.write(`\nconnexa: ${signal}: cancelling running jobs, saving and exiting\n`);
    composed.app.jobs.cancelAll(signal);
    void close().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const port = new ShellPort({ out: process.stdout, err: process.stderr, outboxDir: composed.outboxDir });
  composed.app.alerts.register(port);
  const user = userInfo().username;
  const actor: Actor = { platform: 'terminal', id: user, name: user, roleIds: [] };
  const jobs = composed.app.jobs;
  const interrupt = () => {
    const running = jobs.list().length > 0;
    jobs.cancelAll('Ctrl-C');
    return running;
  };
  const shell = new Shell({ dispatcher: composed.dispatcher as never, port, actor, idle: composed.idle, interrupt });

  // Long-running modes say once whether this host can open tunnels, and bring back the services of
  // online nodes (tunnel first); one-shot commands do neither.
  const restoreServices = () => {
    const cap = composed.app.tunnels.capability();
    if (!cap.ok) process.stderr.write(`connexa: speed and start are unavailable on this host: ${cap.message}\n`);
    void composed.app.services.restore().then(
      (r) => r.failed.length && composed.app.log.warn('services not restored', { failed: r.failed }),
      (e: Error) => composed.app.log.error('restoring services failed', { error: e.message }),
    );
    ops?.started();
  };
  let code = 0;
  if (chat.length) {
    restoreServices();
    // A stray rejection inside a platform library is logged; it must not end the bot.
    process.on('unhandledRejection', (err) => composed.app.log.error('unhandled rejection', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
    composed.app.monitor.start();
    process.stderr.write(`connexa: serving ${chat.map((a) => a.platform).join(' and ')}; Ctrl-C or SIGTERM to stop\n`);
    if (process.stdin.isTTY) await shell.repl(process.stdin, process.stdout);
    else await new Promise<never>(() => {}); // until a signal: onSignal closes and exits
  } else if (args.length) code = await shell.runOnce(args);
  else if (process.stdin.isTTY) {
    restoreServices();
    composed.app.monitor.start();
    const n = composed.app.store.nodes().length;
    process.stdout.write(`Connexa — ${n.toLocaleString('en-US')} nodes in ${composed.app.config.dataDir}. Type help, or exit to leave.\n`);
    await shell.repl(process.stdin, process.stdout);
  } else code = await shell.runLines(process.stdin);
  await close();
  return code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`connexa: fatal: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
