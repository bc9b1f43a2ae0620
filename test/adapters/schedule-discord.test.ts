/**
 * A schedule through the real discord.js client against the fake Discord: the whole line typed into
 * the `/connexa schedule` option (an operator by Discord role), fired by a fake clock (node-cron's
 * matcher); its run's summary lands in the channel it was made in, not the alert channel.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DiscordHarness, type DiscordSession } from '../fakes/discord/harness.ts';
import { fakeClockSchedules } from '../kit/fake-cron.ts';
import { useSimFleet } from '../kit/sim-fleet.ts';
import { eventually } from '../kit/wait.ts';

const fleet = useSimFleet({ count: 6, seed: 22, mix: { good: 0.5, closed: 0.5 } });
let h: DiscordSession | null = null;
afterEach(async () => {
  await h?.stop();
  h = null;
});

/**
 * A bot on the fake Discord with the sim fleet, a fake clock on a Saturday, and the operator's
 * `/connexa schedule line:"ping status:not_tested every sunday 04:00"` acknowledged in #ops.
 */
async function scheduledByOperator() {
  h = await new DiscordHarness().start({ PING_TIMEOUT_MS: '400', PING_RETRIES: '0' });
  const session = h;
  const { app } = session.app;
  app.alerts.register(session.adapter.port);
  const clock = await fakeClockSchedules(session.app, '2026-11-28T12:00:00Z'); // a Saturday
  app.store.addNodes(fleet.servers.map((x) => ({ ip: x.ip, port: x.port, login: x.login, password: x.password })), 'sim');
  const option = session.schema.bindings.get('schedule')!.find((b) => b.kind === 'positional')!.option;
  await session.fake.interaction({ user: 'operator', sub: 'schedule', options: [{ name: option, type: 3, value: 'ping status:not_tested every sunday 04:00' }] }).acked;
  const channel = session.fake.ids.channel;
  const inChannel = () => session.publicMessages().filter((m) => m.where === channel).map((m) => m.text).join('\n');
  await eventually(() => expect(inChannel()).toContain('every sunday 04:00'));
  return { session, app, clock, inChannel };
}

describe('Discord: a fired schedule posts its summary in the channel it was made in', () => {
  it('/connexa schedule line:"ping status:not_tested every sunday 04:00", then Sunday 04:00 comes', async () => {
    const { session: s, app, clock, inChannel } = await scheduledByOperator();
    expect(app.schedules.list()).toMatchObject([{ line: 'ping status:not_tested', cron: '0 4 * * 0', platform: 'discord' }]);

    expect(await clock.advanceTo('2026-11-29T04:00:00Z')).toBe(1);
    await app.jobs.idle();
    const good = fleet.servers.filter((x) => x.behaviour === 'good').length;
    await eventually(() => {
      expect(inChannel()).toMatch(/Schedule \*\*s1\*\* \(every sunday 04:00, made by /);
      expect(inChannel()).toMatch(/ping j1\*\* finished/);
      expect(inChannel()).toContain(`ok ${good}`);
    });
    expect(app.store.jobs()[0]).toMatchObject({ kind: 'ping', state: 'done' });
    expect(s.publicMessages().filter((m) => m.where === s.fake.ids.alertChannel)).toHaveLength(0);
  });

  it('a Discord role lost after the schedule was made refuses the next run and says why; a member who left, too', async () => {
    // Otto is an operator only by his Discord role.
    const { session: s, app, clock, inChannel } = await scheduledByOperator();
    expect(app.schedules.list()[0]!.actor.roleIds).toEqual([s.fake.ids.operatorRole]);

    // The role is taken away in Discord; the schedule still records it.
    const otto = s.fake.users.operator;
    otto.roles.splice(0);
    const asked = () => s.fake.requests.filter((r) => r.method === 'GET' && r.path.includes(`/guilds/${s.fake.ids.guild}/members/${otto.id}`)).length;
    expect(await clock.advanceTo('2026-11-29T04:00:00Z')).toBe(1);
    await eventually(() => expect(inChannel()).toMatch(/⛔ Schedule \*\*s1\*\* did not run: otto no longer has the operator role `ping` needs \(no role now\)/i));
    expect(asked()).toBe(1);
    expect(app.store.jobs()).toEqual([]);
    expect(app.schedules.list()[0]!.lastRun).toMatchObject({ outcome: 'refused' });

    // Given back, it runs again; once Otto has left the server, the run is refused: never on old roles.
    otto.roles.push(s.fake.ids.operatorRole);
    expect(await clock.advanceTo('2026-12-06T04:00:00Z')).toBe(1);
    await app.jobs.idle();
    await eventually(() => expect(inChannel()).toMatch(/ping j1\*\* finished/));
    otto.leftGuild = true;
    expect(await clock.advanceTo('2026-12-13T04:00:00Z')).toBe(1);
    await eventually(() => expect(inChannel()).toMatch(/⛔ Schedule \*\*s1\*\* did not run: .*current discord roles could not be read \(.* is no longer a member of the server\), and a schedule never runs on the roles it was made with/));
    expect(app.store.jobs()).toHaveLength(1);
    expect(app.schedules.list()[0]!.lastRun).toMatchObject({ outcome: 'refused' });
  });
});
