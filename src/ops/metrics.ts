import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { STATUSES } from '../fleet/node.ts';
import type { GatewayDirectory } from '../gateway/directory.ts';
import type { JobRunner } from '../pipeline/job-runner.ts';
import { JOB_STATES } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import { subscribe } from './events.ts';

/** What the metrics read at scrape time, so that they equal what `stats` and `jobs` say then. */
export interface MetricsSources {
  store: Store;
  jobs: JobRunner;
  dataDir: string;
  /** Command names a chat command may be counted under; anything else counts as `unknown`. */
  commands: ReadonlySet<string>;
  version: string;
  /** The gateways the bot knows (their liveness) and where nodes with no recorded gateway run. */
  gateways?: { directory?: GatewayDirectory; defaultGateway: string };
}

export interface Metrics {
  registry: Registry;
  /** Stops counting events (the registry keeps what it has). */
  close(): void;
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const JOB_SECONDS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200];
const MBPS = [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

/**
 * Every metric Connexa exports (deploy/grafana-dashboard.json and deploy/prometheus-alerts.yml use
 * them; test/ops/deploy.test.ts checks that each name they use is here). Node and job counts are
 * gauges filled from the store when scraped; everything else counts the events of src/ops/events.ts.
 */
export function createMetrics(src: MetricsSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  const { store, jobs } = src;

  new Gauge({
    name: 'connexa_build_info',
    help: 'Always 1; the version in a label',
    labelNames: ['version'],
    registers: [registry],
    collect() {
      this.set({ version: src.version }, 1);
    },
  });
  new Gauge({
    name: 'connexa_nodes',
    help: 'Nodes by status (the figures of `stats`)',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(STATUSES.map((s) => [s, 0]));
      for (const n of store.nodes()) counts.set(n.status, (counts.get(n.status) ?? 0) + 1);
      this.reset();
      for (const [status, n] of counts) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'connexa_jobs',
    help: 'Jobs in the store by kind and state (running ones as `jobs` lists them; finished: the newest 500 kept)',
    labelNames: ['kind', 'state'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>();
      for (const j of store.jobs()) {
        if (j.state === 'running') continue;
        const key = `${j.kind}\0${j.state}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const j of jobs.list()) {
        const key = `${j.record.kind}\0running`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      this.reset();
      for (const [key, n] of counts) {
        const [kind, state] = key.split('\0') as [string, string];
        this.set({ kind, state }, n);
      }
    },
  });
  new Gauge({
    name: 'connexa_jobs_running',
    help: 'Jobs running now',
    registers: [registry],
    collect() {
      this.set(jobs.list().length);
    },
  });
  new Gauge({
    name: 'connexa_job_nodes_left',
    help: 'Nodes not yet checked in the running jobs, by kind',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      const left = new Map<string, number>();
      for (const j of jobs.list()) left.set(j.record.kind, (left.get(j.record.kind) ?? 0) + j.record.total - j.record.done);
      for (const [kind, n] of left) this.set({ kind }, n);
    },
  });
  new Gauge({
    name: 'connexa_store_size_bytes',
    help: 'Size of the store file (connexa.json)',
    registers: [registry],
    collect() {
      try {
        this.set(statSync(join(src.dataDir, 'connexa.json')).size);
      } catch {
        this.set(0);
      }
    },
  });
  new Gauge({
    name: 'connexa_store_writable',
    help: '1 when the last store write succeeded and the data directory is writable',
    registers: [registry],
    collect() {
      this.set(store.readOnly || store.lastWriteError ? 0 : 1);
    },
  });
  new Gauge({
    name: 'connexa_gateway_up',
    help: '1 while a gateway is up (heartbeats within GATEWAY_DEAD_AFTER; the local one while the bot runs), else 0',
    labelNames: ['gateway'],
    registers: [registry],
    collect() {
      this.reset();
      for (const g of src.gateways?.directory?.list() ?? []) this.set({ gateway: g.name }, g.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'connexa_gateway_nodes_online',
    help: 'Online nodes by the gateway that runs their services (the store)',
    labelNames: ['gateway'],
    registers: [registry],
    collect() {
      const gw = src.gateways;
      if (!gw) return;
      // Every known gateway gets a series, 0 included, so a gateway emptied by a failure shows as 0.
      const counts = new Map<string, number>((gw.directory?.list() ?? []).map((g) => [g.name, 0]));
      for (const n of store.nodes()) if (n.status === 'online') counts.set(n.gateway ?? gw.defaultGateway, (counts.get(n.gateway ?? gw.defaultGateway) ?? 0) + 1);
      this.reset();
      for (const [gateway, n] of counts) this.set({ gateway }, n);
    },
  });
  new Gauge({
    name: 'connexa_gateway_heartbeat_age_seconds',
    help: 'Seconds since the last heartbeat arrived from a gateway (since the bot started when none has; 0 for the local one)',
    labelNames: ['gateway'],
    registers: [registry],
    collect() {
      const d = src.gateways?.directory;
      this.reset();
      for (const g of d?.list() ?? []) this.set({ gateway: g.name }, d!.silentMs(g.name) / 1000);
    },
  });

  const jobsFinished = new Counter({ name: 'connexa_jobs_finished_total', help: 'Jobs ended since start, by kind and state', labelNames: ['kind', 'state'], registers: [registry] });
  const jobSeconds = new Histogram({ name: 'connexa_job_duration_seconds', help: 'Wall time of finished jobs', labelNames: ['kind'], buckets: JOB_SECONDS, registers: [registry] });
  const nodeResults = new Counter({ name: 'connexa_node_results_total', help: 'Per-node results of jobs, by kind and outcome', labelNames: ['kind', 'outcome'], registers: [registry] });
  const pingOutcomes = new Counter({ name: 'connexa_ping_outcomes_total', help: 'Ping (PPTP handshake) results by outcome', labelNames: ['outcome'], registers: [registry] });
  const speedDown = new Histogram({ name: 'connexa_speed_down_mbps', help: 'Measured download speed through the tunnel (Mbit/s)', buckets: MBPS, registers: [registry] });
  const speedUp = new Histogram({ name: 'connexa_speed_up_mbps', help: 'Measured upload speed through the tunnel (Mbit/s)', buckets: MBPS, registers: [registry] });
  const monitorRuns = new Counter({ name: 'connexa_monitor_runs_total', help: 'Monitor runs finished', registers: [registry] });
  const monitorTransitions = new Counter({ name: 'connexa_monitor_transitions_total', help: 'Nodes the monitor moved, by new status', labelNames: ['to'], registers: [registry] });
  const alertsSent = new Counter({ name: 'connexa_alerts_sent_total', help: 'Alerts posted', registers: [registry] });
  const commands = new Counter({ name: 'connexa_chat_commands_total', help: 'Chat commands by platform, command and outcome', labelNames: ['platform', 'command', 'outcome'], registers: [registry] });
  const apiCalls = new Counter({ name: 'connexa_platform_api_calls_total', help: 'Slack and Discord API calls by result', labelNames: ['platform', 'result'], registers: [registry] });
  const rateLimited = new Counter({ name: 'connexa_platform_rate_limited_total', help: '429 answers from Slack and Discord', labelNames: ['platform'], registers: [registry] });
  const storeWrites = new Histogram({ name: 'connexa_store_write_duration_seconds', help: 'Duration of store file writes', buckets: SECONDS, registers: [registry] });
  const gatewayStates = new Counter({ name: 'connexa_gateway_state_changes_total', help: 'Gateways seen down (no heartbeat for GATEWAY_DEAD_AFTER) or back up', labelNames: ['gateway', 'state'], registers: [registry] });
  const storeWriteFailures = new Counter({ name: 'connexa_store_write_failures_total', help: 'Store file writes that failed (the data stays in memory and is retried)', registers: [registry] });

  // Series that exist from the start, so that rate() and the alert rules see zeroes, not gaps.
  for (const state of JOB_STATES) if (state !== 'running') jobsFinished.inc({ kind: 'ping', state }, 0);
  for (const platform of ['slack', 'discord']) rateLimited.inc({ platform }, 0);
  for (const to of ['offline', 'online']) monitorTransitions.inc({ to }, 0);

  const unsubscribe = [
    subscribe('job.finished', (e) => {
      jobsFinished.inc({ kind: e.kind, state: e.state });
      jobSeconds.observe({ kind: e.kind }, e.seconds);
    }),
    subscribe('node.result', (e) => {
      nodeResults.inc({ kind: e.kind, outcome: e.outcome }, e.nodes ?? 1);
      if (e.kind === 'ping') pingOutcomes.inc({ outcome: e.outcome }, e.nodes ?? 1);
      if (typeof e.downMbps === 'number') speedDown.observe(e.downMbps);
      if (typeof e.upMbps === 'number') speedUp.observe(e.upMbps);
    }),
    subscribe('monitor.run', (e) => {
      monitorRuns.inc();
      if (e.wentOffline) monitorTransitions.inc({ to: 'offline' }, e.wentOffline);
      if (e.cameBack) monitorTransitions.inc({ to: 'online' }, e.cameBack);
    }),
    subscribe('alert.sent', () => alertsSent.inc()),
    subscribe('gateway.state', (e) => gatewayStates.inc({ gateway: e.gateway, state: e.up ? 'up' : 'down' })),
    subscribe('chat.command', (e) => commands.inc({ platform: e.platform, command: src.commands.has(e.command) ? e.command : 'unknown', outcome: e.outcome })),
    subscribe('platform.call', (e) => apiCalls.inc({ platform: e.platform, result: e.result })),
    subscribe('platform.rate_limited', (e) => rateLimited.inc({ platform: e.platform })),
    subscribe('store.write', (e) => {
      storeWrites.observe(e.seconds);
      if (!e.ok) storeWriteFailures.inc();
    }),
  ];
  return {
    registry,
    close() {
      for (const u of unsubscribe) u();
    },
  };
}
