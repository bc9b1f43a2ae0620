import { join } from 'node:path';
import { COMMANDS } from '../commands/index.ts';
import type { App } from './app.ts';
import { auditWord, Dispatcher, outcomeDetail, redactCommandLine } from './chat/dispatcher.ts';
import { CommandRegistry } from './chat/registry.ts';
import type { Config } from './config.ts';
import { createLogger, defaultLogFormat, type Logger } from './log.ts';
import { Alerts } from './monitor/alerts.ts';
import { Monitor } from './monitor/monitor.ts';
import { Scheduler } from './monitor/schedules.ts';
import { publish, subscribe } from './ops/events.ts';
import { gatewayFleet } from './gateway/fleet.ts';
import { createGateways } from './gateway/index.ts';
import { JobRunner } from './pipeline/job-runner.ts';
import { checkTunnelCapability, createTunnelDriver } from './probes/tunnel/index.ts';
import { NodeFirewall, nftRunner } from './services/node-firewall.ts';
import { guardedDriver, TunnelGuard } from './services/tunnel-guard.ts';
import { Store } from './store/store.ts';

export interface Composed {
  app: App;
  dispatcher: Dispatcher<App>;
  outboxDir: string;
  /** Resolves when no background work is running. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Builds the store, the registry and the dispatcher from a configuration (main.ts and tests use it).
 * `logLevel` overrides LOG_LEVEL without changing the configuration (the terminal's quieter default).
 */
export async function compose(config: Config, opts: { log?: Logger; logLevel?: Config['LOG_LEVEL'] } = {}): Promise<Composed> {
  const log = opts.log ?? createLogger(opts.logLevel ?? config.LOG_LEVEL, undefined, config.LOG_FORMAT ?? defaultLogFormat());
  // The store is read lazily: `alerts here` settings live in it, and it is opened just below.
  let storeRef: Store | null = null;
  const alerts = new Alerts(log, (platform) => storeRef?.setting<string>(`alerts.where.${platform}`));
  const store = await Store.open(config.dataDir, {
    onWriteError: (err) => {
      log.error('the store could not be written; changes are kept in memory and retried', { error: err.message });
      void alerts.raise('store-write', { text: `⚠️ **Connexa cannot save its data**: ${err.message}. Results are kept in memory and saving is retried every few seconds; free disk space or fix ${config.dataDir} before restarting, or recent results will be lost.` });
    },
    onWriteOk: () => void alerts.clear('store-write', { text: '✅ Connexa can save its data again; nothing was lost.' }),
  });
  storeRef = store;
  if (store.readOnly) log.warn(`read-only mode: ${config.dataDir} cannot be written (${store.readOnly}); stats and list work, commands that change data are refused`);
  for (const id of store.openReport.interruptedJobs) log.warn('a job was interrupted by a restart', { job: id });
  const unsubscribeGeo = subscribe('geo.fallback', (e) => log.warn('an import was located on the main thread: the IP database thread failed', { reason: e.reason }));
  const registry = new CommandRegistry(COMMANDS);
  const jobs = new JobRunner(store, log);
  const rawDriver = createTunnelDriver({ TUNNEL_DRIVER: config.TUNNEL_DRIVER, dataDir: config.dataDir });
  // Every tunnel (speed tests and node services) lets in only replies from its PPTP server.
  const driver = rawDriver && guardedDriver(rawDriver, new TunnelGuard(new NodeFirewall(nftRunner())));
  const tunnels = { driver, capability: () => checkTunnelCapability(config.TUNNEL_DRIVER) };
  const fleet = gatewayFleet({ config, store, log });
  const gateways = createGateways({ config, store, leases: jobs.leases, log, tunnels, directory: fleet.directory });
  // The monitor checks a node's tunnel, proxy and OpenVPN server after its PPTP handshake.
  const monitor = new Monitor({ store, jobs, alerts, config, log, checks: [gateways.monitorCheck()] });
  // With REDIS_URL, remote gateways: heartbeats, enrolment, and a monitor run when one goes or comes back.
  await fleet.connect(gateways, monitor);
  // A scheduled run is dispatched like a typed command; the dispatcher is made just below.
  const schedules = new Scheduler({ store, alerts, jobs, log, digestCron: config.DIGEST_CRON, dispatch: (port, inv) => dispatcher.dispatch(port, inv) });
  const app: App = { config, store, log, registry, jobs, alerts, monitor, schedules, gateways };
  const dispatcher = new Dispatcher<App>({
    registry,
    app,
    roles: () => ({ admins: config.CONNEXA_ADMINS, operators: config.CONNEXA_OPERATORS, viewers: config.CONNEXA_VIEWERS }),
    secretsDelivery: config.SECRETS_DELIVERY,
    onEvent: (e) => {
      publish('chat.command', { platform: e.platform, command: e.outcome.command ?? auditWord(e.commandLine), outcome: e.outcome.kind });
      log.debug('command', { outcome: e.outcome.kind, command: e.outcome.command, actor: e.actor, ms: e.ms });
      // Every command run is in the audit trail: who, where, what (secrets redacted), and how it ended.
      store.appendAudit({
        at: new Date().toISOString(),
        actor: e.actor,
        platform: e.platform,
        command: e.outcome.command ?? auditWord(e.commandLine),
        args: redactCommandLine(e.commandLine).slice(0, 500),
        outcome: e.outcome.kind,
        detail: outcomeDetail(e.outcome)?.slice(0, 300) ?? null,
        ms: e.ms,
      });
    },
    onError: (err, line) => log.error('command crashed', { error: err instanceof Error ? err.stack ?? err.message : String(err), command: auditWord(line) }),
  });
  return {
    app,
    dispatcher,
    outboxDir: join(config.dataDir, 'outbox'),
    idle: () => jobs.idle(),
    async close() {
      dispatcher.close();
      await monitor.stop();
      await schedules.stop();
      // Jobs still running are cancelled cleanly: their nodes keep the last committed status.
      jobs.cancelAll('shutdown');
      await jobs.idle();
      // Services stop with the process (nothing is revoked); the next long-running start restores them.
      await gateways.close();
      await fleet.close();
      // A failed last write was already reported (onWriteError, and the command that needed it).
      await store.close().catch(() => {});
      unsubscribeGeo();
    },
  };
}
