import type { CommandRegistry } from './chat/registry.ts';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Alerts } from './monitor/alerts.ts';
import type { Monitor } from './monitor/monitor.ts';
import type { Scheduler } from './monitor/schedules.ts';
import type { JobRunner } from './pipeline/job-runner.ts';
import type { Capability, TunnelDriver } from './probes/tunnel/index.ts';
import type { ServiceManager } from './services/manager.ts';
import type { Store } from './store/store.ts';

/** The running application; compose.ts builds it. */
export interface App {
  config: Config;
  store: Store;
  log: Logger;
  registry: CommandRegistry;
  jobs: JobRunner;
  alerts: Alerts;
  monitor: Monitor;
  /** Recurring command lines (`schedule`) and the weekly digest. */
  schedules: Scheduler;
  /**
   * The one tunnel driver (speed tests and services share it: it queues tunnels to the same server,
   * which pptpd serves one at a time) and the host check asked before any tunnel job starts.
   */
  tunnels: { driver: TunnelDriver | null; capability(): Capability };
  /** SOCKS5 proxies, OpenVPN servers and profiles of online nodes. */
  services: ServiceManager;
}

/**
 * What command handlers may use: the app's parts, each cut to what commands call. No alerts hub,
 * no job or monitor lifecycle (cancelAll, start, stop): those belong to the process, not to a command.
 */
export interface CommandServices {
  config: Config;
  store: Store;
  log: Logger;
  registry: Pick<CommandRegistry, 'list' | 'get'>;
  jobs: Pick<JobRunner, 'start' | 'list' | 'cancel' | 'leases'>;
  monitor: Pick<Monitor, 'enabled' | 'running' | 'lastRun' | 'nextRunAt' | 'setEnabled' | 'run'>;
  schedules: Pick<Scheduler, 'list' | 'get' | 'add' | 'remove' | 'nextRunAt'>;
  tunnels: App['tunnels'];
  services: ServiceManager;
}
