import type { CommandRegistry } from './chat/registry.ts';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Alerts } from './monitor/alerts.ts';
import type { Monitor } from './monitor/monitor.ts';
import type { Scheduler } from './monitor/schedules.ts';
import type { JobRunner } from './pipeline/job-runner.ts';
import type { GatewayControl } from './gateway/control.ts';
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
   * The services plane, bot side: the gateways that open tunnels and run the SOCKS5 proxies and
   * OpenVPN servers of online nodes (the local one by default), reached only through the gateway port.
   */
  gateways: GatewayControl;
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
  gateways: GatewayControl;
}
