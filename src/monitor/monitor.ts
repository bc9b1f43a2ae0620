import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../config.ts';
import { csvRows } from '../fleet/export.ts';
import { selectNodes } from '../fleet/filter.ts';
import type { Logger } from '../log.ts';
import type { JobRunner, JobSummary, Transition } from '../pipeline/job-runner.ts';
import { monitorStage, type ServiceCheck } from '../pipeline/stages/monitor.ts';
import { probePolicy } from '../probes/pptp/policy.ts';
import { publish } from '../ops/events.ts';
import type { Store } from '../store/store.ts';
import type { Alerts } from './alerts.ts';

/** Listed one per line in an alert; more than this and the full list comes as a CSV too. */
const ALERT_LIST_LIMIT = 20;
const ENABLED_SETTING = 'monitor.enabled';
const LAST_RUN_SETTING = 'monitor.lastRun';

export interface MonitorRun {
  jobId: string;
  trigger: string;
  startedAt: string;
  finishedAt: string;
  checked: number;
  counts: Record<string, number>;
  wentOffline: number;
  cameBack: number;
  alertsSent: number;
}

/**
 * Re-checks online and offline nodes on a node-cron schedule (MONITOR_CRON) that never overlaps
 * itself, moves nodes between online and offline through the status machine, and alerts once per
 * transition: many transitions in one run become one message, a node that stays down is not
 * announced again, and a node that comes back gets a recovery message.
 */
export class Monitor {
  private task: ScheduledTask | null = null;
  private current: Promise<MonitorRun> | null = null;
  /** The run runAfter() asked for while one was going. */
  private next: Promise<MonitorRun> | null = null;
  /** Checks run on a node after its PPTP handshake passed (its tunnel, proxy and OpenVPN server). */
  readonly checks: ServiceCheck[];

  private readonly deps: { store: Store; jobs: JobRunner; alerts: Alerts; config: Config; log: Logger };
  constructor(
    deps: { store: Store; jobs: JobRunner; alerts: Alerts; config: Config; log: Logger; checks?: readonly ServiceCheck[] },
  ) {
    this.deps = deps;
    this.checks = [...(deps.checks ?? [])];
  }

  get enabled(): boolean {
    return this.deps.store.setting<boolean>(ENABLED_SETTING) ?? true;
  }

  get running(): boolean {
    return this.current !== null;
  }

  get lastRun(): MonitorRun | undefined {
    return this.deps.store.setting<MonitorRun>(LAST_RUN_SETTING);
  }

  /** Starts the schedule (the on/off setting is checked at each tick). */
  start(): void {
    if (this.task) return;
    this.task = cron.schedule(this.deps.config.MONITOR_CRON, () => {
      if (!this.enabled) return;
      if (this.current) {
        this.deps.log.warn('monitor: the previous run is still going; this tick is skipped');
        return;
      }
      void this.run('schedule').catch((err: Error) => this.deps.log.error('monitor run failed', { error: err.message }));
    }, { name: 'connexa-monitor' });
  }

  async stop(): Promise<void> {
    await this.task?.stop();
    this.task = null;
  }

  setEnabled(on: boolean): void {
    this.deps.store.setSetting(ENABLED_SETTING, on);
  }

  /** When the next scheduled run is due, if the schedule is on. */
  nextRunAt(): Date | null {
    return this.task && this.enabled ? (this.task.getNextRun() ?? null) : null;
  }

  /** Runs now; if a run is going, returns that one instead of starting another (no overlap). */
  run(trigger: string): Promise<MonitorRun> {
    if (this.current) return this.current;
    this.current = this.runOnce(trigger).finally(() => {
      this.current = null;
    });
    return this.current;
  }

  /**
   * A run that STARTS after this call: when one is going, one more follows it (requests made
   * meanwhile share that one). For events whose effect the going run may have missed: a gateway
   * that came back while the run was checking its nodes.
   */
  runAfter(trigger: string): Promise<MonitorRun> {
    if (!this.current) return this.run(trigger);
    this.next ??= this.current.catch(() => undefined).then(() => {
      this.next = null;
      return this.run(trigger);
    });
    return this.next;
  }

  private async runOnce(trigger: string): Promise<MonitorRun> {
    const { store, jobs, config, alerts } = this.deps;
    const startedAt = new Date().toISOString();
    const nodes = selectNodes(store.nodes(), { statuses: ['online', 'offline'] });
    const stage = monitorStage({ concurrency: config.PING_CONCURRENCY, timeoutMs: config.PING_TIMEOUT_MS, retries: config.PING_RETRIES, policy: probePolicy(config.PROBE_ALLOW), fails: config.MONITOR_FAILS, checks: this.checks });
    const job = jobs.start({ stage, nodes, actor: `monitor (${trigger})`, selection: 'status:online,offline' });
    const summary = await job.done;
    const down = summary.transitions.filter((t) => t.to === 'offline');
    const up = summary.transitions.filter((t) => t.from === 'offline' && t.to === 'online');
    let alertsSent = 0;
    if (down.length) {
      // A gateway that went down takes its nodes with it at once: said as such, in the same one alert.
      const why = down.every((t) => t.outcome === 'gateway_down') ? 'their gateway is down' : `after ${config.MONITOR_FAILS} failed check${config.MONITOR_FAILS > 1 ? 's' : ''} in a row`;
      await alerts.send(this.alert('🔴', down, 'went offline', why, summary));
      alertsSent++;
    }
    if (up.length) {
      await alerts.send(this.alert('🟢', up, 'came back online', 'services resumed', summary));
      alertsSent++;
    }
    const run: MonitorRun = {
      jobId: summary.id, trigger, startedAt, finishedAt: new Date().toISOString(), checked: summary.total,
      counts: summary.counts, wentOffline: down.length, cameBack: up.length, alertsSent,
    };
    store.setSetting(LAST_RUN_SETTING, run);
    publish('monitor.run', { wentOffline: down.length, cameBack: up.length });
    return run;
  }

  private alert(icon: string, list: Transition[], what: string, why: string, summary: JobSummary) {
    const store = this.deps.store;
    const line = (t: Transition) => {
      const n = store.get(t.id);
      const where = n ? [n.country, n.state, n.city].filter(Boolean).join('/') : '';
      return `• ${t.id} ${t.port === 1723 ? t.ip : `${t.ip}:${t.port}`}${where ? ` (${where})` : ''}${t.to === 'offline' ? ` — ${t.outcome}: ${t.reason ?? ''}` : ''}`;
    };
    const head = list.length === 1 ? `${icon} **${list[0]!.id}** ${what} (${why})` : `${icon} **${list.length} nodes ${what}** (${why}; monitor ${summary.id})`;
    const shown = list.slice(0, ALERT_LIST_LIMIT).map(line);
    const more = list.length > ALERT_LIST_LIMIT ? [`…and ${list.length - ALERT_LIST_LIMIT} more (all in the attached CSV)`] : [];
    const files = list.length > ALERT_LIST_LIMIT
      ? [{ name: `monitor-${summary.id}-${what.replace(/\s+/g, '-')}.csv`, contentType: 'text/csv', data: Buffer.from(csvRows(['id', 'ip', 'port', 'from', 'to', 'outcome', 'reason'], list.map((t) => [t.id, t.ip, t.port, t.from, t.to, t.outcome, t.reason])), 'utf8') }]
      : undefined;
    return { text: [head, ...shown, ...more].join('\n'), files };
  }
}
