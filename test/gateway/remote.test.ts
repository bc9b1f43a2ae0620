import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayHeartbeat, StartRequest } from '../../src/gateway/port.ts';
import { type GatewayConnections, connectGateways } from '../../src/gateway/remote/control.ts';
import { RemoteGatewayError } from '../../src/gateway/remote/remote-gateway.ts';
import { type ServedGateway, serveGateway } from '../../src/gateway/remote/serve.ts';
import { HEARTBEAT_QUEUE, PREFIX, connectionOptions, parseRedisUrl, speedQueue } from '../../src/gateway/remote/transport.ts';
import { createLogger } from '../../src/log.ts';
import { type RedisServer, startRedis } from '../kit/redis.ts';
import { eventually } from '../kit/wait.ts';
import { StandInGateway } from './stand-in-gateway.ts';

const lines: string[] = [];
const log = createLogger('debug', (l) => lines.push(l), 'json');

const startReq = (id: string): StartRequest => ({
  node: { id, ip: '203.0.113.5', port: 1723, login: 'vpnuser', password: 'node-secret-pw', label: '203.0.113.5 · test' },
  ovpn: false,
  tunnelOpenTimeoutMs: 5000,
});

let redis: RedisServer;
/** Heartbeats waiting or being consumed. */
async function heartbeatBacklog(): Promise<number> {
  const q = new Queue(HEARTBEAT_QUEUE, { connection: connectionOptions(parseRedisUrl(redis.url)), prefix: PREFIX });
  try {
    return await q.getJobCountByTypes('waiting', 'active');
  } finally {
    await q.close();
  }
}
let bot: GatewayConnections;
const beats: { hb: GatewayHeartbeat; at: Date }[] = [];
let port: StandInGateway;
let served: ServedGateway;

beforeAll(async () => {
  redis = await startRedis();
  bot = await connectGateways({ redisUrl: redis.url, log, onHeartbeat: (hb, at) => beats.push({ hb, at }), signCsr: () => Promise.reject(new Error('no CA in this test')) });
  port = new StandInGateway('gw-a');
  served = await serveGateway({ name: 'gw-a', redisUrl: redis.url, port, log, heartbeatMs: 200 });
});
afterAll(async () => {
  await served?.close();
  await bot?.close();
  await redis?.stop();
});
afterEach(() => port.failures.clear());

