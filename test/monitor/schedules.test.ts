import cron from 'node-cron';
import { afterEach, describe, expect, it } from 'vitest';
import { compose } from '../../src/compose.ts';
import { parseConfig } from '../../src/config.ts';
import { digestOf, digestText } from '../../src/monitor/digest.ts';
import { parseWhen } from '../../src/monitor/when.ts';
import { Store } from '../../src/store/store.ts';
import { ADMIN, OPERATOR, testApp, testBot, VIEWER, type TestApp } from '../kit/app.ts';
import { fakeClockSchedules } from '../kit/fake-cron.ts';
import { RecordingPort } from '../kit/recording-port.ts';
import { useSimFleet } from '../kit/sim-fleet.ts';
import { eventually } from '../kit/wait.ts';
import { useTempDir } from '../kit/temp-dir.ts';

const fleet = useSimFleet({ count: 8, seed: 5, mix: { good: 0.5, silent: 0.5 } });
const PING_ENV = { PING_TIMEOUT_MS: '300', PING_RETRIES: '0' };
const good = () => fleet.servers.filter((s) => s.behaviour === 'good');
const silent = () => fleet.servers.filter((s) => s.behaviour === 'silent');

let t: TestApp | null = null;
afterEach(async () => {
  t?.app.jobs.cancelAll('test over');
  await t?.dispose();
  t = null;
});

const addServers = (app: TestApp, servers = fleet.servers) => app.app.store.addNodes(servers.map((s) => ({ ip: s.ip, port: s.port, login: s.login, password: s.password })), 'sim');

describe('every <when>: the words and cron parser', () => {
  it('turns phrases into crons node-cron accepts, and a quoted 5-field cron is kept', () => {
    expect(parseWhen('day 03:00')).toEqual({ cron: '0 3 * * *', words: 'day 03:00' });
    expect(parseWhen('sunday 04:00')).toMatchObject({ cron: '0 4 * * 0' });
    expect(parseWhen('Monday,Thursday 22:30')).toMatchObject({ cron: '30 22 * * 1,4' });
    expect(parseWhen('weekday 8:05')).toMatchObject({ cron: '5 8 * * 1-5' });
    expect(parseWhen('hour :15')).toMatchObject({ cron: '15 * * * *' });
    expect(parseWhen('30 minutes')).toMatchObject({ cron: '*/30 * * * *' });
    expect(parseWhen('30 2 * * 1-5')).toMatchObject({ cron: '30 2 * * 1-5' });
  });

  it('says clearly what it does not understand', () => {
    expect(parseWhen('fortnight 03:00')).toEqual({ error: expect.stringContaining('`fortnight` is not a day') });
    expect(parseWhen('day 25:00')).toEqual({ error: expect.stringContaining('25:00 is not a time of day') });
    expect(parseWhen('tomorrow')).toEqual({ error: expect.stringContaining('cannot read `tomorrow` as a time') });
    expect(parseWhen('7 minutes')).toEqual({ error: expect.stringContaining('divisor of 60') });
    expect(parseWhen('61 * * * *')).toEqual({ error: expect.stringContaining('is not a valid cron') });
  });
});

