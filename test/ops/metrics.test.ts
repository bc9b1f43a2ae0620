import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATUSES } from '../../src/fleet/node.ts';
import type { AdapterState } from '../../src/ops/health.ts';
import type { Stage } from '../../src/pipeline/stage.ts';
import { startOpsServer, type OpsServer } from '../../src/ops/http.ts';
import { startSimFleet, type SimFleet } from '../sim/fleet.ts';
import { RecordingPort } from '../kit/recording-port.ts';
import { ADMIN, fileOf, OPERATOR, testApp, VIEWER, type TestApp } from '../kit/app.ts';

/** A chat port that shows buttons (Slack and Discord do; the terminal does not). */
class ButtonPort extends RecordingPort {
  readonly buttons = true;
}

/** A GET on the ops server: real HTTP over loopback. */
async function get(server: OpsServer, path: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(`http://${server.address.host}:${server.address.port}${path}`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** `name{a="x",b="y"} 12` lines of the Prometheus text format, as [labels, value]. */
function samples(text: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}
const one = (text: string, name: string, labels: Record<string, string> = {}) =>
  samples(text, name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('the metrics and health endpoint on a running bot', () => {
  let fleet: SimFleet;
  let t: TestApp;
  let server: OpsServer;
  let started = false;
  let stopping = false;
  const adapters: Array<AdapterState & { up: boolean }> = [];

  beforeAll(async () => {
    fleet = await startSimFleet({ count: 400, seed: 77, mix: { good: 0.6, silent: 0.1, closed: 0.2, rejecting: 0.1 } });
    t = await testApp({ PING_TIMEOUT_MS: '800', PING_RETRIES: '0' });
    server = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      log: t.app.log,
      metrics: { store: t.app.store, jobs: t.app.jobs, dataDir: t.app.config.dataDir, commands: new Set(t.app.registry.list.map((c) => c.name)), version: '9.9.9' },
      health: { store: t.app.store, adapters: () => adapters, started: () => started, stopping: () => stopping },
    });
    expect((await t.run('import', OPERATOR, [fileOf('fleet.txt', fleet.importText())])).kind).toBe('ok');
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await t?.dispose();
    await fleet?.close();
  });

  it('counts while a ping job runs are consistent, and equal `stats` and `jobs` once it is done', async () => {
    expect((await t.run('ping', OPERATOR)).kind).toBe('ok');
    const during = await get(server, '/metrics');
    expect(during.status).toBe(200);
    expect(during.type).toContain('text/plain');
    expect(one(during.body, 'connexa_jobs_running')).toBe(t.app.jobs.list().length > 0 ? 1 : 0);
    expect(samples(during.body, 'connexa_nodes').reduce((s, x) => s + x.value, 0)).toBe(400);
    await t.app.jobs.idle();

    const after = (await get(server, '/metrics')).body;
    const seen = t.port.calls.length;
    const stats = await t.run('stats', VIEWER);
    expect(stats.kind).toBe('ok');
    const statsText = t.port.calls.slice(seen).map((c) => ('msg' in c ? c.msg.text : '')).join('\n');
    expect(statsText).toContain('400 nodes');
    for (const status of STATUSES) {
      const n = one(after, 'connexa_nodes', { status });
      expect(n, status).toBeDefined();
      // `stats` prints `status | nodes` rows.
      const row = new RegExp(`^\\s*${status}\\s*[|│]?\\s*([\\d,]+)`, 'm').exec(statsText);
      expect(Number(row?.[1]?.replace(/,/g, '') ?? 'NaN'), status).toBe(n);
    }
    expect(one(after, 'connexa_jobs_running')).toBe(0);
    const jobs = await t.run('jobs', VIEWER);
    expect(jobs.kind).toBe('ok');
    const finished = t.app.store.jobs().filter((j) => j.kind === 'ping' && j.state === 'done').length;
    expect(one(after, 'connexa_jobs', { kind: 'ping', state: 'done' })).toBe(finished);
    expect(one(after, 'connexa_jobs_finished_total', { kind: 'ping', state: 'done' })).toBe(1);
    expect(one(after, 'connexa_job_duration_seconds_count', { kind: 'ping' })).toBe(1);

    // Per-outcome counts equal the job record's.
    const record = t.app.store.jobs().at(-1)!;
    for (const [outcome, n] of Object.entries(record.counts)) {
      expect(one(after, 'connexa_ping_outcomes_total', { outcome }), outcome).toBe(n);
      expect(one(after, 'connexa_node_results_total', { kind: 'ping', outcome }), outcome).toBe(n);
    }
    expect(one(after, 'connexa_ping_outcomes_total', { outcome: 'ok' })).toBe(fleet.servers.filter((s) => s.behaviour === 'good').length);
  }, 60_000);

  it('two ping jobs at once: the busy nodes of the second are counted too, every outcome as the job records say', async () => {
    const before = (await get(server, '/metrics')).body;
    const jobsBefore = t.app.store.jobs().length;
    expect((await t.run('ping', OPERATOR)).kind).toBe('ok');
    expect((await t.run('ping', OPERATOR)).kind).toBe('ok');
    await t.app.jobs.idle();
    const after = (await get(server, '/metrics')).body;
    const records = t.app.store.jobs().slice(jobsBefore);
    expect(records).toHaveLength(2);
    const total: Record<string, number> = {};
    for (const r of records) for (const [k, n] of Object.entries(r.counts)) total[k] = (total[k] ?? 0) + n;
    expect(total.busy).toBeGreaterThan(0);
    for (const [outcome, n] of Object.entries(total)) {
      expect((one(after, 'connexa_ping_outcomes_total', { outcome }) ?? 0) - (one(before, 'connexa_ping_outcomes_total', { outcome }) ?? 0), outcome).toBe(n);
    }
    expect(one(after, 'connexa_jobs_finished_total', { kind: 'ping', state: 'done' })).toBe(3);
  }, 60_000);

  it('speed figures from a speed job land in the histograms', async () => {
    // The real job runner and store with a stage that reports fixed figures (the tunnel is not what is tested here).
    const figures = [0.8, 4, 30, 250];
    const nodes = t.app.store.nodes().filter((n) => n.status === 'ping_ok').slice(0, figures.length);
    expect(nodes).toHaveLength(figures.length);
    const stage: Stage = {
      kind: 'speed', action: 'speed', concurrency: 2, nodeDeadlineMs: 5000,
      async run(node) {
        const down = figures[nodes.findIndex((n) => n.id === node.id)]!;
        return { result: 'ok', outcome: 'ok', reason: null, patch: { speed: { downMbps: down, upMbps: down / 2, error: null, checkedAt: new Date().toISOString() } } };
      },
    };
    await t.app.jobs.start({ stage, nodes, actor: 'test', selection: 'test' }).done;
    const text = (await get(server, '/metrics')).body;
    expect(one(text, 'connexa_speed_down_mbps_count')).toBe(4);
    expect(one(text, 'connexa_speed_down_mbps_sum')).toBeCloseTo(284.8);
    expect(one(text, 'connexa_speed_down_mbps_bucket', { le: '1' })).toBe(1);
    expect(one(text, 'connexa_speed_down_mbps_bucket', { le: '50' })).toBe(3);
    expect(one(text, 'connexa_speed_up_mbps_sum')).toBeCloseTo(142.4);
    expect(one(text, 'connexa_node_results_total', { kind: 'speed', outcome: 'ok' })).toBe(4);
    expect(one(text, 'connexa_nodes', { status: 'speed_ok' })).toBe(4);
  });

  it('counts chat commands by platform, command and outcome; an unknown word is `unknown`', async () => {
    const before = (await get(server, '/metrics')).body;
    const base = one(before, 'connexa_chat_commands_total', { platform: 'slack', command: 'stats', outcome: 'ok' }) ?? 0;
    await t.run('stats', VIEWER);
    await t.run('delete all', VIEWER); // a viewer may not delete
    await t.run('frobnicate-9f2c', ADMIN);
    const text = (await get(server, '/metrics')).body;
    expect(one(text, 'connexa_chat_commands_total', { platform: 'slack', command: 'stats', outcome: 'ok' })).toBe(base + 1);
    expect(one(text, 'connexa_chat_commands_total', { platform: 'slack', command: 'delete', outcome: 'denied' })).toBe(1);
    expect(text).not.toContain('frobnicate');
    expect(one(text, 'connexa_chat_commands_total', { platform: 'slack', command: 'unknown' })).toBeGreaterThanOrEqual(1);
  });

  it('counts a button press under the command it acts for (Cancel of a delete prompt is `delete`, Next is `list`)', async () => {
    const port = new ButtonPort();
    const count = (text: string, command: string, outcome: string) => one(text, 'connexa_chat_commands_total', { platform: 'slack', command, outcome }) ?? 0;
    const press = (actionId: string) => t.dispatcher.press(port, { actionId, actor: ADMIN, where: { key: 'C1' }, update: async () => undefined });
    const before = (await get(server, '/metrics')).body;
    await t.dispatcher.dispatch(port, { text: 'delete all', files: [], actor: ADMIN, where: { key: 'C1' } });
    const prompt = port.private().flatMap((m) => m.actions ?? []);
    await t.dispatcher.dispatch(port, { text: 'list all', files: [], actor: ADMIN, where: { key: 'C1' } });
    const next = port.public().flatMap((m) => m.actions ?? []).find((a) => a.label.startsWith('Next'))!;
    expect(await press(prompt.find((a) => a.label === 'Cancel')!.id)).toMatchObject({ kind: 'ok', command: 'delete' });
    expect(await press(prompt.find((a) => a.label === 'Confirm')!.id)).toMatchObject({ kind: 'pressRefused', command: 'delete' }); // spent by Cancel
    expect(await press(next.id)).toMatchObject({ kind: 'ok', command: 'list' });
    const after = (await get(server, '/metrics')).body;
    expect(count(after, 'delete', 'ok') - count(before, 'delete', 'ok')).toBe(1);
    expect(count(after, 'delete', 'pressRefused') - count(before, 'delete', 'pressRefused')).toBe(1);
    // The typed `list all` and the press.
    expect(count(after, 'list', 'ok') - count(before, 'list', 'ok')).toBe(2);
    expect(count(after, 'unknown', 'ok') - count(before, 'unknown', 'ok')).toBe(0);
    expect(t.app.store.nodes()).toHaveLength(400);
  });

  it('exports monitor runs, store writes, store size, event-loop lag, process metrics and the version', async () => {
    expect((await t.run('monitor run', ADMIN)).kind).toBe('ok');
    await t.app.jobs.idle();
    await t.app.store.flush();
    const text = (await get(server, '/metrics')).body;
    expect(one(text, 'connexa_store_write_duration_seconds_count')).toBeGreaterThan(0);
    expect(one(text, 'connexa_store_size_bytes')).toBeGreaterThan(1000);
    expect(one(text, 'connexa_store_writable')).toBe(1);
    expect(one(text, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
    expect(one(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(one(text, 'connexa_build_info', { version: '9.9.9' })).toBe(1);
    expect(one(text, 'connexa_monitor_runs_total')).toBe(1);
    expect(one(text, 'connexa_monitor_transitions_total', { to: 'offline' })).toBe(0);
    for (const name of ['connexa_platform_rate_limited_total', 'connexa_monitor_transitions_total', 'connexa_alerts_sent_total', 'connexa_speed_down_mbps']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it('/healthz and /readyz: ok, 503 with the reason while starting, when an adapter is down, when the store cannot be written', async () => {
    expect(await get(server, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(server, '/readyz')).toMatchObject({ status: 503, body: 'starting\n' });
    started = true;
    expect(await get(server, '/readyz')).toMatchObject({ status: 200, body: 'ok\n' });

    const slack = { platform: 'slack', up: false, connected: () => slack.up };
    adapters.push(slack);
    expect(await get(server, '/healthz')).toMatchObject({ status: 503, body: 'slack: not connected\n' });
    expect((await get(server, '/readyz')).status).toBe(503);
    slack.up = true;
    expect((await get(server, '/healthz')).status).toBe(200);

    // The store file's place taken by a directory: the next write fails for real.
    const file = join(t.app.config.dataDir, 'connexa.json');
    await rm(file);
    await mkdir(join(file, 'blocked'), { recursive: true });
    t.app.store.setSetting('ops.test', 1);
    await expect(t.app.store.flush()).rejects.toThrow();
    const down = await get(server, '/healthz');
    expect(down.status).toBe(503);
    expect(down.body).toMatch(/^store not writable: /);
    const text = (await get(server, '/metrics')).body;
    expect(one(text, 'connexa_store_writable')).toBe(0);
    expect(one(text, 'connexa_store_write_failures_total')).toBeGreaterThanOrEqual(1);
    // The failed write raised the "cannot save" alert.
    expect(one(text, 'connexa_alerts_sent_total')).toBeGreaterThanOrEqual(1);
    await rm(file, { recursive: true });
    await t.app.store.flush();
    expect((await get(server, '/healthz')).status).toBe(200);

    stopping = true;
    expect(await get(server, '/readyz')).toMatchObject({ status: 503, body: 'shutting down\n' });
  });

  it('answers nothing else: 404 for other paths, 405 for other methods', async () => {
    expect((await get(server, '/')).status).toBe(404);
    const res = await fetch(`http://127.0.0.1:${server.address.port}/metrics`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
  });
});
