import { userInfo } from 'node:os';
import { Shell } from '../adapters/shell/shell.ts';
import { ShellPort } from '../adapters/shell/port.ts';
import type { Actor } from './chat/types.ts';
import { compose, type Composed } from './compose.ts';
import { ConfigError, loadConfig } from './config.ts';
import { StoreFileCorrupt } from './store/store.ts';
import { StoreLocked } from './store/lock.ts';

/**
 * The composition root. `connexa <command>` runs one command; no arguments: the chat adapters when
 * tokens are set, else the terminal (a REPL on a TTY, one command per line from a pipe).
 */
async function main(argv: string[]): Promise<number> {
  let composed: Composed;
  try {
    const config = loadConfig();
    if (config.SLACK_BOT_TOKEN || config.DISCORD_TOKEN) {
      // Honest refusal until the adapters exist: a token must not be silently ignored.
      throw new ConfigError(`${config.SLACK_BOT_TOKEN ? 'SLACK_BOT_TOKEN' : 'DISCORD_TOKEN'} is set, but this build has no ${config.SLACK_BOT_TOKEN ? 'Slack' : 'Discord'} adapter yet; unset it to use the terminal`);
    }
    // In the terminal, routine log lines would only interleave with the command output.
    if (!process.env.LOG_LEVEL) config.LOG_LEVEL = 'warn';
    composed = await compose(config);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof StoreFileCorrupt || err instanceof StoreLocked) {
      process.stderr.write(`connexa: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  let closing: Promise<void> | null = null;
  const close = () => (closing ??= composed.close());
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

  const port = new ShellPort({ out: process.stdout, outboxDir: composed.outboxDir });
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

  let code = 0;
  const args = argv[0] === '/connexa' || argv[0] === 'connexa' ? argv.slice(1) : argv;
  if (args.length) code = await shell.runOnce(args);
  else if (process.stdin.isTTY) {
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