describe('schedule, schedules, unschedule', () => {
  it('refuses what cannot be scheduled, what it cannot read, and a viewer', async () => {
    t = await testApp(PING_ENV);
    await t.run('schedule delete all every day 03:00', ADMIN);
    expect(t.port.privateText()).toContain('`delete` cannot be scheduled; schedules run ping, speed, export, stats');
    await t.run('schedule ping status:ping_ok every fortnight', OPERATOR);
    expect(t.port.privateText()).toContain('cannot read `fortnight` as a time');
    await t.run('schedule ping stauts:ping_ok every day 03:00', OPERATOR);
    expect(t.port.privateText()).toContain('unknown filter key "stauts"');
    expect((await t.run('schedule ping every day 03:00', VIEWER)).kind).toBe('denied');
    expect(t.app.schedules.list()).toHaveLength(0);
  });

  it('reads the line Discord hands over as one quoted value, and a quoted cron', async () => {
    t = await testApp(PING_ENV);
    await t.run(`schedule 'ping status:ping_ok every "30 2 * * 1-5"'`, OPERATOR);
    await t.run('schedule speed status:speed_ok every "0 4 * * 0"', OPERATOR);
    expect(t.app.schedules.list()).toMatchObject([
      { id: 's1', line: 'ping status:ping_ok', cron: '30 2 * * 1-5', actor: { id: 'UOPER', name: 'otto' } },
      { id: 's2', line: 'speed status:speed_ok', cron: '0 4 * * 0' },
    ]);
    await t.run('schedule speed status:speed_ok every sunday 04:00', OPERATOR);
    expect(t.port.privateText()).toContain('this is schedule s2 already');
    expect(() => parseConfig({ DIGEST_CRON: 'mondays' })).toThrow(/DIGEST_CRON must be a cron expression/);
    expect(parseConfig({ DIGEST_CRON: '0 9 * * 1' }).DIGEST_CRON).toBe('0 9 * * 1');
  });

  it('fires on its cron as its maker, in the channel it was made in, and posts the job summary there', async () => {
    t = await testApp(PING_ENV);
    t.app.alerts.register(t.port);
    const clock = await fakeClockSchedules(t, '2026-11-24T02:58:00Z');
    addServers(t);
    expect((await t.run('schedule ping status:not_tested every day 03:00', OPERATOR)).kind).toBe('ok');
    expect(t.port.publicText()).toMatch(/🕒 Schedule \*\*s1\*\*: `ping status:not_tested` every day 03:00 \(`0 3 \* \* \*`\), results in this channel\. Next run: \d{4}-\d\d-\d\d \d\d:00 UTC\./);
    t.port.clear();
    expect(await clock.advanceTo('2026-11-24T02:59:30Z')).toBe(0);
    expect(t.app.store.jobs()).toHaveLength(0);
    expect(await clock.advanceTo('2026-11-24T03:00:00Z')).toBe(1);
    await t.app.jobs.idle();
    // Everything went to C1, where `schedule` was typed, publicly.
    const posts = t.port.calls.filter((c) => c.verb === 'post' && !c.where.startsWith('thread:'));
    expect(posts.every((p) => p.verb === 'post' && p.where === 'C1')).toBe(true);
    expect(t.port.publicText()).toContain('🕒 Schedule **s1** (every day 03:00, made by otto): `ping status:not_tested`');
    expect(t.port.publicText()).toContain('✅ **ping j1** finished');
    expect(t.port.publicText()).toContain(`ok ${good().length}`);
    const job = t.app.store.jobs()[0]!;
    expect(job).toMatchObject({ kind: 'ping', actor: 'slack:UOPER', selection: 'status:not_tested' });
    await eventually(() => expect(t!.app.schedules.get('s1')!.lastRun).toMatchObject({ outcome: 'done', note: expect.stringContaining(`ping j1: 8 nodes, ok ${good().length}`) }));
    // The dispatcher kept it in the audit trail like a typed command.
    expect(t.app.store.audit().filter((a) => a.command === 'ping' && a.actor === 'slack:UOPER')).toHaveLength(1);
    // `schedules` shows it with its last run.
    t.port.clear();
    await t.run('schedules', VIEWER);
    const listed = t.port.publicText();
    expect(listed).toMatch(/s1\s+\|?\s*ping status:not_tested/);
    expect(listed).toMatch(/day 03:00\s+\|?\s*\d{4}-\d\d-\d\d \d\d:00/);
    expect(listed).toContain('done: ping j1');
    expect(listed).toContain('otto');
    // The next tick is tomorrow: nothing before.
    expect(await clock.advanceTo('2026-11-25T02:59:00Z')).toBe(0);
    await t.run('unschedule s1', OPERATOR);
    expect(t.app.schedules.list()).toHaveLength(0);
    expect(await clock.advanceTo('2026-11-26T04:00:00Z')).toBe(0);
  });

  it('never overlaps: a tick while its previous job (or one of the same selection) still runs is skipped with a note', async () => {
    t = await testApp({ PING_TIMEOUT_MS: '20000', PING_RETRIES: '0' });
    t.app.alerts.register(t.port);
    const clock = await fakeClockSchedules(t, '2026-11-24T10:00:00Z');
    addServers(t, silent());
    await t.run('schedule ping status:not_tested every 5 minutes', OPERATOR);
    await clock.advanceTo('2026-11-24T10:05:00Z');
    expect(t.app.jobs.list()).toHaveLength(1);
    const first = t.app.jobs.list()[0]!;
    await clock.advanceTo('2026-11-24T10:10:00Z');
    expect(t.app.jobs.list()).toHaveLength(1);
    expect(t.port.publicText()).toContain(`⏭️ Schedule **s1** skipped this run (\`ping status:not_tested\`): ping ${first.id} (status:not_tested) is still running.`);
    expect(t.app.schedules.get('s1')!.lastRun).toMatchObject({ outcome: 'skipped', at: '2026-11-24T10:10:00.000Z' });
    first.cancel('test');
    await t.app.jobs.idle();
    // A job of the same selection typed by someone else blocks it too.
    t.port.clear();
    await t.run('ping status:not_tested', ADMIN);
    const typed = t.app.jobs.list()[0]!;
    await clock.advanceTo('2026-11-24T10:15:00Z');
    expect(t.app.jobs.list()).toEqual([typed]);
    expect(t.port.publicText()).toContain(`ping ${typed.id} (status:not_tested) is still running`);
    typed.cancel('test');
    await t.app.jobs.idle();
    // Once nothing runs, the next tick runs.
    await clock.advanceTo('2026-11-24T10:20:00Z');
    expect(t.app.jobs.list()).toHaveLength(1);
  });

  it('is refused, and said in the channel, when its maker lost the role', async () => {
    t = await testApp(PING_ENV);
    t.app.alerts.register(t.port);
    const clock = await fakeClockSchedules(t, '2026-11-24T02:58:00Z');
    addServers(t);
    await t.run('schedule ping every day 03:00', OPERATOR);
    (t.app.config.CONNEXA_OPERATORS as string[]).length = 0;
    t.port.clear();
    await clock.advanceTo('2026-11-24T03:00:00Z');
    expect(t.app.store.jobs()).toHaveLength(0);
    const said = t.port.calls.find((c) => c.verb === 'post' && c.msg.text.startsWith('⛔'));
    expect(said).toMatchObject({ where: 'C1', msg: { text: '⛔ Schedule **s1** did not run: otto no longer has the operator role `ping` needs (no role now). An operator can remove it with `unschedule s1`.' } });
    expect(t.app.schedules.get('s1')!.lastRun).toMatchObject({ outcome: 'refused' });
    expect(t.app.store.audit().at(-1)).toMatchObject({ command: 'ping', outcome: 'denied', actor: 'slack:UOPER' });
  });
});

