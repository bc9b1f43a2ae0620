// `node bench/discord-defer.ts`: deferral latency of Discord interactions while a big ping job
// runs, and the edits that job makes. The real discord.js client and the real app run against the
// fake Discord (test/fakes/discord) in this process; the simulated PPTP fleet runs in its own process
// (test/sim/cli.ts) so that its 15,000 listeners and their connections do not eat this process's
// file-descriptor budget. The job is started the way a user would: `/connexa import file:… test=ping`.
// While it runs, BENCH_INTERACTIONS `/connexa stats` commands arrive, one every BENCH_GAP_MS.
// Prints figures; asserts nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { DiscordHarness } from '../test/fakes/discord/harness.ts';
import type { RecordedRequest } from '../test/fakes/discord/index.ts';

const COUNT = Number(process.env.BENCH_NODES ?? 15_000);
const INTERACTIONS = Number(process.env.BENCH_INTERACTIONS ?? 200);
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 100);
// Production defaults (config.ts): 200 probes at once, 3 s per attempt, one retry.
const PING_ENV = { PING_CONCURRENCY: process.env.PING_CONCURRENCY ?? '200', PING_TIMEOUT_MS: process.env.PING_TIMEOUT_MS ?? '3000', PING_RETRIES: process.env.PING_RETRIES ?? '1', LOG_LEVEL: 'info' };

function startFleet(out: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['test/sim/cli.ts', '--count', String(COUNT), '--seed', '1', '--out', out], {
    stdio: ['ignore', 'pipe', 'inherit'],
    // Its own process group: the fleet and anything it starts are stopped as one at the end.
    detached: true,
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the sim fleet did not start within 180 s')), 180_000);
    child.once('exit', (code) => reject(new Error(`the sim fleet exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      process.stdout.write(`  [sim] ${line}\n`);
      if (line.startsWith('sim fleet ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
  });
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

/** The most accepted message edits in any 5 s window, per channel. */
function peakPer5s(reqs: readonly RecordedRequest[]): { peak: number; channel: string | null } {
  const byChannel = new Map<string, number[]>();
  for (const r of reqs) if (r.route === 'PATCH /channels/:id/messages/:id' && r.status === 200) byChannel.set(r.channelId!, [...(byChannel.get(r.channelId!) ?? []), r.at]);
  let best = { peak: 0, channel: null as string | null };
  for (const [channel, times] of byChannel) {
    for (let i = 0, j = 0; j < times.length; j++) {
      while (times[j]! - times[i]! >= 5000) i++;
      if (j - i + 1 > best.peak) best = { peak: j - i + 1, channel };
    }
  }
  return best;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cnx-bench-discord-'));
  const fleetFile = join(dir, 'fleet.txt');
  console.log(`discord-defer: ${COUNT.toLocaleString('en-US')} simulated PPTP servers, ${INTERACTIONS} /connexa stats during the ping (one every ${GAP_MS} ms)`);
  const fleet = await startFleet(fleetFile);
  const h = await new DiscordHarness({ fake: { heartbeatMs: 1000 } }).start(PING_ENV);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  // This runs outside vitest (no vi.waitFor): poll the channel for the message waited for.
  const shown = async (match: (m: ReturnType<typeof h.publicMessages>[number]) => boolean, ms: number, what: string) => {
    for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
      const m = h.publicMessages().find(match);
      if (m) return m;
    }
    throw new Error(what);
  };
  try {
    const data = readFileSync(fleetFile);
    const t0 = performance.now();
    const importAck = await h.send('import test=ping', 'operator', { name: 'fleet.txt', data }).acked;
    // The job has started once its progress message is up.
    const parentId = (await shown((m) => /^⏳ \*\*ping j1\*\*/.test(m.text), 120_000, 'no progress message yet')).id;
    const jobStart = performance.now();
    console.log(`  import of ${(data.length / 1024).toFixed(0)} KiB deferred in ${importAck} ms; report and progress message after ${((jobStart - t0) / 1000).toFixed(1)} s`);
    loop.enable();
    const acks: Array<{ ms: number; duringJob: boolean }> = [];
    const jobRunning = () => h.app.app.jobs.list().length > 0;
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < INTERACTIONS; i++) {
      const during = jobRunning();
      const sent = h.send('stats chart=no', 'viewer');
      pending.push(sent.acked.then((ms) => void acks.push({ ms, duringJob: during })));
      await new Promise((r) => setTimeout(r, GAP_MS));
    }
    await Promise.all(pending);
    await h.app.idle();
    loop.disable();
    const jobMs = performance.now() - jobStart;
    await shown((m) => m.id === parentId && m.text.includes('finished'), 60_000, 'no summary yet');
    const job = h.app.app.store.jobs().find((j) => j.id === 'j1')!;
    const ms = acks.map((a) => a.ms).sort((a, b) => a - b);
    const during = acks.filter((a) => a.duringJob).length;
    const reqs = h.fake.requests;
    const parentEdits = reqs.filter((r) => r.route === 'PATCH /channels/:id/messages/:id' && r.messageId === parentId && r.status === 200).length;
    const allEdits = reqs.filter((r) => r.route === 'PATCH /channels/:id/messages/:id' && r.status === 200).length;
    const peak = peakPer5s(reqs);
    const st = h.adapter.stats();
    const thread = h.publicMessages().filter((m) => m.threadOf === parentId);
    console.log('');
    console.log(`ping j1: ${job.total.toLocaleString('en-US')} nodes in ${(jobMs / 1000).toFixed(1)} s (${((job.total * 1000) / jobMs).toFixed(0)} nodes/s); ${Object.entries(job.counts).map(([k, v]) => `${k} ${v}`).join(' · ')}`);
    console.log(`deferral latency, ${acks.length} interactions (${during} sent while the job ran), INTERACTION_CREATE sent -> callback received:`);
    console.log(`  median ${pct(ms, 50)} ms · p95 ${pct(ms, 95)} ms · p99 ${pct(ms, 99)} ms · max ${ms.at(-1)} ms (Discord allows 3,000 ms)`);
    console.log(`  event-loop delay while they ran: mean ${(loop.mean / 1e6).toFixed(1)} ms · p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms · max ${(loop.max / 1e6).toFixed(1)} ms`);
    console.log(`edits: ${parentEdits} of the job's progress message (${(parentEdits / (jobMs / 60_000)).toFixed(1)}/min), ${allEdits} in all; peak ${peak.peak} edits per 5 s in one channel (Discord's bucket: 5)`);
    console.log(`429s from Discord: ${st.rateLimited}; pre-emptive waits in discord.js: ${st.preemptiveWaits}; time edits waited in the adapter's window: ${st.editWaitMs} ms`);
    console.log(`summary in the progress message: yes; failures thread: ${thread.length} message(s), ${thread.flatMap((m) => m.files).map((f) => `${f.name} ${(f.data.length / 1024).toFixed(0)} KiB`).join(', ')}`);
    console.log(`placeholders left: ${h.fake.pendingPlaceholders().length}; interactions deferred ${st.interactions.deferred}/${st.interactions.received}`);
  } finally {
    await h.stop();
    const exited = new Promise((r) => fleet.once('exit', r));
    if (fleet.pid) process.kill(-fleet.pid, 'SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
