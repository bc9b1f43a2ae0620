import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimFleet, type SimFleet } from '../sim/fleet.ts';
import { fileOf, OPERATOR, testApp, VIEWER, type TestApp } from '../kit/app.ts';

let fleet: SimFleet;
let t: TestApp;
beforeAll(async () => {
  fleet = await startSimFleet({ count: 60, seed: 3, mix: { good: 0.5, silent: 0.2, closed: 0.15, garbage: 0.15 } });
});
afterAll(async () => {
  await fleet.close();
});
beforeEach(async () => {
  t = await testApp({ PING_TIMEOUT_MS: '300', PING_RETRIES: '0', PING_CONCURRENCY: '20' });
});
afterEach(async () => {
  await t.dispose();
});

const good = () => fleet.servers.filter((s) => s.behaviour === 'good').length;

describe('ping, jobs, cancel through the dispatcher', () => {
  it('import test=ping reports the import, then one progress message edited into the summary, failures in a thread', async () => {
    const out = await t.run('import test=ping', OPERATOR, [fileOf('fleet.txt', fleet.importText())]);
    expect(out.kind).toBe('ok');
    await t.app.jobs.idle();
    const posts = t.port.calls.filter((c) => c.verb === 'post');
    expect(posts[0]!.verb === 'post' && posts[0]!.msg.text).toContain('**60 added**');
    const parent = posts[1]!;
    expect(parent.verb === 'post' && parent.msg.text).toMatch(/^⏳ \*\*ping j1\*\* \(imported from fleet\.txt\)/);
    const edits = t.port.calls.filter((c) => c.verb === 'edit');
    expect(edits.length).toBeGreaterThan(0);
    expect(edits.every((e) => e.verb === 'edit' && e.ref === (parent.verb === 'post' ? parent.ref : ''))).toBe(true);
    const final = edits.at(-1)!;
    expect(final.verb === 'edit' && final.msg.text).toContain(`✅ **ping j1** finished`);
    expect(final.verb === 'edit' && final.msg.text).toContain(`ok ${good()}`);
    // Failures go to a thread under the parent, with the full list as CSV.
    const thread = t.port.calls.find((c) => c.verb === 'openThread');
    expect(thread).toMatchObject({ ref: parent.verb === 'post' ? parent.ref : '' });
    const inThread = posts.filter((p) => p.verb === 'post' && p.where.startsWith('thread:'));
    expect(inThread).toHaveLength(1);
    const csv = inThread[0]!.verb === 'post' ? inThread[0]!.msg.files![0]! : null;
    expect(csv!.name).toBe('ping-j1-failures.csv');
    const rows = csv!.data.toString().trim().split('\r\n');
    expect(rows[0]).toBe('id,ip,port,outcome,reason');
    expect(rows).toHaveLength(1 + 60 - good());
    expect(t.app.store.nodes().filter((n) => n.status === 'ping_ok')).toHaveLength(good());
    // No password in anything the channel saw.
    for (const s of fleet.servers) expect(t.port.publicText()).not.toContain(s.password);
  });

  it('ping with no filter takes not_tested and ping_failed; refuses when nothing is left', async () => {
    t.app.store.addNodes(fleet.servers.map((s) => ({ ip: s.ip, login: s.login, password: s.password })), 'sim');
    expect((await t.run('ping', OPERATOR)).kind).toBe('ok');
    await t.app.jobs.idle();
    t.port.clear();
    // Second run: only the failures (ping_failed) are selected again.
    await t.run('ping', OPERATOR);
    await t.app.jobs.idle();
    const job = t.app.store.jobs().at(-1)!;
    expect(job.total).toBe(60 - good());
    t.port.clear();
    expect((await t.run('ping status:online', OPERATOR)).kind).toBe('failed');
    expect(t.port.privateText()).toContain('no nodes to ping in status:online');
  });

  it('lists running jobs, cancels one, and refuses viewers', async () => {
    const silent = fleet.servers.filter((s) => s.behaviour === 'silent');
    const slow = await testApp({ PING_TIMEOUT_MS: '5000', PING_RETRIES: '0', PING_CONCURRENCY: '2' });
    slow.app.store.addNodes(silent.map((s) => ({ ip: s.ip, login: s.login, password: s.password })), 'sim');
    await slow.run('ping', OPERATOR);
    slow.port.clear();
    await slow.run('jobs', VIEWER);
    expect(slow.port.publicText()).toMatch(/⏳ \*\*ping j1\*\*/);
    expect((await slow.run('cancel j1', VIEWER)).kind).toBe('denied');
    expect((await slow.run('cancel j1', OPERATOR)).kind).toBe('ok');
    await slow.app.jobs.idle();
    const job = slow.app.store.jobs()[0]!;
    expect(job.state).toBe('cancelled');
    expect(job.note).toMatch(/^cancelled by slack:UOPER after 0 of \d+$/);
    expect(slow.app.store.nodes().every((n) => n.status === 'not_tested')).toBe(true);
    expect(slow.port.publicText()).toContain('⏹️ **ping j1** cancelled by slack:UOPER');
    slow.port.clear();
    expect((await slow.run('cancel j1', OPERATOR)).kind).toBe('failed');
    expect(slow.port.privateText()).toContain('j1 is not running (cancelled at');
    expect((await slow.run('cancel j99', OPERATOR)).kind).toBe('failed');
    await slow.dispose();
  });

  it('keeps progress edits inside the port budget', async () => {
    const tight = await testApp({ PING_TIMEOUT_MS: '300', PING_RETRIES: '0', PING_CONCURRENCY: '1' });
    // 60/min = one edit a second, burst 3: a ~3 s job may make only a handful of edits.
    (tight.port.limits as { editsPerMinute: number }).editsPerMinute = 60;
    tight.app.store.addNodes(fleet.servers.filter((s) => s.behaviour === 'silent').slice(0, 8).map((s) => ({ ip: s.ip, login: s.login, password: s.password })), 'sim');
    const started = Date.now();
    await tight.run('ping', OPERATOR);
    await tight.app.jobs.idle();
    const seconds = (Date.now() - started) / 1000;
    const edits = tight.port.calls.filter((c) => c.verb === 'edit').length;
    expect(edits).toBeLessThanOrEqual(Math.ceil(seconds) + 3);
    expect(tight.port.calls.filter((c) => c.verb === 'edit').at(-1)!.verb === 'edit').toBe(true);
    await tight.dispose();
  });
});

