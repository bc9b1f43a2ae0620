/**
 * The bot's side of one remote gateway: each GatewayPort method is one BullMQ job on the gateway's
 * queue, awaited through QueueEvents with a deadline and the caller's AbortSignal.
 *
 * Exactly once: a job's id is fixed before it is added (a uuid per call, or the caller's key for a
 * start that must never run twice, see startOnce). BullMQ keeps one job per id, and a finished job
 * is kept for an hour (COMMAND_JOB), so adding again after a dropped connection, or a caller's retry
 * with the same key, returns the first result; a Redis restart keeps the job (AOF) and the wait
 * resumes from the event stream. The gateway also answers a job it has already run from memory
 * (serve.ts), so a job redelivered after a stall does not run twice either.
 */
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import type { PptpResult } from '../../fleet/node.ts';
import type { StageOutcome } from '../../pipeline/stage.ts';
import type { CheckResult, GatewayDescription, GatewayPort, HandshakeRequest, RunningNode, ServerTrust, SpeedRequest, StartRequest, StartResult } from '../port.ts';
import { JobWaitTimeout, awaitJob } from './await-job.ts';
import { COMMAND_JOB, type CommandName, PREFIX, commandQueue, speedQueue } from './transport.ts';

/** A job that failed on the gateway (its reason, as the gateway said it), or that was not answered in time. */
export class RemoteGatewayError extends Error {
  readonly gateway: string;
  readonly method: CommandName;
  constructor(gateway: string, method: CommandName, message: string) {
    super(message);
    this.name = 'RemoteGatewayError';
    this.gateway = gateway;
    this.method = method;
  }
}

export interface RemoteGatewayOptions {
  name: string;
  connection: Record<string, unknown>;
  /** How long describe/stop/check/list/trust/handshake wait for an answer (ms). */
  answerMs?: number;
}

/** Job ids may not contain `:` (BullMQ's key separator). */
const jobId = (key: string) => key.replaceAll(':', '.');

export class RemoteGateway implements GatewayPort {
  readonly name: string;
  readonly local = false;
  private readonly commands: Queue;
  private readonly speed: Queue;
  private readonly commandEvents: QueueEvents;
  private readonly speedEvents: QueueEvents;
  private readonly answerMs: number;

  constructor(o: RemoteGatewayOptions) {
    this.name = o.name;
    this.answerMs = o.answerMs ?? 15_000;
    const base = { connection: o.connection, prefix: PREFIX };
    this.commands = new Queue(commandQueue(o.name), base);
    this.speed = new Queue(speedQueue(o.name), base);
    this.commandEvents = new QueueEvents(commandQueue(o.name), base);
    this.speedEvents = new QueueEvents(speedQueue(o.name), base);
    // Every waiting call listens on its queue and its event stream: hundreds at once (a start of a
    // fleet) is the design, not a leak. Connection errors are retried by ioredis; the calls waiting
    // on them have their own deadlines.
    for (const q of [this.commands, this.speed]) q.setMaxListeners(0).on('error', () => {});
    for (const e of [this.commandEvents, this.speedEvents]) e.setMaxListeners(0).on('error', () => {});
  }

  describe(): Promise<GatewayDescription> {
    return this.call('describe', {}, { timeoutMs: this.answerMs });
  }

  /** A start under a fresh id: at most one run on the gateway for this call. */
  start(req: StartRequest, signal?: AbortSignal): Promise<StartResult> {
    return this.startOnce(randomUUID(), req, signal);
  }

  /**
   * A start under the caller's key (e.g. `<jobId>:<nodeId>:<attempt>`): calling again with the same
   * key, after a timeout, a dropped connection or a bot restart, waits for the same job and gets its
   * result; the node's services are started once. A start that failed stays failed under its key:
   * a new attempt takes a new key.
   */
  startOnce(key: string, req: StartRequest, signal?: AbortSignal): Promise<StartResult> {
    return this.call('start', req, { key, signal, timeoutMs: req.tunnelOpenTimeoutMs + this.answerMs * 2 });
  }

  async stop(nodeId: string): Promise<void> {
    await this.call('stop', { nodeId }, { timeoutMs: this.answerMs * 2 });
  }

  check(nodeId: string, signal?: AbortSignal): Promise<CheckResult> {
    return this.call('check', { nodeId }, { signal, timeoutMs: this.answerMs });
  }

  list(): Promise<RunningNode[]> {
    return this.call('list', {}, { timeoutMs: this.answerMs });
  }

  /** On the gateway's speed queue, whose small concurrency is its speed-test limit. */
  speedTest(req: SpeedRequest, signal?: AbortSignal): Promise<StageOutcome> {
    // Its own budget, twice over (it may wait behind other tests on the speed queue), plus answer time.
    const budget = req.openTimeoutMs + req.maxSeconds * 1000;
    return this.call('speedTest', req, { signal, timeoutMs: budget * 2 + this.answerMs, queue: 'speed' });
  }

  handshake(req: HandshakeRequest, signal?: AbortSignal): Promise<PptpResult> {
    return this.call('handshake', req, { signal, timeoutMs: req.timeoutMs * (req.retries + 1) + this.answerMs });
  }

  async trust(t: ServerTrust): Promise<void> {
    await this.call('trust', t, { timeoutMs: this.answerMs });
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.commandEvents.close(), this.speedEvents.close(), this.commands.close(), this.speed.close()]);
  }

  private async call<T>(method: CommandName, data: unknown, o: { key?: string; signal?: AbortSignal; timeoutMs: number; queue?: 'speed' }): Promise<T> {
    o.signal?.throwIfAborted();
    const queue = o.queue === 'speed' ? this.speed : this.commands;
    const events = o.queue === 'speed' ? this.speedEvents : this.commandEvents;
    const id = jobId(o.key ?? randomUUID());
    const job = await queue.add(method, data, { ...COMMAND_JOB, jobId: id });
    try {
      return await awaitJob<T>(job, events, o.timeoutMs, o.signal);
    } catch (err) {
      if (o.signal?.aborted) {
        void this.cancel(id, 'the caller cancelled');
        throw err;
      }
      if (err instanceof JobWaitTimeout) {
        void this.cancel(id, 'no answer in time');
        throw new RemoteGatewayError(this.name, method, `gateway ${this.name} did not answer ${method} within ${Math.round(o.timeoutMs / 1000)} s`);
      }
      throw new RemoteGatewayError(this.name, method, (err as Error).message);
    }
  }

  /**
   * Stops a job the caller gave up on: removed while it waits; once running, a `cancel` job tells
   * the gateway to abort it (its port method gets the abort through its signal).
   */
  private async cancel(id: string, reason: string): Promise<void> {
    try {
      for (const q of [this.commands, this.speed]) {
        const job = await q.getJob(id);
        if (!job) continue;
        const state = await job.getState();
        if (state === 'waiting' || state === 'delayed' || state === 'prioritized') await job.remove().catch(() => {});
        else if (state === 'active') await this.commands.add('cancel', { jobId: id, reason }, { ...COMMAND_JOB, removeOnComplete: true, removeOnFail: true });
      }
    } catch {
      // Redis is away: the job stays; a start is reconciled from the gateway's list, the rest are reads.
    }
  }
}
