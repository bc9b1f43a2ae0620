/**
 * Buttons on Slack: Block Kit buttons through the real Bolt client; presses arrive as block_actions
 * envelopes over Socket Mode from the fake Slack. Each button pressed, a press by someone else, a
 * stale press.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSlackSession, type SlackSession } from '../fakes/slack/harness.ts';
import { BOT_USER, buttonsIn, type FakeEphemeral, type FakeMessage } from '../fakes/slack/model.ts';
import { MIXED, useSimFleet } from '../kit/sim-fleet.ts';
import { eventually } from '../kit/wait.ts';

const fleet = useSimFleet({ count: 30, seed: 5, mix: MIXED, slowDelayMs: 50 });

describe('Slack buttons', () => {
  let h: SlackSession | null = null;
  const session = async (env: Record<string, string> = {}) => (h = await startSlackSession({ PING_RETRIES: '0', PING_CONCURRENCY: '4', ...env }));
  afterEach(async () => {
    await h?.stop();
    h = null;
  });
  const prompts = (s: SlackSession, user: string) => s.fake.model.ephemerals.filter((e) => e.user === user && buttonsIn(e.blocks).length);
  const lastEphemeral = (s: SlackSession, user: string): FakeEphemeral => s.fake.model.ephemerals.filter((e) => e.user === user).at(-1)!;
  const button = (blocks: readonly unknown[], label: string) => buttonsIn(blocks).find((b) => b.label.includes(label))!.id;
  const addNodes = (s: SlackSession, n: number, from = 1) =>
    s.app.app.store.addNodes(Array.from({ length: n }, (_, i) => ({ ip: `203.0.113.${from + i}`, login: `u${i}`, password: `pw-${from + i}` })), 'test');

  it('delete: Confirm is refused to someone else, runs for the one who asked, and a second press is told it was answered', async () => {
    const s = await session();
    addNodes(s, 3);
    await s.fake.slashCommand({ user: 'UADMIN', text: 'delete ip:203.0.113.0/24' });
    await eventually(() => expect(prompts(s, 'UADMIN')).toHaveLength(1));
    const prompt = prompts(s, 'UADMIN')[0]!;
    expect(prompt.text).toContain('This deletes 3 nodes');
    expect(buttonsIn(prompt.blocks).map((b) => b.label)).toEqual(['Confirm', 'Cancel']);
    const cancel = button(prompt.blocks, 'Cancel');
    // The operator (and anyone else) may not press the admin's button.
    await s.fake.press({ user: 'UOPER', actionId: button(prompt.blocks, 'Confirm'), on: { ephemeral: prompt } });
    await eventually(() => expect(lastEphemeral(s, 'UOPER').text).toContain('Only ada, who asked, or an admin can press this.'));
    expect(s.app.app.store.nodes()).toHaveLength(3);
    await s.fake.press({ user: 'UADMIN', actionId: button(prompt.blocks, 'Confirm'), on: { ephemeral: prompt } });
    await eventually(() => expect(s.fake.model.messages.some((m) => m.user === BOT_USER && m.text.includes('Delete of'))).toBe(true));
    expect(s.app.app.store.nodes()).toHaveLength(0);
    // The prompt was replaced through the response_url: confirmed, without buttons.
    await eventually(() => expect(prompt.text).toContain('Confirmed by ada'));
    expect(buttonsIn(prompt.blocks)).toEqual([]);
    // Its Cancel went with it: a late press is told what happened.
    await s.fake.press({ user: 'UADMIN', actionId: cancel, on: { ephemeral: prompt } });
    await eventually(() => expect(lastEphemeral(s, 'UADMIN').text).toContain('This was answered already: Confirm by ada.'));
  });

  it('a stale Confirm (the selection changed since) answers why with a fresh prompt and deletes nothing', async () => {
    const s = await session();
    addNodes(s, 2);
    await s.fake.slashCommand({ user: 'UADMIN', text: 'delete ip:203.0.113.0/24' });
    await eventually(() => expect(prompts(s, 'UADMIN')).toHaveLength(1));
    const prompt = prompts(s, 'UADMIN')[0]!;
    const confirm = button(prompt.blocks, 'Confirm');
    addNodes(s, 1, 50); // one more node now matches
    await s.fake.press({ user: 'UADMIN', actionId: confirm, on: { ephemeral: prompt } });
    // The pressed prompt lost its buttons; the fresh prompt has new ones.
    await eventually(() => expect(prompts(s, 'UADMIN').filter((e) => e !== prompt)).toHaveLength(1));
    const fresh = prompts(s, 'UADMIN').find((e) => e !== prompt)!;
    expect(fresh.text).toContain('The selection changed since that confirmation code was given. This deletes 3 nodes');
    expect(s.app.app.store.nodes()).toHaveLength(3);
    await eventually(() => expect(prompt.text).toContain('Confirm was pressed by ada, and not done'));
    // The old button is spent: pressing it again says so.
    await s.fake.press({ user: 'UADMIN', actionId: confirm, on: { ephemeral: prompt } });
    await eventually(() => expect(lastEphemeral(s, 'UADMIN').text).toContain('This was answered already: Confirm by ada.'));
    // A button the bot never showed (or from before a restart) expired.
    await s.fake.press({ user: 'UADMIN', actionId: 'cnx:unknown', on: { ephemeral: fresh } });
    await eventually(() => expect(lastEphemeral(s, 'UADMIN').text).toContain('This button has expired'));
    expect(s.app.app.store.nodes()).toHaveLength(3);
  });

  it('stop asks now, like delete: Cancel closes the prompt and stops nothing', async () => {
    const s = await session();
    const [n] = addNodes(s, 1);
    const store = s.app.app.store;
    store.transition({ id: n!.id, from: 'not_tested', to: 'ping_ok', reason: 'test', actor: 'test' });
    store.transition({ id: n!.id, from: 'ping_ok', to: 'speed_ok', reason: 'test', actor: 'test' });
    store.transition({ id: n!.id, from: 'speed_ok', to: 'online', reason: 'test', actor: 'test' });
    await s.fake.slashCommand({ user: 'UOPER', text: 'stop status:online' });
    await eventually(() => expect(prompts(s, 'UOPER')).toHaveLength(1));
    const prompt = prompts(s, 'UOPER')[0]!;
    expect(prompt.text).toMatch(/This stops 1 node \(1 online\).*revoked for good/);
    expect(prompt.text).toMatch(/\/connexa stop status:online confirm=[0-9a-f]{6}/); // the typed way still works
    await s.fake.press({ user: 'UOPER', actionId: button(prompt.blocks, 'Cancel'), on: { ephemeral: prompt } });
    await eventually(() => expect(prompt.text).toBe('Cancelled by otto; nothing was done.'));
    expect(buttonsIn(prompt.blocks)).toEqual([]);
    expect(store.get(n!.id)!.status).toBe('online');
    expect(store.jobs()).toHaveLength(0);
  });

  it('list: Next and Previous replace the page in place, for the one who asked only', async () => {
    const s = await session();
    addNodes(s, 30);
    await s.fake.slashCommand({ user: 'UVIEW', text: 'list ip:203.0.113.0/24' });
    await eventually(() => expect(s.fake.model.messages.some((m) => m.text.includes('page 1 of 2'))).toBe(true));
    const page: FakeMessage = s.fake.model.messages.find((m) => m.text.includes('page 1 of 2'))!;
    expect(buttonsIn(page.blocks).map((b) => b.label)).toEqual(['Next ▶']);
    await s.fake.press({ user: 'USTRANGE', actionId: button(page.blocks, 'Next'), on: { message: page } });
    await eventually(() => expect(lastEphemeral(s, 'USTRANGE').text).toContain('Only vera, who asked, or an admin can press this.'));
    expect(page.text).toContain('page 1 of 2');
    await s.fake.press({ user: 'UVIEW', actionId: button(page.blocks, 'Next'), on: { message: page } });
    await eventually(() => expect(page.text).toContain('page 2 of 2'));
    expect(buttonsIn(page.blocks).map((b) => b.label)).toEqual(['◀ Previous']);
    await s.fake.press({ user: 'UVIEW', actionId: button(page.blocks, 'Previous'), on: { message: page } });
    await eventually(() => expect(page.text).toContain('page 1 of 2'));
    // Paged in place: still one list message in the channel.
    expect(s.fake.model.messages.filter((m) => m.text.includes('nodes match'))).toHaveLength(1);
  });

  it("a running job's Cancel cancels it; once the job ended, its button answers why", async () => {
    const s = await session({ PING_TIMEOUT_MS: '3000' });
    s.app.app.store.addNodes(fleet.servers.map((x) => ({ ip: x.ip, login: x.login, password: x.password })), 'sim');
    await s.fake.slashCommand({ user: 'UOPER', text: 'ping' });
    await eventually(() => expect(s.fake.model.messages.some((m) => /ping j1/.test(m.text) && buttonsIn(m.blocks).length)).toBe(true));
    const progress = s.fake.model.messages.find((m) => /ping j1/.test(m.text))!;
    const cancel = button(progress.blocks, 'Cancel');
    await s.fake.press({ user: 'UOPER', actionId: cancel, on: { message: progress } });
    await s.app.idle();
    await eventually(() => expect(progress.text).toMatch(/ping j1\* cancelled by slack:UOPER/));
    expect(buttonsIn(progress.blocks)).toEqual([]); // the summary edit removed the button
    expect(s.app.app.store.jobs()[0]!.state).toBe('cancelled');

    // A job that ended on its own: a late press of its Cancel says so instead of acting.
    await s.fake.slashCommand({ user: 'UOPER', text: 'ping status:ping_failed,not_tested' });
    await eventually(() => expect(s.fake.applied('chat.postMessage').some((r) => r.params.text?.includes('ping j2'))).toBe(true));
    const post = s.fake.applied('chat.postMessage').find((r) => r.params.text?.includes('ping j2'))!;
    const late = buttonsIn(JSON.parse(post.params.blocks!) as unknown[])[0]!.id;
    await s.app.idle();
    const j2 = s.fake.model.messages.find((m) => /ping j2/.test(m.text))!;
    await s.fake.press({ user: 'UOPER', actionId: late, on: { message: j2 } });
    await eventually(() => expect(lastEphemeral(s, 'UOPER').text).toMatch(/j2 is not running \((done|cancelled)/));
  });

  it('Slack has no autocomplete: `help list` lists the filter values seen in the store, `help cancel` the jobs', async () => {
    const s = await session();
    s.app.app.store.addNodes(
      [
        { ip: '203.0.113.1', login: 'a', password: 'pw-a1', country: 'US', provider: 'Acme' },
        { ip: '203.0.113.2', login: 'b', password: 'pw-b2', country: 'US', provider: 'Acme' },
        { ip: '203.0.113.3', login: 'c', password: 'pw-c3', country: 'DE', provider: 'Beta Net' },
      ],
      'test',
    );
    await s.fake.slashCommand({ user: 'UVIEW', text: 'help list' });
    await eventually(() => expect(lastEphemeral(s, 'UVIEW')?.text).toContain('Values in the store now:'));
    const text = lastEphemeral(s, 'UVIEW').text;
    expect(text).toContain('`status:not_tested` 3');
    expect(text).toContain('`country:US` 2, `country:DE` 1');
    expect(text).toContain('`provider:Acme` 2, `provider:Beta_Net` 1');
    await s.fake.slashCommand({ user: 'UVIEW', text: 'help cancel' });
    await eventually(() => expect(lastEphemeral(s, 'UVIEW').text).toContain('No jobs yet.'));
  });
});
