/**
 * The bot's side of the control plane on Redis: it consumes the gateways' heartbeats and enrolment
 * requests, and hands out a RemoteGateway per gateway name. What a heartbeat means (alive, down,
 * restarted) is the gateway directory's to decide; this only says when each one arrived.
 */
import { type Job, Queue, Worker } from 'bullmq';
import type { Logger } from '../../log.ts';
import type { GatewayHeartbeat, ServerTrust } from '../port.ts';
import { checkRedis } from './redis-check.ts';
import { RemoteGateway } from './remote-gateway.ts';
import { CONTROL_QUEUE, GATEWAY_NAME, HEARTBEAT_QUEUE, PREFIX, connectionOptions, parseRedisUrl, redisLabel } from './transport.ts';

/** An enrolment: a gateway's CSR in, its certificate and the server trust out. */
export interface EnrolRequest {
  name: string;
  csrPem: string;
}
export interface EnrolAnswer {
  certPem: string;
  trust: ServerTrust;
}

export interface ConnectOptions {
  redisUrl: string;
  log: Logger;
  onHeartbeat(hb: GatewayHeartbeat, arrivedAt: Date): void;
  /** Signs a gateway's server CSR with the bot's CA (Pki.signServerCsr) and returns the trust to install. */
  signCsr(csrPem: string, gatewayName: string): Promise<EnrolAnswer>;
  /** Answer deadline of the RemoteGateway calls (ms). */
  answerMs?: number;
}

export interface GatewayConnections {
  /** The port of the gateway with this name (one RemoteGateway per name, made on first use). */
  port(name: string): RemoteGateway;
  close(): Promise<void>;
}

export async function connectGateways(o: ConnectOptions): Promise<GatewayConnections> {
  const target = parseRedisUrl(o.redisUrl);
  await checkRedis(target);
  const connection = connectionOptions(target);
  const base = { connection, prefix: PREFIX };

  // Heartbeats sent while the bot was away say nothing about now: dropped, not replayed as "alive".
  const stale = new Queue(HEARTBEAT_QUEUE, base);
  stale.on('error', () => {});
  await stale.drain();
  await stale.close();

  const heartbeats = new Worker(
    HEARTBEAT_QUEUE,
    async (job: Job) => {
      const hb = job.data as GatewayHeartbeat;
      if (!GATEWAY_NAME.test(hb.name)) throw new Error('a heartbeat with a malformed gateway name');
      o.onHeartbeat(hb, new Date());
    },
    { ...base, concurrency: 16 },
  );
  const control = new Worker(
    CONTROL_QUEUE,
    async (job: Job) => {
      if (job.name !== 'enrol') throw new Error(`unknown control job ${job.name}`);
      const { name, csrPem } = job.data as EnrolRequest;
      if (!GATEWAY_NAME.test(name)) throw new Error('an enrolment with a malformed gateway name');
      const answer = await o.signCsr(csrPem, name);
      o.log.info('gateway enrolled: server certificate signed', { gateway: name });
      return answer;
    },
    { ...base, concurrency: 2 },
  );
  for (const w of [heartbeats, control]) {
    w.on('error', (err) => o.log.warn('gateway control queue connection', { error: err.message }));
    w.on('failed', (job, err) => job && o.log.warn('gateway control job refused', { name: job.name, reason: err.message }));
  }
  await Promise.all([heartbeats.waitUntilReady(), control.waitUntilReady()]);
  o.log.info('gateways reachable through Redis', { redis: redisLabel(target) });

  const ports = new Map<string, RemoteGateway>();
  return {
    port(name) {
      if (!GATEWAY_NAME.test(name)) throw new Error(`not a gateway name: ${name.slice(0, 40)}`);
      let p = ports.get(name);
      if (!p) {
        p = new RemoteGateway({ name, connection, ...(o.answerMs ? { answerMs: o.answerMs } : {}) });
        ports.set(name, p);
      }
      return p;
    },
    async close() {
      await Promise.all([heartbeats.close(), control.close()]);
      await Promise.all([...ports.values()].map((p) => p.close()));
    },
  };
}
