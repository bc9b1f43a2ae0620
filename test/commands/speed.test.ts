/**
 * `speed` through the dispatcher and the real job runner: the refusal on an incapable host (this
 * one), then the stage's mapping of tunnel and measurement results to statuses, with a fake tunnel
 * driver whose "tunnels" are loopback addresses and the project's speed server as SPEED_URL.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.ts';
import { startPingThenSpeed } from '../../commands/import.ts';
import { measureNodeSpeed } from '../../src/services/speed-test.ts';
import { speedable, useSpeedRuntime } from '../../commands/probe-stages.ts';
import { speed } from '../../commands/speed.ts';
import type { App } from '../../src/app.ts';
import { Dispatcher } from '../../src/chat/dispatcher.ts';
import { CommandRegistry } from '../../src/chat/registry.ts';
import type { FleetNode } from '../../src/fleet/node.ts';
import { speedNodeDeadlineMs, speedStage } from '../../src/pipeline/stages/speed.ts';
import { startSpeedServer, type SpeedServer } from '../../src/probes/speed/server.ts';
import type { OpenResult, Tunnel, TunnelClosed, TunnelDriver } from '../../src/probes/tunnel/types.ts';
import { commandContext } from '../../src/chat/context.ts';
import { startSimFleet } from '../sim/fleet.ts';
import { loopbackRange } from '../kit/loopback.ts';
import { OPERATOR, testApp, VIEWER, type TestApp } from '../kit/app.ts';

let server: SpeedServer;
let stalling: SpeedServer;
const apps: TestApp[] = [];

beforeAll(async () => {
  server = await startSpeedServer({ host: '127.0.0.1' });
  stalling = await startSpeedServer({ host: '127.0.0.1', stallAfterBytes: 300_000 });
});
afterAll(async () => {
  await server.close();
  await stalling.close();
});
afterEach(async () => {
  for (const a of apps.splice(0)) await a.dispose();
});

/** Tunnels keyed by login: each node's "tunnel" is a distinct loopback address. */
class FakeDriver implements TunnelDriver {
  readonly name = 'fake';
  opened: string[] = [];
  closed: string[] = [];
  async open(t: { ip: string; login: string }): Promise<OpenResult> {
    const fail = (kind: 'auth_failed' | 'unreachable' | 'host_not_capable' | 'timeout', reason: string): OpenResult => ({ ok: false, kind, reason, elapsedMs: 5 });
    if (t.login === 'badpw') return fail('auth_failed', 'the server refused the credentials (E=691 Authentication failure)');
    if (t.login === 'gone') return fail('unreachable', 'no PPTP control connection: connect: Connection refused');
    if (t.login === 'hostless') return fail('host_not_capable', 'no kernel PPP');
    let resolveClosed!: (c: TunnelClosed) => void;
    const closed = new Promise<TunnelClosed>((r) => (resolveClosed = r));
    const n = Number(t.ip.split('.').pop());
    const tunnel: Tunnel = {
      iface: `ppp${n}`,
      localAddress: `127.0.3.${n}`,
      remoteAddress: '127.0.0.1',
      setupMs: 5,
      closed,
      close: async () => {
        this.closed.push(t.ip);
        resolveClosed({ why: 'closed', exitCode: 5, reason: 'closed' });
      },
    };
    if (t.login === 'drops') setTimeout(() => resolveClosed({ why: 'dropped', exitCode: 16, reason: 'the tunnel dropped: the server hung up after authentication' }), 150);
    this.opened.push(t.ip);
    return { ok: true, tunnel };
  }
}

/**
 * A test app whose dispatcher also knows `speed` (commands/index.ts registers it once merged; until
 * then the test builds the registry itself from the real list plus this command).
 */
async function appWith(env: Record<string, string>, driver: TunnelDriver | null = new FakeDriver()): Promise<TestApp> {
  const t = await testApp({ SPEED_URL: `${server.url}?bytes=2000000`, ...env });
  apps.push(t);
  if (driver) useSpeedRuntime(t.app, { driver, capability: () => ({ ok: true }) });
  const registry = COMMANDS.some((c) => c.name === 'speed') ? new CommandRegistry(COMMANDS) : new CommandRegistry([...COMMANDS, speed]);
  const c = t.app.config;
  const dispatcher = new Dispatcher<App>({ registry, app: t.app, roles: () => ({ admins: c.CONNEXA_ADMINS, operators: c.CONNEXA_OPERATORS, viewers: c.CONNEXA_VIEWERS }), secretsDelivery: 'dm' });
  t.run = (text, actor = OPERATOR, files = []) => dispatcher.dispatch(t.port, { text, files, actor, where: { key: 'C1' } });
  return t;
}