describe('a remote gateway over BullMQ (stand-in port on the gateway side)', () => {
  it('carries every method there and back', async () => {
    const gw = bot.port('gw-a');
    expect(gw.local).toBe(false);
    expect((await gw.describe()).name).toBe('gw-a');
    const started = await gw.start(startReq('n1'));
    expect(started).toMatchObject({ ok: true, services: { socks: { port: 20_000 } } });
    expect(await gw.check('n1')).toEqual({ ok: true });
    expect((await gw.list()).map((r) => r.nodeId)).toEqual(['n1']);
    expect(await gw.speedTest({ node: startReq('n1').node, url: 'http://127.0.0.1/x', minMbps: 1, openTimeoutMs: 1000, downloadBytes: 1, maxSeconds: 1, uploadBytes: 0, stallMs: 500 })).toMatchObject({ result: 'ok' });
    expect(await gw.handshake({ node: { id: 'n1', ip: '203.0.113.5', port: 1723 }, timeoutMs: 500, retries: 0, probeAllow: '' })).toMatchObject({ ok: true, vendor: 'stand-in' });
    await gw.trust({ caPem: 'CA', crlPem: 'CRL', tlsCryptKey: 'TLS' });
    expect(port.trusted).toEqual([{ caPem: 'CA', crlPem: 'CRL', tlsCryptKey: 'TLS' }]);
    await gw.stop('n1');
    expect(await gw.check('n1')).toEqual({ ok: false, outcome: 'not_running', reason: 'n1 does not run here' });
    // The request crossed whole, credentials included (they travel only in the job payload).
    expect(port.calls.find((c) => c.method === 'start')?.arg).toEqual(startReq('n1'));
  });

  it('rejects with the gateway reason when a method fails there', async () => {
    port.failures.set('check', 'the tunnel of n9 is down: ppp0 gone');
    const err = await bot.port('gw-a').check('n9').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteGatewayError);
    expect((err as Error).message).toBe('the tunnel of n9 is down: ppp0 gone');
  });

  it('a start under the same key runs once and answers twice', async () => {
    const gw = bot.port('gw-a');
    const before = port.count('start');
    const a = await gw.startOnce('job7:n2:1', startReq('n2'));
    const b = await gw.startOnce('job7:n2:1', startReq('n2'));
    expect(b).toEqual(a);
    expect(port.count('start')).toBe(before + 1);
  });

  it('an abort rejects the caller and cancels the running start on the gateway', async () => {
    let open!: () => void;
    port.gate = new Promise((r) => (open = r));
    const ac = new AbortController();
    const before = port.count('start');
    const p = bot.port('gw-a').start(startReq('n3'), ac.signal);
    await eventually(() => expect(port.count('start')).toBe(before + 1));
    ac.abort(new Error('user pressed stop'));
    await expect(p).rejects.toThrow('user pressed stop');
    await eventually(() => expect(port.aborted).toContain('start'));
    port.gate = null;
    open();
    expect(port.running.has('n3')).toBe(false);
  });

  it('speed tests run at most speedConcurrency at once on a gateway, whatever the bot sends', async () => {
    const gw = new StandInGateway('gw-s');
    const s = await serveGateway({ name: 'gw-s', redisUrl: redis.url, port: gw, log, speedConcurrency: 2 });
    let open!: () => void;
    gw.speedGate = new Promise((r) => (open = r));
    const req = { node: startReq('n1').node, url: 'http://127.0.0.1/x', minMbps: 1, openTimeoutMs: 1000, downloadBytes: 1, maxSeconds: 5, uploadBytes: 0, stallMs: 500 };
    const all = Promise.all(Array.from({ length: 5 }, () => bot.port('gw-s').speedTest(req)));
    await eventually(() => expect(gw.speedNow).toBe(2));
    // The other three wait on the speed queue while the command queue still answers.
    expect((await bot.port('gw-s').describe()).name).toBe('gw-s');
    expect(gw.count('speedTest')).toBe(2);
    open();
    expect((await all).map((o) => o.outcome)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(gw.speedPeak).toBe(2);
    await s.close();
  });

  it('an abort of a job still waiting on the gateway queue removes it: the port never runs it', async () => {
    const gw = new StandInGateway('gw-w');
    const s = await serveGateway({ name: 'gw-w', redisUrl: redis.url, port: gw, log, speedConcurrency: 1 });
    let open!: () => void;
    gw.speedGate = new Promise((r) => (open = r));
    const req = (id: string) => ({ node: startReq(id).node, url: 'http://127.0.0.1/x', minMbps: 1, openTimeoutMs: 1000, downloadBytes: 1, maxSeconds: 5, uploadBytes: 0, stallMs: 500 });
    const first = bot.port('gw-w').speedTest(req('w1'));
    await eventually(() => expect(gw.speedNow).toBe(1));
    const ac = new AbortController();
    const second = bot.port('gw-w').speedTest(req('w2'), ac.signal);
    const q = new Queue(speedQueue('gw-w'), { connection: connectionOptions(parseRedisUrl(redis.url)), prefix: PREFIX });
    try {
      await eventually(async () => expect(await q.getWaitingCount()).toBe(1));
      ac.abort(new Error('cancelled by the operator'));
      await expect(second).rejects.toThrow('cancelled by the operator');
      await eventually(async () => expect(await q.getWaitingCount()).toBe(0));
      open();
      expect(await first).toMatchObject({ outcome: 'ok' });
      expect(gw.calls.filter((c) => c.method === 'speedTest').map((c) => (c.arg as { node: { id: string } }).node.id)).toEqual(['w1']);
    } finally {
      await q.close();
      await s.close();
    }
  });

  it('closing a gateway lets its running job finish and answer', async () => {
    const gw = new StandInGateway('gw-d');
    const s = await serveGateway({ name: 'gw-d', redisUrl: redis.url, port: gw, log });
    let open!: () => void;
    gw.gate = new Promise((r) => (open = r));
    const call = bot.port('gw-d').start(startReq('n8'));
    await eventually(() => expect(gw.count('start')).toBe(1));
    let closed = false;
    const closing = s.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(false);
    open();
    await closing;
    expect(await call).toMatchObject({ ok: true });
    expect(gw.running.has('n8')).toBe(true);
  });

  it('heartbeats arrive with the boot id and the running nodes; a closed gateway falls silent', async () => {
    const gw = new StandInGateway('gw-b');
    const b = await serveGateway({ name: 'gw-b', redisUrl: redis.url, port: gw, log, heartbeatMs: 100 });
    await bot.port('gw-b').start(startReq('n5'));
    await eventually(() => expect(beats.filter((x) => x.hb.name === 'gw-b' && x.hb.running.includes('n5')).length).toBeGreaterThanOrEqual(1));
    const mine = beats.filter((x) => x.hb.name === 'gw-b');
    expect(new Set(mine.map((x) => x.hb.bootId))).toEqual(new Set([b.bootId]));
    expect(mine.at(-1)!.hb.description.name).toBe('gw-b');
    await b.close();
    const closedAt = new Date();
    // Whatever was sent before close is consumed; then several periods pass with nothing new.
    await eventually(async () => expect(await heartbeatBacklog()).toBe(0));
    const seen = beats.filter((x) => x.hb.name === 'gw-b').length;
    await new Promise((r) => setTimeout(r, 600));
    const after = beats.filter((x) => x.hb.name === 'gw-b');
    expect(after.length).toBe(seen);
    expect(after.every((x) => new Date(x.hb.sentAt) <= closedAt)).toBe(true);
    // A restarted gateway says so with a new boot id.
    const b2 = await serveGateway({ name: 'gw-b', redisUrl: redis.url, port: new StandInGateway('gw-b'), log, heartbeatMs: 100 });
    await eventually(() => expect(beats.some((x) => x.hb.name === 'gw-b' && x.hb.bootId === b2.bootId && x.hb.running.length === 0)).toBe(true));
    expect(b2.bootId).not.toBe(b.bootId);
    await b2.close();
  });

  it('a wrong password is one clear error, not a hang', async () => {
    const wrong = redis.url.replace(redis.password, 'not-the-password');
    await expect(serveGateway({ name: 'gw-c', redisUrl: wrong, port: new StandInGateway('gw-c'), log })).rejects.toThrow(
      `Redis at redis://127.0.0.1:${redis.port}/0: the password (or user) in REDIS_URL is refused`,
    );
    const noPassword = `redis://127.0.0.1:${redis.port}/0`;
    await expect(connectGateways({ redisUrl: noPassword, log, onHeartbeat: () => {}, signCsr: () => Promise.reject(new Error('x')) })).rejects.toThrow('requires a password');
  });

  it('never logs the Redis password or a node password', () => {
    expect(lines.length).toBeGreaterThan(0);
    const all = lines.join('\n');
    expect(all).not.toContain(redis.password);
    expect(all).not.toContain('node-secret-pw');
    expect(all).toContain(`redis://127.0.0.1:${redis.port}/0`);
  });
});