describe('a platform that is not connected', () => {
  it('skips the run and records why', async () => {
    t = await testApp(PING_ENV);
    const clock = await fakeClockSchedules(t, '2026-11-24T02:58:00Z');
    addServers(t);
    await t.run('schedule ping every day 03:00', OPERATOR);
    // No Slack port is registered with the alerts hub: nowhere to post the results.
    expect(await clock.advanceTo('2026-11-24T03:00:00Z')).toBe(1);
    expect(t.app.store.jobs()).toHaveLength(0);
    expect(t.app.schedules.get('s1')!.lastRun).toEqual({ at: '2026-11-24T03:00:00.000Z', outcome: 'skipped', note: 'slack was not connected' });
  });
});

describe('on node-cron itself', () => {
  it('start() arms one node-cron task per schedule; unschedule destroys it', async () => {
    t = await testApp(PING_ENV);
    const ours = () => [...cron.getTasks().values()].filter((x) => x.name === 'connexa-schedule').map((x) => x.getPattern());
    await t.run('schedule ping every weekday 08:30', OPERATOR);
    expect(ours()).toEqual([]);
    t.app.schedules.start();
    expect(ours()).toEqual(['30 8 * * 1-5']);
    await t.run('schedule stats every hour', OPERATOR);
    expect(ours()).toEqual(['30 8 * * 1-5', '0 * * * *']);
    await t.run('unschedule s1', OPERATOR);
    expect(ours()).toEqual(['0 * * * *']);
    await t.app.schedules.stop();
    expect(ours()).toEqual([]);
  });
});

describe('schedules survive a restart', () => {
  it('a schedule saved before a restart is armed again and fires after it', async () => {
    const bot = await testBot(PING_ENV);
    try {
      const first = await compose(bot.config, { log: bot.log });
      const port = new RecordingPort();
      await first.dispatcher.dispatch(port, { text: 'schedule ping status:not_tested every sunday 04:00', files: [], actor: OPERATOR, where: { key: 'C7' } });
      first.app.store.addNodes(good().map((s) => ({ ip: s.ip, port: s.port, login: s.login, password: s.password })), 'sim');
      await first.close();

      const second = await compose(bot.config, { log: bot.log });
      try {
        expect(second.app.schedules.list()).toMatchObject([{ id: 's1', line: 'ping status:not_tested', cron: '0 4 * * 0', where: 'C7', actor: { id: 'UOPER' } }]);
        const port2 = new RecordingPort();
        second.app.alerts.register(port2);
        const clock = await fakeClockSchedules(second, '2026-11-28T12:00:00Z'); // a Saturday
        expect(clock.armed()).toEqual(['0 4 * * 0']);
        expect(await clock.advanceTo('2026-11-29T04:00:00Z')).toBe(1);
        await second.app.jobs.idle();
        expect(port2.publicText()).toContain('✅ **ping j1** finished');
        expect(port2.calls.filter((c) => c.verb === 'post' && !c.where.startsWith('thread:')).every((c) => c.verb === 'post' && c.where === 'C7')).toBe(true);
        // The next id continues after a restart.
        await second.dispatcher.dispatch(port2, { text: 'schedule stats every day 09:00', files: [], actor: OPERATOR, where: { key: 'C7' } });
        expect(second.app.schedules.list().map((s) => s.id)).toEqual(['s1', 's2']);
      } finally {
        await second.close();
      }
    } finally {
      await bot.remove();
    }
  });
});

