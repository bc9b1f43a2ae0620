/**
 * `speed` over several gateways, through the real dispatcher, job runner and store: the bot's own
 * host and a remote gateway (a real LocalGateway served over BullMQ on a real redis-server) share
 * one job, each running at most SPEED_CONCURRENCY tests at once, as counted on the gateway side by
 * its tunnel driver (tunnels open at once = tests at once). Each "tunnel" is a loopback address and
 * the measurement goes to the project's speed server, as in test/commands/speed.test.ts.
 * A remote gateway whose test fails, or that gives no answer in time, leaves its nodes as they were
 * (inconclusive), never failed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useSpeedRuntime } from '../../commands/probe-stages.ts';
import type { FleetNode } from '../../src/fleet/node.ts';
import type { GatewayDescription } from '../../src/gateway/port.ts';
import { type ServedGateway, serveGateway } from '../../src/gateway/remote/serve.ts';
import { createLogger } from '../../src/log.ts';
import { speedStage } from '../../src/pipeline/stages/speed.ts';
import { startSpeedServer, type SpeedServer } from '../../src/probes/speed/server.ts';
import type { OpenResult, Tunnel, TunnelClosed, TunnelDriver } from '../../src/probes/tunnel/types.ts';
import { OPERATOR, testApp, type TestApp } from '../kit/app.ts';
import { type RedisServer, startRedis } from '../kit/redis.ts';
import { serveLocalGateway } from '../kit/served-gateway.ts';
import { eventually } from '../kit/wait.ts';
import { StandInGateway } from './stand-in-gateway.ts';

const PER_GATEWAY = 2;

/** Loopback "tunnels" (127.0.<block>.<last octet of the node>) that count how many are open at once; `gate` holds opens. */
class CountingDriver implements TunnelDriver {
  readonly name = 'counting';
  readonly opened: string[] = [];
  now = 0;
  peak = 0;
  gate: Promise<void> | null = null;
  private readonly block: number;
  constructor(block: number) {
    this.block = block;
  }
  async open(t: { ip: string }): Promise<OpenResult> {
    this.peak = Math.max(this.peak, ++this.now);
    this.opened.push(t.ip);
    if (this.gate) await this.gate;
    let resolveClosed!: (c: TunnelClosed) => void;
    const closed = new Promise<TunnelClosed>((r) => (resolveClosed = r));
    const n = Number(t.ip.split('.').pop());
    const tunnel: Tunnel = {
      iface: `ppp${n}`,
      localAddress: `127.0.${this.block}.${n}`,
      remoteAddress: '127.0.0.1',
      setupMs: 1,
      closed,
      close: async () => {
        this.now--;
        resolveClosed({ why: 'closed', exitCode: 5, reason: 'closed' });
      },
    };
    return { ok: true, tunnel };
  }
}

/** A stand-in gateway that says it can open tunnels, and whose speed tests fail on the gateway. */
class BrokenSpeedGateway extends StandInGateway {
  override async describe(): Promise<GatewayDescription> {
    return { ...(await super.describe()), tunnels: { ok: true } };
  }
}

const log = createLogger('error', () => {});
let redis: RedisServer;
let server: SpeedServer;
let t: TestApp;
const local = new CountingDriver(5);
const remote = new CountingDriver(6);
const served: Array<Pick<ServedGateway, 'close'>> = [];

beforeAll(async () => {
  redis = await startRedis();
  server = await startSpeedServer({ host: '127.0.0.1' });
  t = await testApp({ REDIS_URL: redis.url, SPEED_URL: `${server.url}?bytes=200000`, SPEED_MIN_MBPS: '1', SPEED_CONCURRENCY: String(PER_GATEWAY) });
  useSpeedRuntime(t.app, { driver: local, capability: () => ({ ok: true }) });
  served.push(await serveLocalGateway({ name: 'gw-b', redisUrl: redis.url, driver: remote, ports: { socks: 29400, ovpn: 29500 } }));
  await eventually(() => expect(t.app.gateways.directory!.get('gw-b')?.description?.tunnels.ok).toBe(true));
}, 30_000);

afterAll(async () => {
  for (const s of served) await s.close();
  await t?.dispose();
  await server?.close();
  await redis?.stop();
});

function addPingOk(ips: string[]): FleetNode[] {
  const nodes = t.app.store.addNodes(ips.map((ip) => ({ ip, login: 'good', password: `pw-${ip}-secret` })), 'test');
  for (const n of nodes) expect(t.app.store.transition({ id: n.id, from: 'not_tested', to: 'ping_ok', reason: 'test', actor: 'test' }).ok).toBe(true);
  return nodes;
}

const speedTransitions = (n: FleetNode) => n.history.filter((h) => h.from === 'ping_ok' && h.to !== 'ping_ok').length;