describe("ping and this host's own services", () => {
  /** A service on 127.0.0.1 that greets like sshd (with control characters) and counts accepts. */
  async function sshLike(): Promise<{ port: number; accepted: () => number; close: () => Promise<void> }> {
    const { createServer } = await import('node:net');
    let accepted = 0;
    const open = new Set<import('node:net').Socket>();
    const server = createServer((s) => {
      accepted++;
      open.add(s);
      s.on('error', () => {});
      s.end('SSH-2.0-OpenSSH_9.6 internal-db-host\x1b[2J\r\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as import('node:net').AddressInfo).port;
    return { port, accepted: () => accepted, close: () => new Promise<void>((r) => (open.forEach((s) => s.destroy()), server.close(() => r()))) };
  }

  it('without PROBE_ALLOW a loopback node is not connected to; show and the failures CSV say why', async () => {
    const srv = await sshLike();
    const strict = await testApp({ PROBE_ALLOW: '', PING_TIMEOUT_MS: '500', PING_RETRIES: '0' });
    try {
      strict.app.store.addNodes([{ ip: '127.0.0.1', port: srv.port, login: 'u', password: 'p4ssw0rd' }], 'test');
      await strict.run('ping', OPERATOR);
      await strict.app.jobs.idle();
      expect(srv.accepted()).toBe(0);
      const node = strict.app.store.nodes()[0]!;
      expect(node.status).toBe('ping_failed');
      expect(node.pptp).toMatchObject({ ok: false, result: 'blocked' });
      const csv = strict.port.calls.flatMap((c) => (c.verb === 'post' ? (c.msg.files ?? []) : [])).find((f) => f.name.endsWith('failures.csv'))!;
      expect(csv.data.toString()).toMatch(/,blocked,not probed: 127\.0\.0\.1 is .*PROBE_ALLOW/);
      strict.port.clear();
      await strict.run('show n1', VIEWER);
      expect(strict.port.publicText()).toMatch(/PPTP: blocked — not probed: 127\.0\.0\.1 is .*PROBE_ALLOW/);
      strict.port.clear();
      await strict.run('help ping', VIEWER);
      expect(strict.port.privateText()).toContain('unless PROBE_ALLOW names them');
    } finally {
      await strict.dispose();
      await srv.close();
    }
  });

  it('with PROBE_ALLOW it is probed, and show describes the banner without quoting it', async () => {
    const srv = await sshLike();
    try {
      t.app.store.addNodes([{ ip: '127.0.0.1', port: srv.port, login: 'u', password: 'p4ssw0rd' }], 'test');
      await t.run('ping', OPERATOR);
      await t.app.jobs.idle();
      expect(srv.accepted()).toBe(1);
      t.port.clear();
      await t.run('show n1', VIEWER);
      const shown = t.port.publicText();
      expect(shown).toMatch(/PPTP: not_pptp — not PPTP: .*it sent \d+ bytes, starts like an SSH banner/);
      expect(shown).not.toMatch(/OpenSSH|internal-db-host|\x1b/);
    } finally {
      await srv.close();
    }
  });
});