describe('the weekly digest', () => {
  const tmp = useTempDir('cnx-digest-');
  it('counts nodes gained and lost from their histories, status changes and the speed trend of a known store', async () => {
    let clock = '2026-11-01T00:00:00.000Z';
    const store = await Store.open(tmp.path, { now: () => clock });
    try {
      const [a, b, c, d] = store.addNodes(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'].map((ip) => ({ ip, login: 'u', password: 'p', country: 'US' })), 'known');
      // Before the week: b and c work (c measured at 40 Mbit/s).
      store.transition({ id: b!.id, from: 'not_tested', to: 'ping_ok', reason: 'ping', actor: 't' });
      store.transition({ id: c!.id, from: 'not_tested', to: 'ping_ok', reason: 'ping', actor: 't' });
      store.transition({ id: c!.id, from: 'ping_ok', to: 'speed_ok', reason: 'speed', actor: 't', patch: { speed: { downMbps: 40, upMbps: 10, error: null, checkedAt: clock } } });
      // In the week: a starts working (measured 20, then 30 Mbit/s on another), b fails, d is imported and works.
      clock = '2026-11-20T00:00:00.000Z';
      store.transition({ id: a!.id, from: 'not_tested', to: 'ping_ok', reason: 'ping', actor: 't' });
      store.transition({ id: a!.id, from: 'ping_ok', to: 'speed_ok', reason: 'speed', actor: 't', patch: { speed: { downMbps: 20, upMbps: 5, error: null, checkedAt: clock } } });
      store.transition({ id: b!.id, from: 'ping_ok', to: 'ping_failed', reason: 'ping', actor: 't' });
      const [e] = store.addNodes([{ ip: '192.0.2.5', login: 'u', password: 'p' }], 'later');
      store.transition({ id: e!.id, from: 'not_tested', to: 'ping_ok', reason: 'ping', actor: 't' });
      store.transition({ id: e!.id, from: 'ping_ok', to: 'speed_ok', reason: 'speed', actor: 't', patch: { speed: { downMbps: 30, upMbps: 5, error: null, checkedAt: clock } } });
      const digest = digestOf(store.nodes(), '2026-11-15T00:00:00.000Z', '2026-11-22T00:00:00.000Z');
      expect(digest.gained.map((n) => n.id).sort()).toEqual([a!.id, e!.id].sort());
      expect(digest.lost.map((n) => n.id)).toEqual([b!.id]);
      expect(digest.changes).toEqual({ 'not_tested>ping_ok': 2, 'ping_ok>speed_ok': 2, 'ping_ok>ping_failed': 1 });
      expect(digest.speed).toEqual({ recent: { median: 25, nodes: 2 }, before: { median: 40, nodes: 1 } });
      expect(d!.status).toBe('not_tested');
      const text = digestText(digest);
      expect(text).toContain('📰 **Weekly digest** 2026-11-15 00:00 → 2026-11-22 00:00 UTC');
      expect(text).toContain('**2 gained** (working now, not before) · **1 lost** (worked before, not now)');
      expect(text).toContain(`• ${b!.id} 192.0.2.2 (US) ping_failed`);
      expect(text).toContain('Status changes: not_tested → ping_ok 2 · ping_ok → speed_ok 2 · ping_ok → ping_failed 1');
      expect(text).toContain('Speed: median 25.0 Mbit/s over 2 nodes tested in this period; ▼ 38 % against 40.0 Mbit/s (the last result of 1 other node).');
    } finally {
      await store.close();
    }
  });

  it('DIGEST_CRON posts it where alerts go, covering the week since the last one', async () => {
    t = await testApp(PING_ENV);
    t.app.alerts.register(t.port);
    addServers(t, good().slice(0, 1));
    const clock = await fakeClockSchedules(t, '2026-11-29T12:00:00Z', '0 9 * * 1');
    expect(await clock.advanceTo('2026-11-30T09:00:00Z')).toBe(1);
    const alerts = t.port.calls.filter((c) => c.verb === 'postAlert');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.verb === 'postAlert' && alerts[0]!.msg.text).toContain('📰 **Weekly digest** 2026-11-23 09:00 → 2026-11-30 09:00 UTC');
    expect(t.app.store.setting('digest.lastAt')).toBe('2026-11-30T09:00:00.000Z');
  });
});
