import pLimit from 'p-limit';
import type { FleetNode, Status } from '../fleet/node.ts';
import { canRun, leadsTo } from '../fleet/status-machine.ts';
import type { Logger } from '../log.ts';
import { onAbort } from '../on-abort.ts';
import { publish } from '../ops/events.ts';
import type { JobRecord } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import { Leases } from './leases.ts';
import type { Stage, StageOutcome } from './stage.ts';
import { StartPacer } from './start-pacer.ts';

export interface Failure {
  id: string;
  ip: string;
  port: number;
  outcome: string;
  reason: string;
}

/** A moment in a job's life, for progress messages. */
export interface JobSnapshot {
  id: string;
  kind: string;
  selection: string;
  total: number;
  done: number;
  counts: Record<string, number>;
  startedAt: number;
  /** Nodes per second so far. */
  rate: number;
  /** Milliseconds left at the current rate; null before the first result. */
  etaMs: number | null;
  state: JobRecord['state'];
}

/** One status change a job made. */
export interface Transition {
  id: string;
  ip: string;
  port: number;
  from: Status;
  to: Status;
  outcome: string;
  reason: string | null;
}

export interface JobSummary extends JobSnapshot {
  elapsedMs: number;
  failures: Failure[];
  transitions: Transition[];
  /** Status changes this job made, e.g. { 'not_tested>ping_ok': 120 }. */
  changes: Record<string, number>;
  note: string | null;
}

export interface JobReporter {
  started?(snapshot: JobSnapshot): void | Promise<void>;
  update?(snapshot: JobSnapshot): void;
  finished?(summary: JobSummary): void | Promise<void>;
}

export interface StartJob {
  stage: Stage;
  nodes: readonly FleetNode[];
  actor: string;
  selection: string;
  reporter?: JobReporter;
}

/**
 * Runs a stage over a selection: per-node leases (busy nodes skipped and counted), p-limit
 * concurrency, a deadline per node, cancellation, progress, a persisted job record, a summary.
 * Every status write is a compare-and-set against the status the node had when its check began.
 */
export class Job {
  /** The store's record of this job: read here, written only through the store. */
  readonly record: Readonly<JobRecord>;
  private doneCount = 0;
  private readonly counts: Record<string, number> = {};
  readonly done: Promise<JobSummary>;
  private readonly controller = new AbortController();
  private readonly startedAt = Date.now();
  private cancelledBy: string | null = null;
  readonly failures: Failure[] = [];
  readonly transitions: Transition[] = [];
  readonly changes: Record<string, number> = {};

  private readonly store: Store;
  private readonly leases: Leases;
  private readonly log: Logger;
  private readonly req: StartJob;
  constructor(store: Store, leases: Leases, log: Logger, req: StartJob) {
    this.store = store;
    this.leases = leases;
    this.log = log;
    this.req = req;
    this.record = store.createJob({ kind: req.stage.kind, actor: req.actor, selection: req.selection, total: req.nodes.length });
    this.done = this.run();
  }

  get id(): string {
    return this.record.id;
  }

  elapsedMs(): number {
    return Date.now() - this.startedAt;
  }

  cancel(by: string): void {
    if (this.record.state !== 'running' || this.controller.signal.aborted) return;
    this.cancelledBy = by;
    this.controller.abort(new Error(`cancelled by ${by}`));
  }

  snapshot(): JobSnapshot {
    const elapsed = Math.max(1, Date.now() - this.startedAt);
    const done = this.doneCount;
    const rate = (done * 1000) / elapsed;
    const left = this.record.total - done;
    return {
      id: this.record.id,
      kind: this.record.kind,
      selection: this.record.selection,
      total: this.record.total,
      done,
      counts: { ...this.counts },
      startedAt: this.startedAt,
      rate,
      etaMs: done > 0 ? (left / rate) * 1000 : null,
      state: this.record.state,
    };
  }

  private count(key: string, speed?: { downMbps?: number | null; upMbps?: number | null } | null): void {
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    publish('node.result', { kind: this.record.kind, outcome: key, downMbps: speed?.downMbps, upMbps: speed?.upMbps });
  }