function addPingOk(t: TestApp, rows: Array<{ ip: string; login: string; port?: number }>): FleetNode[] {
  const nodes = t.app.store.addNodes(rows.map((r) => ({ ...r, password: `pw-${r.login}-secret` })), 'test');
  for (const n of nodes) expect(t.app.store.transition({ id: n.id, from: 'not_tested', to: 'ping_ok', reason: 'test', actor: 'test' }).ok).toBe(true);
  return nodes;
}

const statusOf = (t: TestApp, ip: string) => t.app.store.nodes().find((n) => n.ip === ip)!;

describe('speed refuses before any job when the host cannot tunnel', () => {
  it('on THIS host (no kernel PPP) it answers one line and starts no job', async () => {
    const t = await appWith({}, null);
    addPingOk(t, [{ ip: '203.0.113.1', login: 'u' }]);
    const out = await t.run('speed', OPERATOR);
    expect(out.kind).toBe('failed');
    expect(t.app.store.jobs()).toEqual([]);
    expect(statusOf(t, '203.0.113.1').status).toBe('ping_ok');
    const said = t.port.privateText() + t.port.publicText();
    expect(said).toMatch(/speed tests need PPTP tunnels, which this host cannot open: missing kernel PPP/);
  });

  it('TUNNEL_DRIVER=none refuses clearly', async () => {
    const t = await appWith({ TUNNEL_DRIVER: 'none' }, null);
    addPingOk(t, [{ ip: '203.0.113.1', login: 'u' }]);
    expect((await t.run('speed', OPERATOR)).kind).toBe('failed');
    expect(t.port.privateText() + t.port.publicText()).toContain('speed tests are off: TUNNEL_DRIVER=none');
    expect(t.app.store.jobs()).toEqual([]);
  });

  it('no SPEED_URL refuses clearly', async () => {
    const t = await appWith({ SPEED_URL: '' });
    addPingOk(t, [{ ip: '203.0.113.1', login: 'u' }]);
    expect((await t.run('speed', OPERATOR)).kind).toBe('failed');
    expect(t.port.privateText() + t.port.publicText()).toContain('speed tests need SPEED_URL');
  });

  it('viewers may not run it', async () => {
    const t = await appWith({});
    expect((await t.run('speed', VIEWER)).kind).toBe('denied');
  });
});

