/**
 * The gateway's side: BullMQ workers on its queues call the GatewayPort it runs (LocalGateway in
 * `connexa gateway`), and a heartbeat goes to the bot every few seconds.
 *
 * Concurrency: the command queue runs many jobs at once (start, stop, check, list and describe of
 * different nodes do not wait for each other); speed tests have their own queue and worker with a
 * small concurrency, which is the gateway's speed-test limit whatever the bot sends.
 *
 * Once per job id: a start, stop or trust job redelivered to this process (BullMQ moves a job whose
 * lock lapsed back to waiting, e.g. after a long Redis outage) gets the answer of its first run
 * instead of a second run. Reads (describe, list, check, speed, handshake) simply run again.
 *
 * Nothing secret is logged: a job's data holds node credentials; only job names, ids and node ids are.
 */
import { randomUUID } from 'node:crypto';
import { type Job, Queue, Worker } from 'bullmq';
import type { Logger } from '../../log.ts';
import type { GatewayHeartbeat, GatewayPort, HandshakeRequest, ServerTrust, SpeedRequest, StartRequest } from '../port.ts';
import { checkRedis } from './redis-check.ts';
import { type CommandName, HEARTBEAT_QUEUE, PREFIX, commandQueue, connectionOptions, parseRedisUrl, redisLabel, speedQueue } from './transport.ts';

export interface ServeOptions {
  name: string;
  /** redis:// or rediss://, with the password; never logged. */
  redisUrl: string;
  port: GatewayPort;
  log: Logger;
  /** Heartbeat period (ms); the bot calls a gateway down after GATEWAY_DEAD_AFTER without one. */
  heartbeatMs?: number;
  /** Jobs of the command queue run at once. */
  concurrency?: number;
  /** Speed tests run at once on this gateway. */
  speedConcurrency?: number;
}

export interface ServedGateway {
  /** Changes at every process start: the bot tells a restart from a pause by it. */
  readonly bootId: string;
  /** Sends one heartbeat now (the loop sends them on its own; tests and start-up use this). */
  beat(): Promise<void>;
  /** Stops taking jobs, waits for the running ones, stops the heartbeats. */
  close(): Promise<void>;
}

/** How many start/stop job ids are remembered against redelivery. */
const REMEMBERED = 2000;
const ONCE: ReadonlySet<CommandName> = new Set(['start', 'stop', 'trust']);

export async function serveGateway(o: ServeOptions): Promise<ServedGateway> {
  const target = parseRedisUrl(o.redisUrl);
  await checkRedis(target);
  const bootId = randomUUID();
  const base = { connection: connectionOptions(target), prefix: PREFIX };
  const answered = new Map<string, Promise<unknown>>();
  const workers: Worker[] = [];

  const run = (job: Job, signal?: AbortSignal): Promise<unknown> => {
    const name = job.name as CommandName;
    if (name === 'cancel') {
      const { jobId, reason } = job.data as { jobId: string; reason: string };
      const found = workers.some((w) => w.cancelJob(jobId, reason));
      o.log.info('gateway job cancelled', { job: jobId, found });
      return Promise.resolve(found);
    }
    // Reads may run again; what changes the host is answered once.
    if (!ONCE.has(name)) return dispatch(o.port, name, job.data, signal);
    const id = job.id!;
    let p = answered.get(id);
    if (p) {
      o.log.warn('gateway job delivered again; answering from its first run', { job: id, name });
      return p;
    }
    p = dispatch(o.port, name, job.data, signal);
    answered.set(id, p);
    if (answered.size > REMEMBERED) answered.delete(answered.keys().next().value!);
    // A failure is remembered too: running a failed start again is the caller's decision (a new id).
    return p;
  };

  const processor = async (job: Job, _token?: string, signal?: AbortSignal) => {
    const t0 = performance.now();
    try {
      return await run(job, signal);
    } finally {
      const nodeId = (job.data as { node?: { id?: string }; nodeId?: string }).node?.id ?? (job.data as { nodeId?: string }).nodeId;
      o.log.debug('gateway job done', { name: job.name, job: job.id, ...(nodeId ? { node: nodeId } : {}), ms: Math.round(performance.now() - t0) });
    }
  };
  workers.push(new Worker(commandQueue(o.name), processor, { ...base, concurrency: o.concurrency ?? 64 }));
  workers.push(new Worker(speedQueue(o.name), processor, { ...base, concurrency: o.speedConcurrency ?? 4 }));
  for (const w of workers) {
    // ioredis reconnects by itself; say it once per error, without the connection options.
    w.on('error', (err) => o.log.warn('gateway queue connection', { error: err.message }));
    w.on('failed', (job, err) => job && o.log.info('gateway job failed', { name: job.name, job: job.id, reason: err.message }));
  }

  const heartbeats = new Queue(HEARTBEAT_QUEUE, base);
  heartbeats.on('error', () => {});
  const beat = async () => {
    const [description, running] = await Promise.all([o.port.describe(), o.port.list()]);
    const hb: GatewayHeartbeat = { name: o.name, sentAt: new Date().toISOString(), bootId, description, running: running.map((r) => r.nodeId) };
    await heartbeats.add('heartbeat', hb, { removeOnComplete: true, removeOnFail: true });
  };

  // A loop rather than setInterval: a slow describe or a Redis outage never stacks beats up.
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let loop: Promise<void> = Promise.resolve();
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      loop = beat()
        .catch((err: Error) => o.log.warn('heartbeat not sent', { error: err.message }))
        .finally(schedule);
    }, o.heartbeatMs ?? 5000);
  };
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  // The first beat at once (the bot sees a restart without waiting a period); a port that cannot
  // describe itself yet is said, not fatal: the loop tries again.
  await beat().catch((err: Error) => o.log.warn('heartbeat not sent', { error: err.message }));
  schedule();
  o.log.info('gateway serving', { gateway: o.name, bootId, redis: redisLabel(target) });

  return {
    bootId,
    beat,
    async close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await loop;
      await Promise.all(workers.map((w) => w.close()));
      await heartbeats.close();
    },
  };
}

function dispatch(port: GatewayPort, name: CommandName, data: unknown, signal?: AbortSignal): Promise<unknown> {
  switch (name) {
    case 'describe':
      return port.describe();
    case 'start':
      return port.start(data as StartRequest, signal);
    case 'stop':
      return port.stop((data as { nodeId: string }).nodeId).then(() => null);
    case 'check':
      return port.check((data as { nodeId: string }).nodeId, signal);
    case 'list':
      return port.list();
    case 'speedTest':
      return port.speedTest(data as SpeedRequest, signal);
    case 'handshake':
      return port.handshake(data as HandshakeRequest, signal);
    case 'trust':
      return port.trust(data as ServerTrust).then(() => null);
    default:
      return Promise.reject(new Error(`unknown gateway command ${String(name)}`));
  }
}
