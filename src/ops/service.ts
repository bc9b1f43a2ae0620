import cron, { type ScheduledTask } from 'node-cron';
import type { Composed } from '../compose.ts';
import type { AdapterState } from './health.ts';
import type { OpsServer } from './http.ts';

export interface Ops {
  /** Start-up is over: /readyz may say ready. */
  started(): void;
  /** Shutdown began: /readyz says so. */
  stopping(): void;
  close(): Promise<void>;
}

/**
 * What a long-running Connexa does for its operators: the metrics and health endpoint when
 * METRICS_PORT is set (prom-client and the server are loaded only then) and backups on BACKUP_CRON.
 */
export async function startOps(composed: Composed, opts: { adapters: () => readonly AdapterState[]; version: string }): Promise<Ops> {
  const { config, store, jobs, log, registry, gateways } = composed.app;
  let isStarted = false;
  let isStopping = false;
  let server: OpsServer | null = null;
  if (config.METRICS_PORT) {
    const { startOpsServer } = await import('./http.ts');
    server = await startOpsServer({
      host: config.METRICS_BIND,
      port: config.METRICS_PORT,
      log,
      metrics: { store, jobs, dataDir: config.dataDir, commands: new Set(registry.list.map((c) => c.name)), version: opts.version, gateways },
      health: { store, adapters: opts.adapters, started: () => isStarted, stopping: () => isStopping },
    });
    log.info('metrics and health endpoint listening', { url: `http://${server.address.host}:${server.address.port}/metrics` });
  }
  let task: ScheduledTask | null = null;
  if (config.BACKUP_CRON) {
    const { scheduledBackup } = await import('./scheduled-backup.ts');
    let running = false;
    task = cron.schedule(config.BACKUP_CRON, async () => {
      if (running) return log.warn('backup: the previous one is still going; this tick is skipped');
      running = true;
      try {
        await scheduledBackup({ store, dataDir: config.dataDir, outDir: config.backupDir, keep: config.BACKUP_KEEP, version: opts.version, log });
      } finally {
        running = false;
      }
    });
  }
  return {
    started: () => void (isStarted = true),
    stopping: () => void (isStopping = true),
    async close() {
      isStopping = true;
      await task?.destroy();
      await server?.close();
    },
  };
}
