import type { CommandRegistry } from './chat/registry.ts';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Alerts } from './monitor/alerts.ts';
import type { Monitor } from './monitor/monitor.ts';
import type { JobRunner } from './pipeline/job-runner.ts';
import type { Store } from './store/store.ts';

/** What command handlers may use; main.ts builds it. */
export interface App {
  config: Config;
  store: Store;
  log: Logger;
  registry: CommandRegistry;
  jobs: JobRunner;
  alerts: Alerts;
  monitor: Monitor;
}
