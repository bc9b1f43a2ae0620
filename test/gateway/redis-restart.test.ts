import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { type GatewayConnections, connectGateways } from '../../src/gateway/remote/control.ts';
import { type ServedGateway, serveGateway } from '../../src/gateway/remote/serve.ts';
import { createLogger } from '../../src/log.ts';
import { type RedisServer, startRedis } from '../kit/redis.ts';
import { eventually } from '../kit/wait.ts';
import { StandInGateway } from './stand-in-gateway.ts';

const lines: string[] = [];
const log = createLogger('debug', (l) => lines.push(l), 'json');
let redis: RedisServer | undefined;
let bot: GatewayConnections | undefined;
let served: ServedGateway | undefined;

afterAll(async () => {
  await served?.close();
  await bot?.close();
  await redis?.stop();
});

it('Redis killed mid-job and restarted (AOF): the job finishes, the port ran it once, the caller got one result', async () => {
  redis = await startRedis({ aof: true });
  bot = await connectGateways({ redisUrl: redis.url, log, onHeartbeat: () => {}, signCsr: () => Promise.reject(new Error('unused')) });
  const port = new StandInGateway('gw-r'); // stand-in for LocalGateway, see its file
  served = await serveGateway({ name: 'gw-r', redisUrl: redis.url, port, log, heartbeatMs: 1000 });
  let open!: () => void;
  port.gate = new Promise((r) => (open = r));

  const results: unknown[] = [];
  const call = bot
    .port('gw-r')
    .startOnce('job1:n1:1', { node: { id: 'n1', ip: '203.0.113.9', port: 1723, login: 'l', password: 'node-secret-pw', label: 'n1' }, ovpn: false, tunnelOpenTimeoutMs: 20_000 })
    .then((r) => results.push(r));
  await eventually(() => expect(port.count('start')).toBe(1));

  await redis.kill();
  await redis.restart();
  open();

  await call;
  expect(results).toHaveLength(1);
  expect(results[0]).toMatchObject({ ok: true, services: { socks: { port: 20_000 } } });
  expect(port.count('start')).toBe(1);
  // The job is kept as completed: a retry of the same key gets the same answer, still one run.
  expect(await bot.port('gw-r').startOnce('job1:n1:1', { node: { id: 'n1', ip: '203.0.113.9', port: 1723, login: 'l', password: 'node-secret-pw', label: 'n1' }, ovpn: false, tunnelOpenTimeoutMs: 20_000 })).toEqual(results[0]);
  expect(port.count('start')).toBe(1);
  expect(lines.join('\n')).not.toContain(redis.password);
}, 60_000);

it('every connection dropped mid-job (CLIENT KILL): the job finishes, runs once, one answer', async () => {
  const port = new StandInGateway('gw-k'); // stand-in for LocalGateway, see its file
  const gw = await serveGateway({ name: 'gw-k', redisUrl: redis!.url, port, log, heartbeatMs: 1000 });
  try {
    let open!: () => void;
    port.gate = new Promise((r) => (open = r));
    const req = { node: { id: 'n2', ip: '203.0.113.9', port: 1723, login: 'l', password: 'node-secret-pw', label: 'n2' }, ovpn: false, tunnelOpenTimeoutMs: 20_000 };
    const results: unknown[] = [];
    const call = bot!.port('gw-k').startOnce('job2:n2:1', req).then((r) => results.push(r));
    await eventually(() => expect(port.count('start')).toBe(1));
    const admin = new Redis({ host: '127.0.0.1', port: redis!.port, password: redis!.password });
    const killed = Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes'));
    await admin.quit();
    expect(killed).toBeGreaterThan(3);
    open();
    await call;
    expect(results).toEqual([expect.objectContaining({ ok: true })]);
    expect(port.count('start')).toBe(1);
  } finally {
    await gw.close();
  }
}, 60_000);
