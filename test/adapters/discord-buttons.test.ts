/**
 * Buttons and autocomplete on Discord, through the real discord.js client against the fake Discord:
 * message components pressed (INTERACTION_CREATE type 3, acknowledged with a deferred update), a
 * press by someone else, a stale press; autocomplete (type 4) answered with choices (type 8) in 3 s.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DiscordHarness, type DiscordSession } from '../fakes/discord/harness.ts';
import { buttonsOf, type FakeMessage } from '../fakes/discord/index.ts';
import { MIXED, useSimFleet } from '../kit/sim-fleet.ts';
import { eventually } from '../kit/wait.ts';

const fleet = useSimFleet({ count: 30, seed: 8, mix: MIXED, slowDelayMs: 50 });

describe('Discord buttons and autocomplete', () => {
  let h: DiscordSession | null = null;
  const session = async (env: Record<string, string> = {}) => (h = await new DiscordHarness().start({ PING_RETRIES: '0', PING_CONCURRENCY: '4', ...env }));
  afterEach(async () => {
    await h?.stop();
    h = null;
  });
  const messages = (s: DiscordSession) => [...s.fake.state.messages.values()].filter((m) => !m.deleted && !m.loading);
  const withButtons = (s: DiscordSession, userId: string) => messages(s).filter((m) => m.ephemeralFor === userId && buttonsOf(m).length);
  const lastPrivate = (s: DiscordSession, userId: string): FakeMessage => messages(s).filter((m) => m.ephemeralFor === userId).at(-1)!;
  const button = (m: FakeMessage, label: string) => buttonsOf(m).find((b) => b.label.includes(label))!.id;
  const addNodes = (s: DiscordSession, n: number, from = 1) =>
    s.app.app.store.addNodes(Array.from({ length: n }, (_, i) => ({ ip: `203.0.113.${from + i}`, login: `u${i}`, password: `pw-${from + i}`, country: i % 2 ? 'DE' : 'US', provider: 'Acme' })), 'test');

  it('delete: Confirm is refused to someone else, runs for the admin who asked; the prompt is updated in place', async () => {
    const s = await session();
    addNodes(s, 3);
    const admin = s.fake.users.admin.id;
    await s.command('delete ip:203.0.113.0/24', 'admin');
    await eventually(() => expect(withButtons(s, admin)).toHaveLength(1));
    const prompt = withButtons(s, admin)[0]!;
    expect(prompt.content).toContain('This deletes 3 nodes');
    expect(buttonsOf(prompt).map((b) => b.label)).toEqual(['Confirm', 'Cancel']);
    const confirm = button(prompt, 'Confirm');
    const op = s.fake.users.operator.id;
    const denied = s.fake.press({ user: 'operator', messageId: prompt.id, customId: confirm });
    expect(await denied.acked).toBeLessThan(3000);
    await eventually(() => expect(lastPrivate(s, op)?.content).toContain('Only Ada, who asked, or an admin can press this.'));
    expect(s.app.app.store.nodes()).toHaveLength(3);
    // The deferral of a press is a deferred update (6): nothing new shows until the answer.
    const acks = s.fake.requests.filter((r) => r.route === 'POST /interactions/:id/:token/callback' && r.status < 300);
    expect(acks.at(-1)!.json).toEqual({ type: 6 });
    s.fake.press({ user: 'admin', messageId: prompt.id, customId: confirm });
    await eventually(() => expect(s.publicMessages().some((m) => m.text.includes('Delete of'))).toBe(true));
    expect(s.app.app.store.nodes()).toHaveLength(0);
    await eventually(() => expect(prompt.content).toContain('Confirmed by Ada'));
    expect(buttonsOf(prompt)).toEqual([]);
  });

  it('a stale Confirm (the selection changed) answers why with a fresh prompt; stop asks too and Cancel does nothing', async () => {
    const s = await session();
    addNodes(s, 2);
    const admin = s.fake.users.admin.id;
    await s.command('delete ip:203.0.113.0/24', 'admin');
    await eventually(() => expect(withButtons(s, admin)).toHaveLength(1));
    const prompt = withButtons(s, admin)[0]!;
    addNodes(s, 1, 60);
    s.fake.press({ user: 'admin', messageId: prompt.id, customId: button(prompt, 'Confirm') });
    await eventually(() => expect(withButtons(s, admin).filter((m) => m !== prompt)).toHaveLength(1));
    expect(withButtons(s, admin).find((m) => m !== prompt)!.content).toContain('The selection changed since that confirmation code was given. This deletes 3 nodes');
    expect(s.app.app.store.nodes()).toHaveLength(3);

    const store = s.app.app.store;
    const id = store.nodes()[0]!.id;
    for (const [from, to] of [['not_tested', 'ping_ok'], ['ping_ok', 'speed_ok'], ['speed_ok', 'online']] as const) store.transition({ id, from, to, reason: 'test', actor: 'test' });
    const op = s.fake.users.operator.id;
    await s.command('stop status:online', 'operator');
    await eventually(() => expect(withButtons(s, op)).toHaveLength(1));
    const stop = withButtons(s, op)[0]!;
    expect(stop.content).toMatch(/This stops 1 node \(1 online\)/);
    s.fake.press({ user: 'operator', messageId: stop.id, customId: button(stop, 'Cancel') });
    await eventually(() => expect(stop.content).toBe('Cancelled by Otto; nothing was done.'));
    expect(buttonsOf(stop)).toEqual([]);
    expect(store.get(id)!.status).toBe('online');
  });

  it('list: Next / Previous page the channel message in place; a stranger may not', async () => {
    const s = await session();
    addNodes(s, 20);
    await s.command('list ip:203.0.113.0/24', 'viewer');
    await eventually(() => expect(messages(s).some((m) => m.content.includes('page 1 of 2'))).toBe(true));
    const page = messages(s).find((m) => m.content.includes('page 1 of 2'))!;
    expect(page.ephemeralFor).toBeNull();
    expect(buttonsOf(page).map((b) => b.label)).toEqual(['Next ▶']);
    s.fake.press({ user: 'stranger', messageId: page.id, customId: button(page, 'Next') });
    await eventually(() => expect(lastPrivate(s, s.fake.users.stranger.id)?.content).toContain('Only Vera, who asked, or an admin can press this.'));
    s.fake.press({ user: 'viewer', messageId: page.id, customId: button(page, 'Next') });
    await eventually(() => expect(page.content).toContain('page 2 of 2'));
    expect(buttonsOf(page).map((b) => b.label)).toEqual(['◀ Previous']);
    // A Discord page (15 rows) fits one message, so it was replaced in place: one list message.
    expect(messages(s).filter((m) => m.content.includes('nodes match'))).toHaveLength(1);
  });

  it("a running job's Cancel cancels it, and a press after the job ended says why", async () => {
    const s = await session({ PING_TIMEOUT_MS: '3000' });
    s.app.app.store.addNodes(fleet.servers.map((x) => ({ ip: x.ip, login: x.login, password: x.password })), 'sim');
    await s.command('ping', 'operator');
    await eventually(() => expect(messages(s).some((m) => /ping j1/.test(m.content) && buttonsOf(m).length)).toBe(true));
    const progress = messages(s).find((m) => /ping j1/.test(m.content))!;
    const cancel = button(progress, 'Cancel');
    s.fake.press({ user: 'operator', messageId: progress.id, customId: cancel });
    await eventually(() => expect(progress.content).toMatch(/ping j1\*\* cancelled by discord-role|ping j1\*\* cancelled by discord:/));
    expect(buttonsOf(progress)).toEqual([]);
    expect(s.app.app.store.jobs()[0]!.state).toBe('cancelled');
    // The admin presses the (now stale) Cancel of the finished job: told why, nothing happens.
    s.fake.press({ user: 'admin', messageId: progress.id, customId: cancel });
    await eventually(() => expect(lastPrivate(s, s.fake.users.admin.id)?.content).toContain('This was answered already: Cancel by Otto.'));
  });

  it('autocomplete answers filter keys and values, node ids/IPs and job ids from the store, within 3 s', async () => {
    const s = await session();
    addNodes(s, 5);
    const ask = async (sub: string, option: string, value: string, user: 'viewer' | 'operator' | 'admin' = 'viewer') => {
      const sent = s.fake.autocomplete({ user, sub, options: [{ name: option, value }], focused: option });
      expect(await sent.acked).toBeLessThan(3000);
      return s.fake.choices(sent.id)!.map((c) => c.value);
    };
    expect(await ask('list', 'filter', 'sta')).toContain('status:');
    expect(await ask('list', 'filter', 'status:ping')).toEqual(['status:ping_ok', 'status:ping_failed']);
    expect(await ask('list', 'filter', 'status:not_tested country:')).toEqual(['status:not_tested country:US', 'status:not_tested country:DE']);
    expect(await ask('list', 'filter', 'provider:a')).toEqual(['provider:Acme']);
    expect(await ask('show', 'ip-or-id', '203.0.113.')).toEqual(['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.5']);
    expect(await ask('show', 'ip-or-id', 'n')).toEqual(s.app.app.store.nodes().map((n) => n.id));
    await s.command('ping ip:203.0.113.0/24', 'operator');
    await s.app.idle();
    expect(await ask('cancel', 'job', 'j', 'operator')).toEqual(['j1']);
    expect(await ask('cancel', 'job', 'j')).toEqual([]); // cancel is for operators: a viewer gets no job ids
    // Option values too: gateway names for from= / gateway=, and `gateway drain <name>` (admins).
    expect(await ask('ping', 'from', 'lo', 'operator')).toEqual(['local']);
    expect(await ask('start', 'gateway', '', 'operator')).toEqual(['local']);
    expect(await ask('gateway', 'action', 'dr', 'admin')).toEqual(['drain local']);
    // Suggestions show fleet data: someone without a Connexa role gets none.
    const stranger = s.fake.autocomplete({ user: 'stranger', sub: 'show', options: [{ name: 'ip-or-id', value: '203' }], focused: 'ip-or-id' });
    await stranger.acked;
    expect(s.fake.choices(stranger.id)).toEqual([]);
    // The registration says which options are autocompleted.
    const list = (s.fake.registeredCommands()[0]!.options as Array<{ name: string; options: Array<{ name: string; autocomplete?: boolean }> }>).find((o) => o.name === 'list')!;
    expect(list.options.find((o) => o.name === 'filter')!.autocomplete).toBe(true);
  });
});