  private async run(): Promise<JobSummary> {
    const { stage, nodes, reporter } = this.req;
    const jobId = this.record.id;
    const ids = nodes.map((n) => n.id);
    const { taken, busy } = this.leases.lease(ids, jobId);
    const takenSet = new Set(taken);
    if (busy.length) {
      this.counts.busy = busy.length;
      this.doneCount += busy.length;
      publish('node.result', { kind: this.record.kind, outcome: 'busy', nodes: busy.length });
      this.store.recordJobProgress(jobId, { done: this.doneCount, counts: this.counts });
    }
    try {
      await reporter?.started?.(this.snapshot());
    } catch (err) {
      this.log.warn('job progress message failed', { job: jobId, error: (err as Error).message });
    }
    const limit = pLimit(stage.concurrency);
    const pacer = new StartPacer();
    const actor = `${jobId} (${stage.kind}) by ${this.req.actor}`;
    // Nodes are handed to p-limit only as slots come free (a queue of at most `concurrency`), not all
    // at once: enqueueing 15,000 closures in one go held the event loop for ~280 ms at the start.
    let slotFreed: (() => void) | null = null;
    const running: Array<Promise<void>> = [];
    try {
      for (const n of nodes) {
        if (!takenSet.has(n.id)) continue;
        while (limit.pendingCount >= stage.concurrency) await new Promise<void>((r) => (slotFreed = r));
        running.push(
          limit(async () => {
            await pacer.turn();
            try {
              await this.one(n.id, actor);
            } finally {
              this.leases.release([n.id], jobId);
              this.doneCount++;
              this.store.recordJobProgress(jobId, { done: this.doneCount, counts: this.counts }); // persisted, coalesced
              reporter?.update?.(this.snapshot());
              const wake = slotFreed;
              slotFreed = null;
              wake?.();
            }
          }),
        );
      }
      await Promise.all(running);
    } finally {
      this.leases.release(taken, jobId);
    }
    const cancelled = this.controller.signal.aborted;
    const note = cancelled ? `cancelled by ${this.cancelledBy} after ${this.doneCount - (this.counts.cancelled ?? 0)} of ${this.record.total}` : null;
    this.store.recordJobProgress(jobId, { done: this.doneCount, counts: this.counts });
    this.store.updateJob(jobId, { state: cancelled ? 'cancelled' : 'done', finishedAt: new Date().toISOString(), note });
    const summary: JobSummary = { ...this.snapshot(), elapsedMs: Date.now() - this.startedAt, failures: this.failures, transitions: this.transitions, changes: this.changes, note };
    try {
      await stage.afterJob?.(summary);
    } catch (err) {
      this.log.error('the after-job step of a stage failed', { job: jobId, kind: stage.kind, error: (err as Error).message });
    }
    try {
      await reporter?.finished?.(summary);
    } catch (err) {
      this.log.warn('job summary or its failure list could not be posted', { job: jobId, error: (err as Error).message });
    }
    return summary;
  }

  /** Checks one node and writes its result with a compare-and-set. */
  private async one(id: string, actor: string): Promise<void> {
    const { stage } = this.req;
    if (this.controller.signal.aborted) {
      this.count('cancelled');
      return;
    }
    const node = this.store.get(id);
    if (!node) {
      this.count('deleted');
      return;
    }
    const from: Status = node.status;
    if (!canRun(stage.action, from)) {
      this.count('not_allowed');
      return;
    }
    const out = await this.withDeadline(node, stage.nodeDeadlineMs);
    if (out.result === 'inconclusive') {
      this.count(out.outcome);
      return;
    }
    const next = leadsTo(stage.action, from, out.result, out.failsReached ?? true);
    if (!next.ok) {
      // Only a stage that reports a result its action cannot have (auth_failed from ping) gets here.
      this.count('not_allowed');
      return;
    }
    const reason = out.reason ? `${stage.kind}: ${out.outcome} — ${out.reason}` : `${stage.kind}: ${out.outcome}`;
    const write = this.store.transition({ id, from, to: next.to, patch: out.patch, reason, actor });
    if (!write.ok) {
      // The node changed meanwhile (another job, the monitor, a user): recorded in its history, not applied.
      this.count(write.why);
      return;
    }
    this.count(out.outcome, out.patch.speed);
    if (write.changed) {
      this.changes[`${from}>${next.to}`] = (this.changes[`${from}>${next.to}`] ?? 0) + 1;
      this.transitions.push({ id, ip: node.ip, port: node.port, from, to: next.to, outcome: out.outcome, reason: out.reason });
    }
    if (out.result !== 'ok') this.failures.push({ id, ip: node.ip, port: node.port, outcome: out.outcome, reason: out.reason ?? out.outcome });
  }

