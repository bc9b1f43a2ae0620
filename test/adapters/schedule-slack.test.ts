/**
 * A schedule through the real Bolt client against the fake Slack: made with a slash command in a
 * channel, fired by a fake clock (node-cron's matcher), its run's summary lands in that channel.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSlackSession, type SlackSession } from '../fakes/slack/harness.ts';
import { BOT_USER } from '../fakes/slack/model.ts';
import { fakeClockSchedules } from '../kit/fake-cron.ts';
import { useSimFleet } from '../kit/sim-fleet.ts';
import { eventually } from '../kit/wait.ts';

const fleet = useSimFleet({ count: 6, seed: 21, mix: { good: 0.5, closed: 0.5 } });
let s: SlackSession | null = null;
afterEach(async () => {
  await s?.stop();
  s = null;
});

describe('Slack: a fired schedule posts its summary in the channel it was made in', () => {
  it('schedule ping … every day 03:00, then 03:00 comes', async () => {
    s = await startSlackSession({ PING_TIMEOUT_MS: '400', PING_RETRIES: '0' });
    const { app } = s.app;
    // The adapter's port is registered where the bot posts without a command (alerts, schedules).
    app.alerts.register(s.adapter.port);
    const clock = await fakeClockSchedules(s.app, '2026-11-24T02:50:00Z');
    app.store.addNodes(fleet.servers.map((x) => ({ ip: x.ip, port: x.port, login: x.login, password: x.password })), 'sim');
    await s.fake.slashCommand({ user: 'UOPER', text: 'schedule ping status:not_tested every day 03:00', channel: 'CGENERAL' });
    const bot = () => s!.fake.model.messages.filter((m) => m.user === BOT_USER && m.channel === 'CGENERAL');
    await eventually(() => expect(bot().map((m) => m.text).join('\n')).toContain('every day 03:00'));
    expect(app.store.jobs()).toHaveLength(0);

    expect(await clock.advanceTo('2026-11-24T03:00:00Z')).toBe(1);
    await app.jobs.idle();
    const good = fleet.servers.filter((x) => x.behaviour === 'good').length;
    await eventually(() => {
      const text = bot().map((m) => m.text).join('\n');
      expect(text).toContain('made by otto');
      expect(text).toMatch(/ping j1\*? finished/);
      expect(text).toContain(`ok ${good}`);
    });
    expect(app.store.jobs()[0]).toMatchObject({ kind: 'ping', actor: 'slack:UOPER', state: 'done' });
    // The failures list is in a thread under the summary, in the same channel; nothing went to another channel.
    expect(bot().some((m) => m.threadTs && m.threadTs !== m.ts && m.files.some((f) => f.name === 'ping-j1-failures.csv'))).toBe(true);
    expect(s.fake.model.messages.filter((m) => m.user === BOT_USER && m.channel !== 'CGENERAL' && !s!.fake.model.isIm(m.channel))).toHaveLength(0);
  });
});
