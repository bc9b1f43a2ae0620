import net from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeSccrp, encodeStopCcrp, SCCRQ_LENGTH } from '../../src/probes/pptp/codec.ts';
import { ADMIN, OPERATOR, testApp, type TestApp } from '../kit/app.ts';
import { loopbackRange } from '../kit/loopback.ts';

/** PPTP responders that can be taken down and brought back, one per loopback address. */
class Responders {
  private readonly servers = new Map<string, net.Server>();
  readonly ips: string[];
  constructor(ips: string[]) {
    this.ips = ips;
  }

  async up(ip: string): Promise<void> {
    if (this.servers.has(ip)) return;
    const server = net.createServer((socket) => {
      let got = 0;
      socket.on('data', (d) => {
        got += d.length;
        if (got >= SCCRQ_LENGTH && got - d.length < SCCRQ_LENGTH) socket.write(encodeSccrp({ vendor: 'lab', hostname: ip }));
        else if (got > SCCRQ_LENGTH) socket.end(encodeStopCcrp());
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(1723, ip, r));
    this.servers.set(ip, server);
  }

  async down(ip: string): Promise<void> {
    const s = this.servers.get(ip);
    this.servers.delete(ip);
    if (s) await new Promise((r) => s.close(r));
  }

  async closeAll(): Promise<void> {
    for (const ip of [...this.servers.keys()]) await this.down(ip);
  }
}

const block = await loopbackRange();
const IPS = Array.from({ length: 30 }, (_, i) => block.address(i));
const fleet = new Responders(IPS);
let t: TestApp;

beforeAll(async () => {
  for (const ip of IPS) await fleet.up(ip);
});
afterAll(async () => {
  await fleet.closeAll();
});
beforeEach(async () => {
  t = await testApp({ MONITOR_FAILS: '2', PING_TIMEOUT_MS: '500', PING_RETRIES: '0' });
  t.app.alerts.register(t.port);
  // These nodes are put online by hand, without services: only the PPTP handshake is checked here.
  // The services' own check (tunnel, proxy, OpenVPN server) is tested in test/services.
  t.app.monitor.checks.length = 0;
  for (const ip of IPS) await fleet.up(ip);
});
afterEach(async () => {
  await t.dispose();
});

/** Puts nodes online the way start would leave them (start itself is another issue's stage). */
function online(ips: string[]): string[] {
  const nodes = t.app.store.addNodes(ips.map((ip) => ({ ip, login: 'u', password: 'p' })), 'lab');
  for (const n of nodes) {
    for (const [from, to] of [['not_tested', 'ping_ok'], ['ping_ok', 'speed_ok'], ['speed_ok', 'online']] as const) {
      t.app.store.transition({ id: n.id, from, to, reason: 'setup', actor: 'test' });
    }
  }
  return nodes.map((n) => n.id);
}

const alertsSent = () => t.port.calls.filter((c) => c.verb === 'postAlert').map((c) => (c.verb === 'postAlert' ? c.msg : null)!);

describe('monitor', () => {
  it('takes a node offline after MONITOR_FAILS failures in a row, alerts once, and announces its recovery', async () => {
    const [a, b] = online(IPS.slice(0, 2));
    await fleet.down(IPS[0]!);
    const r1 = await t.app.monitor.run('test');
    expect(r1).toMatchObject({ checked: 2, wentOffline: 0, cameBack: 0, alertsSent: 0 });
    expect(t.app.store.get(a!)!.status).toBe('online');
    expect(t.app.store.get(a!)!.monitor).toMatchObject({ fails: 1 });

    const r2 = await t.app.monitor.run('test');
    expect(r2).toMatchObject({ wentOffline: 1, alertsSent: 1 });
    expect(t.app.store.get(a!)!.status).toBe('offline');
    expect(t.app.store.get(a!)!.history.at(-1)).toMatchObject({ from: 'online', to: 'offline', actor: expect.stringContaining('monitor (test)') });
    expect(alertsSent()).toHaveLength(1);
    expect(alertsSent()[0]!.text.replace(IPS[0]!, 'IP0')).toMatch(/^🔴 \*\*n1\*\* went offline \(after 2 failed checks in a row\)\n• n1 IP0 — refused: connection refused/);
    expect(t.app.store.get(b!)!.status).toBe('online');

    // Still down: no repeat.
    await t.app.monitor.run('test');
    expect(alertsSent()).toHaveLength(1);

    await fleet.up(IPS[0]!);
    const r4 = await t.app.monitor.run('test');
    expect(r4).toMatchObject({ cameBack: 1, alertsSent: 1 });
    expect(t.app.store.get(a!)!.status).toBe('online');
    expect(t.app.store.get(a!)!.monitor).toMatchObject({ fails: 0 });
    expect(alertsSent().at(-1)!.text).toMatch(/^🟢 \*\*n1\*\* came back online/);
  });

  it('groups many transitions of one run into one message, with a CSV when the list is long', async () => {
    online(IPS);
    for (const ip of IPS.slice(0, 25)) await fleet.down(ip);
    await t.app.monitor.run('test');
    await t.app.monitor.run('test');
    const msgs = alertsSent();
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toMatch(/^🔴 \*\*25 nodes went offline\*\*/);
    expect(msgs[0]!.text.split('\n').filter((l) => l.startsWith('• '))).toHaveLength(20);
    expect(msgs[0]!.text).toContain('…and 5 more (all in the attached CSV)');
    const csv = msgs[0]!.files![0]!.data.toString().trim().split('\r\n');
    expect(csv[0]).toBe('id,ip,port,from,to,outcome,reason');
    expect(csv).toHaveLength(26);
  });

  it('counts a failing service check (after a passing handshake) as a failure, with its reason', async () => {
    const [a] = online(IPS.slice(0, 1));
    t.app.monitor.checks.push(async () => ({ ok: false, outcome: 'socks_down', reason: 'the SOCKS listener does not accept connections' }));
    await t.app.monitor.run('test');
    await t.app.monitor.run('test');
    expect(t.app.store.get(a!)!.status).toBe('offline');
    expect(t.app.store.get(a!)!.history.at(-1)!.reason).toBe('monitor: socks_down — the SOCKS listener does not accept connections (2 failed checks in a row)');
  });

  it('a decisive failure (their gateway is down) takes nodes offline in one run, in one alert that says so', async () => {
    const ids = online(IPS.slice(0, 3));
    t.app.monitor.checks.push(async () => ({ ok: false, outcome: 'gateway_down', reason: 'gateway gw2 is down: no heartbeat for 31 s', decisive: true }));
    const run = await t.app.monitor.run('test');
    expect(run).toMatchObject({ wentOffline: 3, alertsSent: 1 });
    for (const id of ids) expect(t.app.store.get(id)!.status).toBe('offline');
    expect(t.app.store.get(ids[0]!)!.history.at(-1)!.reason).toBe('monitor: gateway_down — gateway gw2 is down: no heartbeat for 31 s (1 failed check in a row)');
    expect(alertsSent()[0]!.text).toMatch(/^🔴 \*\*3 nodes went offline\*\* \(their gateway is down; monitor j\d+\)/);
  });

  it('runAfter: a run that starts after the request, one for all requests made while a run is going', async () => {
    online(IPS.slice(0, 2));
    const first = t.app.monitor.run('first');
    const a = t.app.monitor.runAfter('event a');
    const b = t.app.monitor.runAfter('event b');
    expect(a).toBe(b);
    const [r1, r2] = await Promise.all([first, a]);
    expect(r2.jobId).not.toBe(r1.jobId);
    expect(r2.trigger).toBe('event a');
    expect(Date.parse(r2.startedAt)).toBeGreaterThanOrEqual(Date.parse(r1.finishedAt));
    const alone = await t.app.monitor.runAfter('idle');
    expect(alone.trigger).toBe('idle');
  });

  it('touches online and offline nodes only', async () => {
    online(IPS.slice(0, 1));
    const others = t.app.store.addNodes(IPS.slice(1, 4).map((ip) => ({ ip, login: 'x', password: 'y' })), 'lab');
    t.app.store.transition({ id: others[1]!.id, from: 'not_tested', to: 'ping_ok', reason: 'x', actor: 't' });
    const before = others.map((n) => JSON.stringify(t.app.store.get(n.id)));
    const run = await t.app.monitor.run('test');
    expect(run.checked).toBe(1);
    expect(others.map((n) => JSON.stringify(t.app.store.get(n.id)))).toEqual(before);
  });

  it('never overlaps itself: a second run while one is going returns the same run', async () => {
    online(IPS.slice(0, 3));
    const [r1, r2] = await Promise.all([t.app.monitor.run('a'), t.app.monitor.run('b')]);
    expect(r2).toBe(r1);
    expect(t.app.store.jobs().filter((j) => j.kind === 'monitor')).toHaveLength(1);
  });

  it('skips nodes another job holds', async () => {
    const [a] = online(IPS.slice(0, 1));
    t.app.jobs.leases.lease([a!], 'j99');
    const run = await t.app.monitor.run('test');
    expect(run.counts).toEqual({ busy: 1 });
  });

  it('is driven from chat: status, off, on, run; alerts here moves the alerts to this channel', async () => {
    online(IPS.slice(0, 2));
    await fleet.down(IPS[1]!);
    expect((await t.run('monitor run', OPERATOR)).kind).toBe('denied');
    expect((await t.run('monitor off', ADMIN)).kind).toBe('ok');
    expect(t.app.monitor.enabled).toBe(false);
    await t.run('monitor on', ADMIN);
    expect(t.app.monitor.enabled).toBe(true);
    await t.run('alerts here', ADMIN);
    await t.run('monitor run', ADMIN);
    await t.run('monitor run', ADMIN);
    // With `alerts here`, the alert is posted in this channel rather than to the platform's alert channel.
    expect(alertsSent()).toHaveLength(0);
    expect(t.port.calls.filter((c) => c.verb === 'post' && c.where === 'C1' && c.msg.text.startsWith('🔴 **n2** went offline'))).toHaveLength(1);
    t.port.clear();
    await t.run('monitor status', ADMIN);
    const status = t.port.publicText();
    expect(status).toContain('**Monitor** is on · schedule `*/5 * * * *` · 2 failed checks in a row take a node offline');
    expect(status).toMatch(/Last run \(run by ada, j\d+\) finished .*: 2 nodes checked — ok 1 · refused 1; 1 went offline, 0 came back, 1 alert sent\./);
    expect((await t.run('monitor sometimes', ADMIN)).kind).toBe('failed');
  });
});

describe('monitor schedule', () => {
  it('runs on its cron schedule when on, and not when off', async () => {
    const s = await testApp({ MONITOR_CRON: '* * * * * *', PING_TIMEOUT_MS: '500', PING_RETRIES: '0' });
    try {
      s.app.monitor.checks.length = 0;
      const nodes = s.app.store.addNodes([{ ip: IPS[0]!, login: 'u', password: 'p' }], 'lab');
      for (const [from, to] of [['not_tested', 'ping_ok'], ['ping_ok', 'speed_ok'], ['speed_ok', 'online']] as const) {
        s.app.store.transition({ id: nodes[0]!.id, from, to, reason: 'setup', actor: 'test' });
      }
      s.app.monitor.setEnabled(false);
      s.app.monitor.start();
      await new Promise((r) => setTimeout(r, 2200));
      expect(s.app.store.jobs().filter((j) => j.kind === 'monitor')).toHaveLength(0);
      s.app.monitor.setEnabled(true);
      expect(s.app.monitor.nextRunAt()).toBeInstanceOf(Date);
      await new Promise((r) => setTimeout(r, 2200));
      expect(s.app.store.jobs().filter((j) => j.kind === 'monitor').length).toBeGreaterThanOrEqual(1);
      expect(s.app.monitor.lastRun).toMatchObject({ trigger: 'schedule', checked: 1 });
    } finally {
      await s.dispose();
    }
  });
});
