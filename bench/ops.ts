/**
 * `npm run bench:ops [-- --nodes 15000 --runs 5 --backup-nodes 100000 --no-scrape --no-backup]`: what operations cost.
 *
 *   1. Scrape cost. A store of N nodes from the loopback sim fleet (its own process: 85 % good,
 *      10 % silent, 5 % closed) and the real ping job pipeline, with the real /metrics server on
 *      127.0.0.1. The job runs alternately without and with a scrape every second (warm-up first,
 *      then `runs` pairs, which one goes first alternating); printed: each wall time, the median
 *      ratio (with / without), /metrics latency p50/p99 of those scrapes and of a back-to-back
 *      series during one more job, and one scrape's own work measured in process: on a shared
 *      machine the wall-time ratio is noisier than the few per cent it is meant to show, so the
 *      share of the event loop a scrape a second takes is printed as well.
 *   2. Backup. A store of M pinged nodes (a PPTP result and a history entry each) is written, then `connexa backup <dir>` (the real program, as an
 *      operator types it) runs under GNU time: wall time, peak RSS, archive size; then restore.
 * Figures only: it never fails because a machine is slow.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { compose } from '../src/compose.ts';
import { parseConfig } from '../src/config.ts';
import type { NodeFields } from '../src/fleet/node.ts';
import { createLogger } from '../src/log.ts';
import { startOpsServer } from '../src/ops/http.ts';
import { createMetrics } from '../src/ops/metrics.ts';
import { pingStage } from '../src/pipeline/stages/ping.ts';
import { probePolicy } from '../src/probes/pptp/policy.ts';
import { Store } from '../src/store/store.ts';
import { startSimProcess } from '../test/kit/sim-process.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '15000' },
    runs: { type: 'string', default: '5' },
    'backup-nodes': { type: 'string', default: '100000' },
    'no-scrape': { type: 'boolean', default: false },
    'no-backup': { type: 'boolean', default: false },
  },
});
const NODES = Number(values.nodes);
const RUNS = Number(values.runs);
const BACKUP_NODES = Number(values['backup-nodes']);
const dir = mkdtempSync(join(tmpdir(), 'cnx-bench-ops-'));

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function scrapeBench(): Promise<void> {
  console.log(`\n== /metrics while a ping job runs: ${NODES.toLocaleString('en-US')} nodes (sim fleet on loopback) ==`);
  const fleet = await startSimProcess({ count: NODES, seed: 42, mix: 'good=0.85,silent=0.1,closed=0.05', dir });
  const config = parseConfig({ DATA_DIR: join(dir, 'data'), PROBE_ALLOW: '127.0.0.0/8', PING_CONCURRENCY: '500', PING_TIMEOUT_MS: '1500', PING_RETRIES: '0', LOG_LEVEL: 'warn' });
  const composed = await compose(config, { log: createLogger('warn') });
  const { store, jobs, registry } = composed.app;
  store.addNodes(fleet.servers.map((s): NodeFields => ({ ip: s.ip, port: s.port, login: s.login, password: s.password })), 'bench');
  await store.flush();
  const server = await startOpsServer({
    host: '127.0.0.1',
    port: 0,
    log: composed.app.log,
    metrics: { store, jobs, dataDir: config.dataDir, commands: new Set(registry.list.map((c) => c.name)), version: 'bench' },
    health: { store, adapters: () => [], started: () => true, stopping: () => false },
  });
  const url = `http://127.0.0.1:${server.address.port}/metrics`;
  const scrape = async (): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(url);
    await res.text();
    return performance.now() - t0;
  };
  const stage = () => pingStage({ concurrency: config.PING_CONCURRENCY, timeoutMs: config.PING_TIMEOUT_MS, retries: config.PING_RETRIES, policy: probePolicy(config.PROBE_ALLOW) });
  const runJob = async (mode: 'none' | 'every-second' | 'back-to-back'): Promise<{ wallMs: number; latencies: number[] }> => {
    const latencies: number[] = [];
    const t0 = performance.now();
    const job = jobs.start({ stage: stage(), nodes: store.nodes(), actor: 'bench', selection: 'all' });
    let done = false;
    void job.done.finally(() => (done = true));
    const scraping = (async () => {
      if (mode === 'none') return;
      while (!done) {
        const wait = mode === 'every-second' ? 1000 : 10;
        await new Promise((r) => setTimeout(r, wait));
        if (!done) latencies.push(await scrape());
      }
    })();
    await job.done;
    const wallMs = performance.now() - t0;
    await scraping;
    return { wallMs, latencies };
  };

  await runJob('none'); // warm-up: first results, JIT, caches
  const without: number[] = [];
  const withScrape: number[] = [];
  const everySecond: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Alternating which goes first cancels a drift of the machine's load across the pairs.
    const first = await runJob(i % 2 ? 'every-second' : 'none');
    const second = await runJob(i % 2 ? 'none' : 'every-second');
    const [a, b] = i % 2 ? [second, first] : [first, second];
    without.push(a.wallMs);
    withScrape.push(b.wallMs);
    everySecond.push(...b.latencies);
    console.log(`  pair ${i + 1}: without scrapes ${(a.wallMs / 1000).toFixed(2)} s, with a scrape every second ${(b.wallMs / 1000).toFixed(2)} s (${b.latencies.length} scrapes)`);
  }
  const ratios = without.map((w, i) => withScrape[i]! / w);
  console.log(`  job wall time: without ${(median(without) / 1000).toFixed(2)} s, with ${(median(withScrape) / 1000).toFixed(2)} s (medians); with/without ratio per pair: ${ratios.map((r) => r.toFixed(3)).join(', ')}; median ${median(ratios).toFixed(3)} (${((median(ratios) - 1) * 100).toFixed(1)} %)`);
  console.log(`  /metrics latency, a scrape a second during the job: p50 ${ms(median(everySecond))}, p99 ${ms(pct(everySecond, 99))}, max ${ms(Math.max(...everySecond))} (${everySecond.length} scrapes)`);
  // What one scrape costs the event loop, measured in process (its own registry over the same
  // store and runner): the share of each second that a scrape a second takes from the job.
  const probe = createMetrics({ store, jobs, dataDir: config.dataDir, commands: new Set(), version: 'bench' });
  const collectMs: number[] = [];
  const measuring = runJob('none');
  while (jobs.list().length === 0) await new Promise((r) => setImmediate(r));
  while (jobs.list().length > 0 && collectMs.length < 100) {
    const t0 = performance.now();
    await probe.registry.metrics();
    collectMs.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 50));
  }
  await measuring;
  probe.close();
  console.log(`  one scrape's own work (collect + format, in process) during a job: p50 ${ms(median(collectMs))}, p99 ${ms(pct(collectMs, 99))} (${collectMs.length} samples): a scrape a second takes ${(median(collectMs) / 10).toFixed(2)} % of the event loop`);
  const burst = await runJob('back-to-back');
  console.log(`  /metrics latency, back to back during a job: p50 ${ms(median(burst.latencies))}, p99 ${ms(pct(burst.latencies, 99))} (${burst.latencies.length} scrapes; the job took ${(burst.wallMs / 1000).toFixed(2)} s)`);
  const idle: number[] = [];
  for (let i = 0; i < 100; i++) idle.push(await scrape());
  const size = (await (await fetch(url)).text()).length;
  console.log(`  /metrics latency, no job: p50 ${ms(median(idle))}, p99 ${ms(pct(idle, 99))}; response ${size.toLocaleString('en-US')} bytes`);
  await server.close();
  await composed.close();
  await fleet.stop();
}

async function backupBench(): Promise<void> {
  console.log(`\n== backup of a ${BACKUP_NODES.toLocaleString('en-US')}-node store ==`);
  const dataDir = join(dir, 'big');
  const store = await Store.open(dataDir);
  const batch: NodeFields[] = [];
  for (let i = 0; i < BACKUP_NODES; i++) {
    batch.push({ ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, login: `user${i}`, password: `pw-${(i * 2654435761) >>> 0}`, country: 'US', state: 'Ohio', city: 'Akron', zip: '44301', provider: 'bench' });
  }
  const added = store.addNodes(batch, 'bench');
  // As after a ping job: a PPTP result and a history entry on every node (the file about doubles).
  const at = new Date().toISOString();
  for (const n of added) {
    store.transition({ id: n.id, from: 'not_tested', to: 'ping_ok', reason: 'ping: ok', actor: 'j1 (ping) by bench', patch: { pptp: { ok: true, latencyMs: 42, vendor: 'MikroTik', hostname: `gw-${n.id}`, firmware: 1, result: 'ok', error: null, checkedAt: at } } });
  }
  await store.close();
  const storeBytes = statSync(join(dataDir, 'connexa.json')).size;
  console.log(`  store file ${(storeBytes / 1e6).toFixed(1)} MB`);
  const connexa = resolve('bin/connexa.js');
  const env = { PATH: process.env.PATH ?? '', HOME: dir, DATA_DIR: dataDir };
  const timed = (args: string[]) => {
    const useTime = existsSync('/usr/bin/time');
    const cmd = useTime ? '/usr/bin/time' : process.execPath;
    const argv = useTime ? ['-f', '%e %M', process.execPath, connexa, ...args] : [connexa, ...args];
    const t0 = performance.now();
    const r = spawnSync(cmd, argv, { env, encoding: 'utf8', cwd: dir });
    const wall = performance.now() - t0;
    const m = useTime ? /(\d+\.\d+) (\d+)\s*$/.exec(r.stderr) : null;
    return { wall, rssMb: m ? Number(m[2]) / 1024 : NaN, out: r.stdout.trim(), status: r.status, err: r.stderr };
  };
  timed(['--version']); // the build, if it is stale, is not part of the figure
  const base = timed(['--version']);
  const out = join(dir, 'backups');
  const b = timed(['backup', out]);
  if (b.status !== 0) throw new Error(`backup failed: ${b.err}`);
  const file = join(out, readdirSync(out)[0]!);
  console.log(`  connexa backup: ${(b.wall / 1000).toFixed(2)} s wall, peak RSS ${b.rssMb.toFixed(0)} MB (connexa --version: ${(base.wall / 1000).toFixed(2)} s, ${base.rssMb.toFixed(0)} MB); archive ${(statSync(file).size / 1e6).toFixed(1)} MB`);
  const restoreDir = join(dir, 'restored');
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, connexa, 'restore', file], { env: { ...env, DATA_DIR: restoreDir }, encoding: 'utf8', cwd: dir });
  const rm = /(\d+\.\d+) (\d+)\s*$/.exec(r.stderr);
  console.log(`  connexa restore (checksums, then the store opened): ${rm?.[1]} s wall, peak RSS ${rm ? (Number(rm[2]) / 1024).toFixed(0) : '?'} MB${r.status === 0 ? '' : ` — FAILED: ${r.stderr.trim()}`}`);
}

try {
  if (!values['no-scrape']) await scrapeBench();
  if (!values['no-backup']) await backupBench();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
