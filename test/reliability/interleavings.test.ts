// Random interleavings of ping / speed / start / stop / monitor jobs, resets, deletes and imports
// over overlapping nodes, driven step by step with a seed. After every run: each applied status
// change in each node's history is a legal transition of the status machine, and the applied
// changes chain (each starts from the status the previous one left), so no stale result ever
// overwrote a newer status. Set INTERLEAVING_SEED to replay a failure.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { FleetNode } from '../../src/fleet/node.ts';
import { canRun, isLegalChange, type Action } from '../../src/fleet/status-machine.ts';
import { createLogger } from '../../src/log.ts';
import { JobRunner, type Job } from '../../src/pipeline/job-runner.ts';
import type { Stage, StageOutcome } from '../../src/pipeline/stage.ts';
import { Store } from '../../src/store/store.ts';
import { seededRandom as rng } from '../kit/random.ts';

const STEPS = Number(process.env.INTERLEAVING_STEPS ?? 100_000);
const SEED = Number(process.env.INTERLEAVING_SEED ?? Date.now() % 1_000_000);


interface Pending {
  resolve: (o: StageOutcome) => void;
  action: Action;
}

it(`keeps every status change legal over ${STEPS.toLocaleString('en-US')} random steps (seed ${SEED})`, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cnx-interleave-'));
  const store = await Store.open(dir, { flushDelayMs: 1_000 });
  const runner = new JobRunner(store, createLogger('error', () => {}));
  const rand = rng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const pending: Pending[] = [];
  const jobs: Job[] = [];
  let nextIp = 0;
  const addNodes = (n: number) => store.addNodes(Array.from({ length: n }, () => ({ ip: `10.77.${(nextIp >> 8) & 255}.${nextIp++ & 255}`, login: 'u', password: 'p' })), null);
  addNodes(40);

  const stage = (action: Action): Stage => ({
    kind: action,
    action,
    concurrency: 1 + Math.floor(rand() * 4),
    nodeDeadlineMs: 60_000,
    run: (_node: FleetNode, signal: AbortSignal) =>
      new Promise<StageOutcome>((resolve, reject) => {
        pending.push({ resolve, action });
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
  });
  const outcomes: Array<StageOutcome['result']> = ['ok', 'ok', 'fail', 'auth_failed', 'inconclusive'];
  const settle = () => new Promise((r) => setImmediate(r));
  const counts: Record<string, number> = {};
  const started = Date.now();
  // Applied changes already checked (history entries are objects: a Set of them avoids counting twice).
  const checked = new Set<object>();
  const verify = (node: FleetNode) => {
    let last: string | null = null;
    for (const h of node.history) {
      if (h.applied === false) continue;
      expect(isLegalChange(h.from, h.to), `seed ${SEED}: ${node.id} ${h.from} -> ${h.to} (${h.reason})`).toBe(true);
      if (last !== null) expect(h.from, `seed ${SEED}: ${node.id} change from ${h.from} after ${last} — a stale write`).toBe(last);
      last = h.to;
      checked.add(h);
    }
    if (last !== null) expect(node.status, `seed ${SEED}: ${node.id}`).toBe(last);
  };

  try {
    for (let step = 0; step < STEPS; step++) {
      const nodes = store.nodes();
      // Answering a pending check is the commonest event; the rest start, cancel and change things.
      const r = pending.length ? rand() : 0.55 + rand() * 0.45;
      let op: string;
      if (r < 0.55) {
        const i = Math.floor(rand() * pending.length);
        const p = pending.splice(i, 1)[0]!;
        let result = pick(outcomes);
        if (result === 'auth_failed' && p.action !== 'speed') result = 'fail';
        p.resolve({ result, outcome: result, reason: result === 'ok' ? null : 'random', patch: {} });
        op = 'resolve';
      } else if (r < 0.75 && nodes.length) {
        const action = pick<Action>(['ping', 'ping', 'speed', 'start', 'stop', 'monitor']);
        const subset = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => pick(nodes)).filter((n) => canRun(action, n.status));
        jobs.push(runner.start({ stage: stage(action), nodes: [...new Set(subset)], actor: 'prop', selection: action }));
        op = `start-${action}`;
      } else if (r < 0.78) {
        const running = runner.list();
        if (running.length) pick(running).cancel('prop');
        op = 'cancel';
      } else if (r < 0.9 && nodes.length) {
        // What the reset command does: skip leased nodes, go through a compare-and-set.
        const n = pick(nodes);
        if (!runner.leases.holder(n.id) && canRun('reset', n.status) && n.status !== 'not_tested') {
          store.transition({ id: n.id, from: n.status, to: 'not_tested', reason: 'reset', actor: 'prop' });
        }
        op = 'reset';
      } else if (r < 0.93 && nodes.length) {
        // A writer that ignores leases (as a user or the monitor could): jobs holding the node must
        // then lose their compare-and-set instead of overwriting this newer status.
        const leased = nodes.filter((x) => runner.leases.holder(x.id));
        const n = leased.length && rand() < 0.7 ? pick(leased) : pick(nodes);
        const to = pick(['not_tested', 'ping_ok', 'ping_failed', 'speed_ok', 'online', 'offline'] as const);
        if (n.status !== to && isLegalChange(n.status, to)) store.transition({ id: n.id, from: n.status, to, reason: 'outside write', actor: 'prop' });
        op = 'outside-write';
      } else if (r < 0.95 && nodes.length) {
        const victim = pick(nodes);
        if (!runner.leases.holder(victim.id)) verify(victim); // its history goes with it
        store.deleteNodes([victim.id], runner.leases.isLeased);
        op = 'delete';
      } else {
        // Few nodes, so that jobs, resets and outside writes keep meeting on the same ones.
        if (nodes.length < 40) addNodes(1 + Math.floor(rand() * 3));
        op = 'import';
      }
      counts[op] = (counts[op] ?? 0) + 1;
      // Histories are capped: check them often enough that no change scrolls out unchecked.
      if (step % 200 === 0) for (const n of store.nodes()) verify(n);
      await settle();
    }
    // Drain: answer everything still pending, let every job finish.
    while (pending.length || runner.list().length) {
      for (const p of pending.splice(0)) p.resolve({ result: 'ok', outcome: 'ok', reason: null, patch: {} });
      await settle();
    }
    await runner.idle();

    for (const node of store.nodes()) {
      verify(node);
      expect(runner.leases.holder(node.id)).toBeUndefined();
    }
    const finished = jobs.filter((j) => j.record.state !== 'running').length;
    console.log(`interleavings: seed ${SEED}, ${STEPS} steps in ${Date.now() - started} ms, ${jobs.length} jobs (${finished} finished), ${checked.size} status changes checked, ops ${JSON.stringify(counts)}`);
    expect(finished).toBe(jobs.length);
    expect(checked.size).toBeGreaterThan(STEPS / 20);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}, 300_000);
