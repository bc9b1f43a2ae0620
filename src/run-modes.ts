import { terminalActor } from '../adapters/shell/help.ts';
import { ShellPort } from '../adapters/shell/port.ts';
import { Shell } from '../adapters/shell/shell.ts';
import type { RunningAdapter } from './chat-adapters.ts';
import type { Composed } from './compose.ts';
import type { Ops } from './ops/service.ts';

/**
 * How a composed bot runs once started: serving chat (plus a REPL on a TTY), one terminal command,
 * a REPL, or piped lines. Owns the shutdown (signals: jobs cancelled first so their summaries still
 * reach chat, then the adapters, then the store). Resolves with the exit code.
 */
export async function runModes(composed: Composed, chat: readonly RunningAdapter[], args: readonly string[], ops: Ops | null = null): Promise<number> {
  const { app } = composed;
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      ops?.stopping();
      app.jobs.cancelAll('shutdown');
      await composed.idle();
      for (const a of chat) await a.stop().catch((err: Error) => app.log.warn('adapter did not stop cleanly', { platform: a.platform, error: err.message }));
      await ops?.close();
      await composed.close();
    })());
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      // A second signal: stop waiting for jobs, but still save what is committed in memory.
      process.stderr.write(`connexa: ${signal} again: saving and exiting now\n`);
      void app.store.flush().finally(() => process.exit(130));
      return;
    }
    process.stderr.write(`\nconnexa: ${signal}: cancelling running jobs, saving and exiting\n`);
    app.jobs.cancelAll(signal);
    void close().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const port = new ShellPort({ out: process.stdout, err: process.stderr, outboxDir: composed.outboxDir });
  app.alerts.register(port);
  const interrupt = () => {
    const running = app.jobs.list().length > 0;
    app.jobs.cancelAll('Ctrl-C');
    return running;
  };
  const shell = new Shell({ dispatcher: composed.dispatcher, port, actor: terminalActor(), idle: composed.idle, interrupt });

  // Long-running modes say once whether this host can open tunnels, bring back the services of
  // online nodes (tunnel first) and start the monitor; one-shot commands do none of it.
  const longRunning = () => {
    const refusal = app.gateways.tunnelRefusal('speed');
    if (refusal) process.stderr.write(`connexa: speed and start are unavailable on this host: ${refusal}\n`);
    void app.gateways.restore().then(
      (r) => r.failed.length && app.log.warn('services not restored', { failed: r.failed }),
      (e: Error) => app.log.error('restoring services failed', { error: e.message }),
    );
    app.monitor.start();
    app.schedules.start();
    ops?.started();
  };
  let code = 0;
  if (chat.length) {
    longRunning();
    // A stray rejection inside a platform library is logged; it must not end the bot.
    process.on('unhandledRejection', (err) => app.log.error('unhandled rejection', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
    process.stderr.write(`connexa: serving ${chat.map((a) => a.platform).join(' and ')}; Ctrl-C or SIGTERM to stop\n`);
    if (process.stdin.isTTY) await shell.repl(process.stdin, process.stdout);
    else await new Promise<never>(() => {}); // until a signal: onSignal closes and exits
  } else if (args.length) code = await shell.runOnce(args);
  else if (process.stdin.isTTY) {
    longRunning();
    process.stdout.write(`Connexa — ${app.store.nodes().length.toLocaleString('en-US')} nodes in ${app.config.dataDir}. Type help, or exit to leave.\n`);
    await shell.repl(process.stdin, process.stdout);
  } else code = await shell.runLines(process.stdin);
  await close();
  return code;
}