  /** Runs the stage for one node; past the deadline the node fails with `deadline` whatever the stage does. */
  private withDeadline(node: FleetNode, ms: number): Promise<StageOutcome> {
    const nodeController = new AbortController();
    const jobSignal = this.controller.signal;
    const stopWaiting = onAbort(jobSignal, () => nodeController.abort(jobSignal.reason));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<StageOutcome>((resolve) => {
      timer = setTimeout(() => {
        nodeController.abort(new Error('deadline'));
        resolve({ result: 'fail', outcome: 'deadline', reason: `no result within the ${ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`} deadline`, patch: {} });
      }, ms);
    });
    const work = this.req.stage.run(node, nodeController.signal).catch(
      (err: Error): StageOutcome =>
        this.controller.signal.aborted
          ? { result: 'inconclusive', outcome: 'cancelled', reason: 'the job was cancelled', patch: {} }
          : { result: 'inconclusive', outcome: 'error', reason: `internal error: ${err.message}`, patch: {} },
    );
    return Promise.race([work, deadline]).then((out) => {
      clearTimeout(timer);
      stopWaiting();
      // A node cut short by the job's cancellation learnt nothing: keep its status.
      if (this.controller.signal.aborted && out.result !== 'ok' && out.outcome !== 'deadline') {
        return { ...out, result: 'inconclusive' as const, outcome: 'cancelled' };
      }
      return out;
    });
  }
}

export class JobRunner {
  private readonly running = new Map<string, Job>();
  private readonly waiters: Array<() => void> = [];

  private readonly store: Store;
  private readonly log: Logger;
  /** Which job holds each node; the services' restore takes its leases here too. */
  readonly leases: Leases;
  constructor(store: Store, log: Logger, leases: Leases = new Leases()) {
    this.store = store;
    this.log = log;
    this.leases = leases;
  }

  start(req: StartJob): Job {
    const job = new Job(this.store, this.leases, this.log, req);
    this.running.set(job.id, job);
    this.log.info('job started', { job: job.id, kind: req.stage.kind, nodes: req.nodes.length, by: req.actor });
    void job.done
      .catch((err: Error) => {
        this.log.error('job failed', { job: job.id, error: err.stack ?? err.message });
        this.store.updateJob(job.id, { state: 'failed', finishedAt: new Date().toISOString(), note: `failed: ${err.message}` });
      })
      .finally(() => {
        this.running.delete(job.id);
        publish('job.finished', { kind: job.record.kind, state: job.record.state, seconds: job.elapsedMs() / 1000 });
        this.log.info('job finished', { job: job.id, state: job.record.state, counts: job.record.counts });
        if (this.running.size === 0) for (const w of this.waiters.splice(0)) w();
      });
    return job;
  }

  get(id: string): Job | undefined {
    return this.running.get(id);
  }

  list(): Job[] {
    return [...this.running.values()];
  }

  cancel(id: string, by: string): boolean {
    const job = this.running.get(id);
    if (!job) return false;
    job.cancel(by);
    return true;
  }

  cancelAll(by: string): void {
    for (const job of this.running.values()) job.cancel(by);
  }

  /** Resolves when no job is running. */
  idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