describe('speed on several gateways', () => {
  it('the local host and a remote gateway share one job, never more than SPEED_CONCURRENCY at once on each; every result committed once', async () => {
    const ips = Array.from({ length: 12 }, (_, i) => `10.2.0.${i + 1}`);
    const nodes = addPingOk(ips);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    local.gate = gate;
    remote.gate = gate;
    expect((await t.run('speed', OPERATOR)).kind).toBe('ok');
    // Both gateways full, and nothing more started anywhere while they are.
    await eventually(() => expect([local.now, remote.now]).toEqual([PER_GATEWAY, PER_GATEWAY]));
    expect(local.opened.length + remote.opened.length).toBe(2 * PER_GATEWAY);
    open();
    await t.app.jobs.idle();
    expect(local.peak).toBe(PER_GATEWAY);
    expect(remote.peak).toBe(PER_GATEWAY);
    expect([local.now, remote.now]).toEqual([0, 0]);
    // Each node measured once, on one gateway or the other.
    expect([...local.opened, ...remote.opened].sort()).toEqual([...ips].sort());
    expect(remote.opened.length).toBeGreaterThan(0);
    for (const n of nodes) {
      const after = t.app.store.get(n.id)!;
      expect(after.status).toBe('speed_ok');
      expect(speedTransitions(after)).toBe(1);
      expect(after.speed!.downMbps).toBeGreaterThan(1);
    }
    // The exit address each node was measured from says where it ran.
    const exits = new Set(nodes.map((n) => t.app.store.get(n.id)!.speed!.exitIp!.split('.')[2]));
    expect(exits).toEqual(new Set(['5', '6']));
    const job = t.app.store.jobs().at(-1)!;
    expect(job.counts).toEqual({ ok: 12 });
    for (const n of nodes) expect(t.port.publicText()).not.toContain(n.password);
  });

  it('a remote gateway whose tests fail leaves its nodes untouched (inconclusive), the others are measured', async () => {
    const broken = new BrokenSpeedGateway('gw-c');
    broken.failures.set('speedTest', 'the gateway lost its PPP module');
    served.push(await serveGateway({ name: 'gw-c', redisUrl: redis.url, port: broken, log, heartbeatMs: 200 }));
    await eventually(() => expect(t.app.gateways.directory!.get('gw-c')?.description?.tunnels.ok).toBe(true));
    local.gate = null;
    remote.gate = null;
    const before = local.opened.length + remote.opened.length;
    const ips = Array.from({ length: 9 }, (_, i) => `10.3.0.${i + 1}`);
    const nodes = addPingOk(ips);
    expect((await t.run('speed ip:10.3.0.0/24', OPERATOR)).kind).toBe('ok');
    await t.app.jobs.idle();
    const failedThere = new Set(broken.calls.filter((c) => c.method === 'speedTest').map((c) => (c.arg as { node: { ip: string } }).node.ip));
    expect(failedThere.size).toBeGreaterThan(0);
    expect(local.opened.length + remote.opened.length - before).toBe(9 - failedThere.size);
    for (const n of nodes) {
      const after = t.app.store.get(n.id)!;
      if (failedThere.has(n.ip)) {
        expect(after.status).toBe('ping_ok');
        expect(after.speed).toBeNull();
      } else expect(after.status).toBe('speed_ok');
    }
    const job = t.app.store.jobs().at(-1)!;
    expect(job.counts).toEqual({ ok: 9 - failedThere.size, gateway_error: failedThere.size });
  });
});

describe('a remote gateway that gives no answer', () => {
  it('is given up before the node deadline: inconclusive, never the node failure', async () => {
    const silent = new BrokenSpeedGateway('gw-s');
    let open!: () => void;
    silent.speedGate = new Promise((r) => (open = r));
    const s = await serveGateway({ name: 'gw-s', redisUrl: redis.url, port: silent, log, heartbeatMs: 200 });
    try {
      await eventually(() => expect(t.app.gateways.directory!.get('gw-s')?.lastHeartbeatAt).toEqual(expect.any(Number)));
      const [node] = addPingOk(['10.4.0.1']);
      const stage = speedStage({ gateways: [t.app.gateways.port('gw-s')!], perGateway: 1, url: `${server.url}?bytes=1000`, minMbps: 1, openTimeoutMs: 100, downloadBytes: 1000, maxSeconds: 1, uploadBytes: 0, stallMs: 100 });
      const out = await stage.run(node!, new AbortController().signal);
      expect(out).toEqual({ result: 'inconclusive', outcome: 'gateway_timeout', reason: `gateway gw-s gave no answer within ${Math.round((stage.nodeDeadlineMs - 2000) / 1000)} s`, patch: {} });
      expect(silent.count('speedTest')).toBe(1);
    } finally {
      open();
      await s.close();
    }
  }, 30_000);
});
