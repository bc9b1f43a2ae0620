/**
 * Per-gateway metrics on a running bot with a real redis-server and a remote gateway (a stand-in
 * port served over BullMQ): up, online nodes (from the store) and heartbeat age are read from the
 * directory at scrape time; a gateway that falls silent, then speaks again, is counted as a change
 * of state each time. Scraped over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServedGateway, serveGateway } from '../../src/gateway/remote/serve.ts';
import { createLogger } from '../../src/log.ts';
import { type OpsServer, startOpsServer } from '../../src/ops/http.ts';
import { StandInGateway } from '../gateway/stand-in-gateway.ts';
import { testApp, type TestApp } from '../kit/app.ts';
import { type LoopbackBlock, loopbackRange } from '../kit/loopback.ts';
import { type RedisServer, startRedis } from '../kit/redis.ts';
import { eventually } from '../kit/wait.ts';

const log = createLogger('error', () => {});
let redis: RedisServer;
let t: TestApp;
let server: OpsServer;
let served: ServedGateway | null = null;
let block: LoopbackBlock;

async function scrape(): Promise<string> {
  const res = await fetch(`http://${server.address.host}:${server.address.port}/metrics`);
  return res.text();
}

/** The value of `name{gateway="<gateway>"[,state="<state>"]}`, or undefined. */
function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v) && Object.keys(got).length === Object.keys(labels).length) return Number(m[3]);
  }
  return undefined;
}

beforeAll(async () => {
  redis = await startRedis();
  block = await loopbackRange();
  t = await testApp({ REDIS_URL: redis.url, GATEWAY_DEAD_AFTER: '3s' });
  server = await startOpsServer({
    host: '127.0.0.1',
    port: 0,
    log,
    metrics: { store: t.app.store, jobs: t.app.jobs, dataDir: t.app.config.dataDir, commands: new Set(), version: '9.9.9', gateways: t.app.gateways },
    health: { store: t.app.store, adapters: () => [], started: () => true, stopping: () => false },
  });
  served = await serveGateway({ name: 'gw-m', redisUrl: redis.url, port: new StandInGateway('gw-m'), log, heartbeatMs: 200 });
  await eventually(() => expect(t.app.gateways.directory!.get('gw-m')?.lastHeartbeatAt).toEqual(expect.any(Number)));
}, 30_000);

afterAll(async () => {
  await served?.close();
  await server?.close();
  await t?.dispose();
  await redis?.stop();
  await block?.release();
});

describe('gateway metrics', () => {
  it('up, online nodes per gateway (from the store) and heartbeat age, read at scrape time', async () => {
    // Online nodes as the store records them (loopback addresses: nothing else is ever dialled).
    const nodes = t.app.store.addNodes([0, 1, 2, 3].map((i) => ({ ip: block.address(i), login: 'u', password: `pw-${i}-secret` })), 'test');
    // nodes[3] names no gateway: it runs on the default one (local).
    const where = ['gw-m', 'gw-m', 'local', null];
    nodes.forEach((n, i) => {
      for (const [from, to] of [['not_tested', 'ping_ok'], ['ping_ok', 'speed_ok'], ['speed_ok', 'online']] as const) {
        expect(t.app.store.transition({ id: n.id, from, to, reason: 'test', actor: 'test', ...(to === 'online' ? { patch: { gateway: where[i] } } : {}) }).ok).toBe(true);
      }
    });
    const text = await scrape();
    expect(value(text, 'connexa_gateway_up', { gateway: 'local' })).toBe(1);
    expect(value(text, 'connexa_gateway_up', { gateway: 'gw-m' })).toBe(1);
    expect(value(text, 'connexa_gateway_nodes_online', { gateway: 'gw-m' })).toBe(2);
    expect(value(text, 'connexa_gateway_nodes_online', { gateway: 'local' })).toBe(2);
    expect(value(text, 'connexa_gateway_heartbeat_age_seconds', { gateway: 'local' })).toBe(0);
    const age = value(text, 'connexa_gateway_heartbeat_age_seconds', { gateway: 'gw-m' })!;
    // Up means heard from within GATEWAY_DEAD_AFTER.
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(3);
    expect(value(text, 'connexa_gateway_state_changes_total', { gateway: 'gw-m', state: 'down' })).toBeUndefined();
  });

  it('a gateway that falls silent is down (0), then back (1); each change of state is counted', async () => {
    await served!.close();
    served = null;
    await eventually(async () => expect(value(await scrape(), 'connexa_gateway_up', { gateway: 'gw-m' })).toBe(0), 15_000);
    const down = await scrape();
    expect(value(down, 'connexa_gateway_state_changes_total', { gateway: 'gw-m', state: 'down' })).toBe(1);
    expect(value(down, 'connexa_gateway_heartbeat_age_seconds', { gateway: 'gw-m' })).toBeGreaterThanOrEqual(3);
    served = await serveGateway({ name: 'gw-m', redisUrl: redis.url, port: new StandInGateway('gw-m'), log, heartbeatMs: 200 });
    await eventually(async () => expect(value(await scrape(), 'connexa_gateway_up', { gateway: 'gw-m' })).toBe(1));
    const back = await scrape();
    expect(value(back, 'connexa_gateway_state_changes_total', { gateway: 'gw-m', state: 'up' })).toBe(1);
    expect(value(back, 'connexa_gateway_state_changes_total', { gateway: 'gw-m', state: 'down' })).toBe(1);
  });
});
