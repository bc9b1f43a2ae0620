/**
 * `ping [filter] from=NAME` through the real dispatcher, job runner and store: the PPTP handshakes
 * run on that gateway (a real LocalGateway served over BullMQ on a real redis-server, probing the
 * loopback sim fleet), under the bot's PROBE_ALLOW sent with each request; the bot stores what the
 * gateway answered. Without from=, ping stays on the bot's host. An unknown or silent gateway is
 * refused in one line before any job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayPort, HandshakeRequest } from '../../src/gateway/port.ts';
import { OPERATOR, testApp, type TestApp } from '../kit/app.ts';
import { type RedisServer, startRedis } from '../kit/redis.ts';
import { type ServedLocalGateway, serveLocalGateway } from '../kit/served-gateway.ts';
import { useSimFleet } from '../kit/sim-fleet.ts';
import { eventually } from '../kit/wait.ts';

const fleet = useSimFleet({ count: 8, seed: 21, mix: { good: 0.5, closed: 0.25, silent: 0.25 } });
let redis: RedisServer;
let t: TestApp;
let served: ServedLocalGateway | null = null;
/** What the gateway was asked, seen on its side of the queue. */
const asked: HandshakeRequest[] = [];

beforeAll(async () => {
  redis = await startRedis();
  t = await testApp({ REDIS_URL: redis.url, PING_TIMEOUT_MS: '500', PING_RETRIES: '0', GATEWAY_DEAD_AFTER: '3s' });
  served = await serveLocalGateway({
    name: 'gw-p',
    redisUrl: redis.url,
    driver: null,
    ports: { socks: 29600, ovpn: 29700 },
    // The real gateway, with its handshakes noted as they arrive there.
    wrap: (gateway) =>
      Object.assign(Object.create(gateway) as GatewayPort, {
        handshake: (req: HandshakeRequest, signal?: AbortSignal) => {
          asked.push(req);
          return gateway.handshake(req, signal);
        },
      }),
  });
  await eventually(() => expect(t.app.gateways.directory!.get('gw-p')?.lastHeartbeatAt).toEqual(expect.any(Number)));
}, 30_000);

afterAll(async () => {
  await served?.close();
  await t?.dispose();
  await redis?.stop();
});

describe('ping from a gateway', () => {
  it('runs every handshake on the named gateway, under the bot PROBE_ALLOW, and stores its answers', async () => {
    t.app.store.addNodes(fleet.servers.map((s) => ({ ip: s.ip, login: s.login, password: s.password })), 'sim');
    const out = await t.run('ping from=gw-p', OPERATOR);
    expect(out, JSON.stringify(out)).toMatchObject({ kind: 'ok' });
    await t.app.jobs.idle();
    expect(asked.map((r) => r.node.ip).sort()).toEqual(fleet.servers.map((s) => s.ip).sort());
    expect(new Set(asked.map((r) => r.probeAllow))).toEqual(new Set([t.app.config.PROBE_ALLOW]));
    for (const s of fleet.servers) {
      const n = t.app.store.nodes().find((x) => x.ip === s.ip)!;
      if (s.behaviour === 'good') {
        expect(n.status).toBe('ping_ok');
        expect(n.pptp).toMatchObject({ ok: true, vendor: s.vendor });
      } else {
        expect(n.status).toBe('ping_failed');
        expect(n.pptp!.ok).toBe(false);
      }
    }
    const job = t.app.store.jobs().at(-1)!;
    expect(job.kind).toBe('ping');
    expect(job.selection).toMatch(/ from gw-p$/);
    expect(job.counts.ok).toBe(fleet.servers.filter((s) => s.behaviour === 'good').length);
  });

  it('without from=, ping stays on the bot host: the gateway is asked nothing', async () => {
    const before = asked.length;
    expect((await t.run('ping all', OPERATOR)).kind).toBe('ok');
    await t.app.jobs.idle();
    expect(asked.length).toBe(before);
    expect(t.app.store.jobs().at(-1)!.total).toBe(fleet.servers.length);
  });

  it('an unknown gateway is refused in one line, before any job', async () => {
    const jobs = t.app.store.jobs().length;
    t.port.clear();
    expect(await t.run('ping all from=nope', OPERATOR)).toMatchObject({ kind: 'failed', message: 'no gateway is named nope (known: local, gw-p)' });
    expect(t.app.store.jobs()).toHaveLength(jobs);
  });

  it('a gateway that fell silent is refused in one line, before any job', async () => {
    await served!.close();
    served = null;
    await eventually(() => expect(t.app.gateways.directory!.get('gw-p')?.up).toBe(false), 15_000);
    const jobs = t.app.store.jobs().length;
    const before = asked.length;
    expect(await t.run('ping all from=gw-p', OPERATOR)).toMatchObject({ kind: 'failed', message: expect.stringMatching(/^gateway gw-p is down: no heartbeat for \d+ s$/) });
    expect(t.app.store.jobs()).toHaveLength(jobs);
    expect(asked.length).toBe(before);
  });
});