describe('speed through the job runner (fake tunnels, real speed server)', () => {
  it('maps results: ok -> speed_ok with the figure, auth -> auth_failed, unreachable -> ping_ok with the error, host-side -> untouched', async () => {
    const driver = new FakeDriver();
    const t = await appWith({ SPEED_MIN_MBPS: '1', SPEED_CONCURRENCY: '3' }, driver);
    addPingOk(t, [
      { ip: '10.1.0.1', login: 'good' },
      { ip: '10.1.0.2', login: 'badpw' },
      { ip: '10.1.0.3', login: 'gone' },
      { ip: '10.1.0.5', login: 'hostless' },
    ]);
    expect((await t.run('speed', OPERATOR)).kind).toBe('ok');
    await t.app.jobs.idle();
    const good = statusOf(t, '10.1.0.1');
    expect(good.status).toBe('speed_ok');
    expect(good.speed).toMatchObject({ error: null, upMbps: null });
    expect(good.speed!.downMbps).toBeGreaterThan(1);
    // The exit address is what the speed server saw: the fake tunnel's loopback address. A loopback
    // address has no place in the IP database, so it is recorded as looked up with no location.
    expect(good.speed!.exitIp).toBe('127.0.3.1');
    expect(good.speed!.exitGeo).toMatchObject({ country: null, region: null, city: null, source: expect.stringMatching(/^DB-IP Lite city /) });
    const bad = statusOf(t, '10.1.0.2');
    expect(bad.status).toBe('auth_failed');
    expect(bad.speed).toMatchObject({ downMbps: null, error: 'auth_failed: the server refused the credentials (E=691 Authentication failure)' });
    const gone = statusOf(t, '10.1.0.3');
    expect(gone.status).toBe('ping_ok');
    expect(gone.speed!.error).toMatch(/^unreachable: no PPTP control connection/);
    // The host could not tunnel to this one: nothing learnt, nothing recorded, status kept.
    const hostless = statusOf(t, '10.1.0.5');
    expect(hostless.status).toBe('ping_ok');
    expect(hostless.speed).toBeNull();
    // Every tunnel that opened was closed.
    expect(driver.closed.sort()).toEqual(driver.opened.sort());
    const job = t.app.store.jobs()[0]!;
    expect(job.counts).toMatchObject({ ok: 1, auth_failed: 1, unreachable: 1, host_not_capable: 1 });
    // No password in anything the channel saw.
    for (const n of t.app.store.nodes()) expect(t.port.publicText()).not.toContain(n.password);
    // list filters on the exit address; show names it.
    t.port.clear();
    await t.run('list exit:127.0.3.1', OPERATOR);
    expect(t.port.publicText() + t.port.privateText()).toMatch(/1 nodes match exit:127\.0\.3\.1[\s\S]*10\.1\.0\.1/);
    t.port.clear();
    await t.run('list exit:unknown', OPERATOR);
    expect(t.port.publicText() + t.port.privateText()).toContain('1 nodes match exit:unknown');
    t.port.clear();
    await t.run('list exit:US', OPERATOR);
    expect(t.port.publicText() + t.port.privateText()).toContain('No nodes match exit:US');
    t.port.clear();
    await t.run('show 10.1.0.1', OPERATOR);
    expect(t.port.publicText() + t.port.privateText()).toContain('Exit address (seen by the speed server): `127.0.3.1`, located no location in DB-IP Lite city');
  });

  it('a tunnel that drops mid-measurement fails the node as tunnel_dropped', async () => {
    const t = await appWith({ SPEED_URL: `${stalling.url}?bytes=50000000` });
    addPingOk(t, [{ ip: '10.1.0.4', login: 'drops' }]);
    await t.run('speed', OPERATOR);
    await t.app.jobs.idle();
    const n = statusOf(t, '10.1.0.4');
    expect(n.status).toBe('ping_ok');
    expect(n.speed!.error).toMatch(/^tunnel_dropped: the tunnel dropped/);
  });

  it('slower than SPEED_MIN_MBPS -> ping_ok with the figure and "slow"; a speed_ok node is demoted as DESIGN.md says', async () => {
    const t = await appWith({ SPEED_MIN_MBPS: '1000000' });
    const [n] = addPingOk(t, [{ ip: '10.1.0.1', login: 'good' }]);
    expect(t.app.store.transition({ id: n!.id, from: 'ping_ok', to: 'speed_ok', reason: 'test', actor: 'test' }).ok).toBe(true);
    await t.run('speed status:speed_ok', OPERATOR);
    await t.app.jobs.idle();
    const after = statusOf(t, '10.1.0.1');
    expect(after.status).toBe('ping_ok');
    expect(after.speed!.downMbps).toBeGreaterThan(0);
    expect(after.speed!.error).toMatch(/^slow: [\d.]+ Mbit\/s \([\d,]+ bytes in [\d.]+ s\) is below SPEED_MIN_MBPS 1000000$/);
  });

  it('a stalled speed server fails the node as stalled', async () => {
    const t = await appWith({ SPEED_URL: `${stalling.url}?bytes=50000000` });
    addPingOk(t, [{ ip: '10.1.0.1', login: 'good' }]);
    const driver = new FakeDriver();
    const stage = speedStage({ gateways: [{ name: 'local', local: true, speedTest: (req, signal) => measureNodeSpeed(driver, req, signal) }], perGateway: 1, url: `${stalling.url}?bytes=50000000`, minMbps: 1, openTimeoutMs: 1000, downloadBytes: 50_000_000, maxSeconds: 5, uploadBytes: 0, stallMs: 300 });
    const out = await stage.run(statusOf(t, '10.1.0.1'), new AbortController().signal);
    expect(out).toMatchObject({ result: 'fail', outcome: 'stalled' });
    expect(out.patch.speed!.error).toBe('stalled: no data for 0.3 s after 300,000 bytes');
  });

  it('host names and other ports are not dialled; the operator is told why', async () => {
    const driver = new FakeDriver();
    const t = await appWith({}, driver);
    addPingOk(t, [
      { ip: '10.1.0.1', login: 'good' },
      { ip: 'vpn.example.com', login: 'good' },
      { ip: '10.1.0.9', login: 'good', port: 1724 },
    ]);
    await t.run('speed', OPERATOR);
    await t.app.jobs.idle();
    expect(driver.opened).toEqual(['10.1.0.1']);
    expect(t.port.privateText()).toMatch(/Not dialled: 2 nodes — .*is not an IPv4 address .*port 1724: pptp can dial only port 1723/);
    expect(statusOf(t, 'vpn.example.com').status).toBe('ping_ok');
  });

  it('default selection is ping_ok; other statuses are named, not tested', async () => {
    const t = await appWith({});
    t.app.store.addNodes([{ ip: '10.1.0.7', login: 'good', password: 'x' }], 'test');
    expect((await t.run('speed', OPERATOR)).kind).toBe('failed');
    expect(t.port.privateText()).toContain('no nodes to speed-test in status:ping_ok');
    expect(speedable(t.app.store.nodes()).refused).toEqual({ not_tested: 1 });
  });

  it('import test=speed: ping, then speed on what passed (startPingThenSpeed, in commands/import.ts)', async () => {
    const fleet = await startSimFleet({ count: 4, seed: 11, mix: { good: 0.5, closed: 0.5 } });
    try {
      const driver = new FakeDriver();
      const t = await appWith({ PING_TIMEOUT_MS: '500', PING_RETRIES: '0' }, driver);
      const nodes = t.app.store.addNodes(fleet.servers.map((s) => ({ ip: s.ip, login: 'good', password: s.password })), 'fleet.txt');
      const ctx = commandContext({ services: t.app, port: t.port, invocation: { text: 'import test=speed', files: [], actor: OPERATOR, where: { key: 'C1' } }, role: 'operator', commandLine: 'import test=speed', secretsDelivery: 'dm' });
      const started = await startPingThenSpeed(ctx, nodes, 'imported from fleet.txt');
      expect(started.refusal).toBeNull();
      await started.ping!.done;
      const speedJob = await started.speed;
      await speedJob!.done;
      const good = fleet.servers.filter((s) => s.behaviour === 'good').map((s) => s.ip).sort();
      expect(driver.opened.sort()).toEqual(good);
      for (const ip of good) expect(statusOf(t, ip).status).toBe('speed_ok');
      expect(t.app.store.jobs().map((j) => j.kind)).toEqual(['ping', 'speed']);
    } finally {
      await fleet.close();
    }
  });

  it('import test=speed on an incapable host: ping still runs, speed is refused in one line', async () => {
    const t = await appWith({ PING_TIMEOUT_MS: '300', PING_RETRIES: '0' }, null);
    const nodes = t.app.store.addNodes([{ ip: (await loopbackRange()).first, login: 'u', password: 'p' }], 'x');
    const ctx = commandContext({ services: t.app, port: t.port, invocation: { text: 'import test=speed', files: [], actor: OPERATOR, where: { key: 'C1' } }, role: 'operator', commandLine: 'import test=speed', secretsDelivery: 'dm' });
    const started = await startPingThenSpeed(ctx, nodes, 'x');
    expect(started.refusal).toMatch(/^speed tests need PPTP tunnels/);
    await started.ping!.done;
    expect(await started.speed).toBeNull();
    expect(t.port.publicText()).toMatch(/test=speed: speed tests need PPTP tunnels, which this host cannot open: .*\. Pinging only\./);
    expect(t.app.store.jobs().map((j) => j.kind)).toEqual(['ping']);
  });
});

describe('the node deadline covers open, transfers and close', () => {
  it('adds up', () => {
    expect(speedNodeDeadlineMs({ url: '', minMbps: 1, openTimeoutMs: 30_000, downloadBytes: 1, maxSeconds: 10, uploadBytes: 0, stallMs: 8_000 })).toBe(30_000 + 23_000 + 5_000);
    expect(speedNodeDeadlineMs({ url: '', minMbps: 1, openTimeoutMs: 30_000, downloadBytes: 1, maxSeconds: 10, uploadBytes: 1, stallMs: 8_000 })).toBe(30_000 + 46_000 + 5_000);
  });
});
