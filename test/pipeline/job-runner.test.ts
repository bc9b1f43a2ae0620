import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FleetNode } from '../../src/fleet/node.ts';
import { createLogger } from '../../src/log.ts';
import { JobRunner } from '../../src/pipeline/job-runner.ts';
import type { Stage, StageOutcome } from '../../src/pipeline/stage.ts';
import { pingStage } from '../../src/pipeline/stages/ping.ts';
import { probePolicy } from '../../src/probes/pptp/policy.ts';
import { Store } from '../../src/store/store.ts';
import { useSimFleet } from '../kit/sim-fleet.ts';


/** The simulated fleet listens on loopback, which the probe refuses unless told. */
const LOOPBACK = probePolicy('127.0.0.0/8');

const log = createLogger('error');
let dir: string;
let store: Store;
let runner: JobRunner;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnx-job-'));
  store = await Store.open(dir);
  runner = new JobRunner(store, log);
});
afterEach(async () => {
  runner.cancelAll('test end');
  await runner.idle();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** A stage under the test's control: each node waits for `gate` and returns what `decide` says. */
function controlledStage(decide: (n: FleetNode) => StageOutcome | 'hang', opts: { concurrency?: number; deadlineMs?: number } = {}): Stage & { started: string[] } {
  const started: string[] = [];
  return {
    kind: 'ping',
    action: 'ping',
    concurrency: opts.concurrency ?? 4,
    nodeDeadlineMs: opts.deadlineMs ?? 5_000,
    started,
    run(node, signal) {
      started.push(node.id);
      const d = decide(node);
      if (d === 'hang') {
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      }
      return new Promise((resolve) => setTimeout(() => resolve(d), 5));
    },
  };
}

const okOutcome: StageOutcome = { result: 'ok', outcome: 'ok', reason: null, patch: {} };
const add = (n: number, from = 0) => store.addNodes(Array.from({ length: n }, (_, i) => ({ ip: `10.9.${(from + i) >> 8}.${(from + i) & 255}`, login: 'u', password: 'p' })), null);

describe('job runner', () => {
  it("runs a stage's after-job step once every node is done and before the report; a failing one leaves the results standing", async () => {
    const nodes = add(3);
    const order: string[] = [];
    const stage: Stage = {
      ...controlledStage(() => okOutcome),
      async afterJob(summary) {
        order.push(`afterJob ${summary.done}/${summary.total} ${store.get(nodes[0]!.id)!.status}`);
        throw new Error('after-job trouble');
      },
    };
    const job = runner.start({ stage, nodes, actor: 'test', selection: 'all', reporter: { finished: (s) => void order.push(`finished ${s.counts.ok}`) } });
    await job.done;
    expect(order).toEqual(['afterJob 3/3 ping_ok', 'finished 3']);
    expect(store.jobs().at(-1)!.state).toBe('done');
  });

  it('runs a stage over every node, writes statuses and persists the job record', async () => {
    const nodes = add(20);
    const stage = controlledStage((n) => (Number(n.id.slice(1)) % 4 === 0 ? { result: 'fail', outcome: 'refused', reason: 'connection refused', patch: {} } : okOutcome));
    const job = runner.start({ stage, nodes, actor: 'slack:U1', selection: 'all' });
    const summary = await job.done;
    expect(summary.counts).toEqual({ ok: 15, refused: 5 });
    expect(summary.changes).toEqual({ 'not_tested>ping_ok': 15, 'not_tested>ping_failed': 5 });
    expect(summary.failures.map((f) => f.id)).toEqual(['n4', 'n8', 'n12', 'n16', 'n20']);
    expect(store.get('n4')!.history.at(-1)).toMatchObject({ from: 'not_tested', to: 'ping_failed', reason: 'ping: refused — connection refused', actor: `${job.id} (ping) by slack:U1` });
    expect(store.jobs().find((j) => j.id === job.id)).toMatchObject({ state: 'done', total: 20, done: 20, counts: { ok: 15, refused: 5 } });
    for (const n of nodes) expect(runner.leases.holder(n.id)).toBeUndefined();
  });

  it('skips nodes held by another job as busy', async () => {
    const nodes = add(10);
    const slow = runner.start({ stage: controlledStage(() => 'hang', { concurrency: 10 }), nodes: nodes.slice(0, 6), actor: 'a', selection: 'first' });
    const second = await runner.start({ stage: controlledStage(() => okOutcome), nodes, actor: 'b', selection: 'all' }).done;
    expect(second.counts).toEqual({ busy: 6, ok: 4 });
    slow.cancel('test');
    const first = await slow.done;
    expect(first.state).toBe('cancelled');
    expect(first.counts).toEqual({ cancelled: 6 });
    // Nodes cut short by the cancellation keep their status: nothing was learnt about them.
    for (const n of nodes.slice(0, 6)) expect(store.get(n.id)!.status).toBe('not_tested');
  });

  it('does not overwrite a status that changed meanwhile, and says so', async () => {
    const [a, b] = add(2);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const stage: Stage = {
      kind: 'ping', action: 'ping', concurrency: 2, nodeDeadlineMs: 5_000,
      run: async () => {
        await gate;
        return { result: 'fail', outcome: 'timeout_reply', reason: 'no reply', patch: {} };
      },
    };
    const job = runner.start({ stage, nodes: [a!, b!], actor: 'a', selection: 's' });
    await new Promise((r) => setTimeout(r, 20));
    // Meanwhile somebody else records a success on a (e.g. a user-triggered check that finished first).
    store.transition({ id: a!.id, from: 'not_tested', to: 'ping_ok', reason: 'other check', actor: 'other' });
    release();
    const summary = await job.done;
    expect(summary.counts).toEqual({ changed_meanwhile: 1, timeout_reply: 1 });
    expect(store.get(a!.id)!.status).toBe('ping_ok');
    expect(store.get(a!.id)!.history.at(-1)).toMatchObject({ from: 'not_tested', to: 'ping_failed', applied: false });
    expect(store.get(b!.id)!.status).toBe('ping_failed');
  });

  it('fails a node that passes its deadline and moves on', async () => {
    const nodes = add(3);
    const stage = controlledStage((n) => (n.id === 'n2' ? 'hang' : okOutcome), { deadlineMs: 150 });
    const summary = await runner.start({ stage, nodes, actor: 'a', selection: 's' }).done;
    expect(summary.counts).toEqual({ ok: 2, deadline: 1 });
    expect(store.get('n2')!.status).toBe('ping_failed');
    expect(store.get('n2')!.history.at(-1)!.reason).toBe('ping: deadline — no result within the 150 ms deadline');
  });

  it('leaves a node alone when the check could not be made', async () => {
    const nodes = add(2);
    const stage = controlledStage(() => ({ result: 'inconclusive', outcome: 'local_error', reason: 'EMFILE', patch: {} }));
    const summary = await runner.start({ stage, nodes, actor: 'a', selection: 's' }).done;
    expect(summary.counts).toEqual({ local_error: 2 });
    expect(nodes.map((n) => store.get(n.id)!.status)).toEqual(['not_tested', 'not_tested']);
  });

  it('skips nodes whose status no longer allows the action', async () => {
    const [a] = add(1);
    store.transition({ id: a!.id, from: 'not_tested', to: 'ping_ok', reason: 'x', actor: 't' });
    store.transition({ id: a!.id, from: 'ping_ok', to: 'speed_ok', reason: 'x', actor: 't' });
    store.transition({ id: a!.id, from: 'speed_ok', to: 'online', reason: 'x', actor: 't' });
    const summary = await runner.start({ stage: controlledStage(() => okOutcome), nodes: [a!], actor: 'a', selection: 's' }).done;
    expect(summary.counts).toEqual({ not_allowed: 1 });
  });

  it('reports progress with rate and ETA, and idle() waits for every job', async () => {
    const nodes = add(30);
    const seen: number[] = [];
    runner.start({ stage: controlledStage(() => okOutcome, { concurrency: 3 }), nodes, actor: 'a', selection: 's', reporter: { update: (s) => seen.push(s.done) } });
    await runner.idle();
    expect(seen).toHaveLength(30);
    expect(seen.at(-1)).toBe(30);
    expect(runner.list()).toEqual([]);
  });
});

describe('ping over a simulated fleet', () => {
  const fleet = useSimFleet({ count: 240, seed: 7, mix: { good: 0.4, slow: 0.1, silent: 0.3, rejecting: 0.05, garbage: 0.05, closed: 0.1 }, slowDelayMs: 100 });

  it('decides every server by its behaviour; a third silent does not hang the batch', async () => {
    const nodes = store.addNodes(fleet.servers.map((s) => ({ ip: s.ip, port: s.port, login: s.login, password: s.password })), 'sim');
    const summary = await runner.start({ stage: pingStage({ concurrency: 60, timeoutMs: 400, retries: 0, policy: LOOPBACK }), nodes, actor: 'test', selection: 'sim' }).done;
    const expected: Record<string, string> = { good: 'ok', slow: 'ok', silent: 'timeout_reply', rejecting: 'rejected', garbage: 'not_pptp', closed: 'refused' };
    for (const [i, s] of fleet.servers.entries()) {
      const n = store.get(nodes[i]!.id)!;
      expect(n.pptp?.result, `${s.ip} ${s.behaviour}`).toBe(expected[s.behaviour]);
      expect(n.status).toBe(expected[s.behaviour] === 'ok' ? 'ping_ok' : 'ping_failed');
      if (s.behaviour === 'good') expect([n.pptp!.vendor, n.pptp!.hostname]).toEqual([s.vendor, s.hostname]);
    }
    const silent = fleet.servers.filter((s) => s.behaviour === 'silent').length;
    expect(summary.counts.timeout_reply).toBe(silent);
    expect(summary.total).toBe(240);
  });

  it('keeps speed_ok when a ping passes, and demotes it when the ping fails', async () => {
    const good = fleet.servers.find((s) => s.behaviour === 'good')!;
    const closed = fleet.servers.find((s) => s.behaviour === 'closed')!;
    const nodes = store.addNodes([good, closed].map((s) => ({ ip: s.ip, login: s.login, password: s.password })), 'sim');
    for (const n of nodes) {
      store.transition({ id: n.id, from: 'not_tested', to: 'ping_ok', reason: 'x', actor: 't' });
      store.transition({ id: n.id, from: 'ping_ok', to: 'speed_ok', reason: 'x', actor: 't' });
    }
    const summary = await runner.start({ stage: pingStage({ concurrency: 2, timeoutMs: 500, retries: 0, policy: LOOPBACK }), nodes, actor: 't', selection: 's' }).done;
    expect(store.get(nodes[0]!.id)!.status).toBe('speed_ok');
    expect(store.get(nodes[1]!.id)!.status).toBe('ping_failed');
    expect(summary.changes).toEqual({ 'speed_ok>ping_failed': 1 });
  });
});
