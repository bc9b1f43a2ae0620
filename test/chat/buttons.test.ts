/**
 * Buttons in the chat core, on a recording port: who may press, stale and expired presses, the
 * terminal (a port without buttons) keeps the typed confirmation only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Message, MessageAction, Press } from '../../src/chat/types.ts';
import { ADMIN, OPERATOR, STRANGER, testApp, type TestApp } from '../kit/app.ts';
import { RecordingPort } from '../kit/recording-port.ts';

class ButtonPort extends RecordingPort {
  readonly buttons = true;
}

describe('buttons in the dispatcher', () => {
  let t: TestApp | null = null;
  afterEach(async () => {
    await t?.dispose();
    t = null;
  });
  const setup = async () => {
    t = await testApp();
    t.app.store.addNodes([1, 2, 3].map((i) => ({ ip: `203.0.113.${i}`, login: `u${i}`, password: `pw-${i}` })), 'test');
    return t;
  };
  const actionsOf = (msgs: Message[]): MessageAction[] => msgs.flatMap((m) => m.actions ?? []);
  const press = (port: ButtonPort, actionId: string, actor = ADMIN) => {
    const updates: Message[] = [];
    const p: Press = { actionId, actor, where: { key: 'C1' }, update: async (m) => void updates.push(m) };
    return { updates, done: t!.dispatcher.press(port, p) };
  };

  it('the terminal (no buttons) gets the typed confirmation only; a port with buttons gets Confirm / Cancel too', async () => {
    const a = await setup();
    await a.run('delete all');
    expect(a.port.privateText()).toMatch(/To go ahead, run:\n`\/connexa delete all confirm=[0-9a-f]{6}`/);
    expect(actionsOf(a.port.private())).toEqual([]);
    const port = new ButtonPort();
    await a.dispatcher.dispatch(port, { text: 'delete all', files: [], actor: ADMIN, where: { key: 'C1' } });
    expect(port.privateText()).toMatch(/Press Confirm, or run:\n`\/connexa delete all confirm=[0-9a-f]{6}`/);
    expect(actionsOf(port.private()).map((x) => [x.label, x.style])).toEqual([['Confirm', 'danger'], ['Cancel', undefined]]);
  });

  it('only the one who asked or an admin may press; a press runs through the same role checks as typing', async () => {
    const a = await setup();
    const port = new ButtonPort();
    await a.dispatcher.dispatch(port, { text: 'list all', files: [], actor: OPERATOR, where: { key: 'C1' } });
    expect(actionsOf(port.public())).toEqual([]); // one page: no Previous / Next
    await a.dispatcher.dispatch(port, { text: 'delete all', files: [], actor: ADMIN, where: { key: 'C1' } });
    const [confirm] = actionsOf(port.private());
    port.clear();
    const other = press(port, confirm!.id, STRANGER);
    expect(await other.done).toMatchObject({ kind: 'pressRefused', command: 'delete' });
    expect(port.privateText()).toBe('⛔ Only ada, who asked, or an admin can press this.');
    expect(a.app.store.nodes()).toHaveLength(3);
    const mine = press(port, confirm!.id, ADMIN);
    expect(await mine.done).toMatchObject({ kind: 'ok', command: 'delete' });
    expect(a.app.store.nodes()).toHaveLength(0);
    expect(mine.updates.map((m) => m.text)).toEqual([expect.stringMatching(/^✅ Confirmed by ada: `delete all confirm=[0-9a-f]{6}`$/)]);
    expect(mine.updates[0]!.actions).toBeUndefined();
    // Spent, and unknown ids (from before a restart) expired: both say so and do nothing.
    expect(await press(port, confirm!.id).done).toMatchObject({ kind: 'pressRefused', message: 'This was answered already: Confirm by ada.' });
    expect(await press(port, 'cnx:from-before-a-restart').done).toMatchObject({ kind: 'pressRefused', message: expect.stringContaining('expired') });
    // The audit trail has the presses.
    // The audit trail has every press: who, what, how it ended.
    const trail = a.app.store.audit().map((e) => [e.actor, e.command, e.outcome]);
    expect(trail).toEqual(expect.arrayContaining([['slack:USTRANGE', 'delete', 'pressRefused'], ['slack:UADMIN', 'delete', 'ok'], ['slack:UADMIN', 'button', 'pressRefused']]));
    // The spent press is counted for its command; only the expired one (nothing known of it) is `button`.
    expect(trail.filter(([, c, o]) => c === 'delete' && o === 'pressRefused')).toHaveLength(2);
    a.port.clear();
    expect(await a.run('audit outcome=pressRefused')).toMatchObject({ kind: 'ok' });
    expect(a.port.publicText()).toContain('slack:USTRANGE');
  });

  it('an admin may press anyone’s button; Cancel only closes the prompt', async () => {
    const a = await setup();
    const port = new ButtonPort();
    await a.dispatcher.dispatch(port, { text: 'list all', files: [], actor: OPERATOR, where: { key: 'C1' } });
    const many = Array.from({ length: 30 }, (_, i) => ({ ip: `198.51.100.${i + 1}`, login: 'x', password: `pw-x${i}` }));
    a.app.store.addNodes(many, 'test');
    port.clear();
    await a.dispatcher.dispatch(port, { text: 'list all', files: [], actor: OPERATOR, where: { key: 'C1' } });
    const [next] = actionsOf(port.public());
    expect(next!.label).toBe('Next ▶');
    const paged = press(port, next!.id, ADMIN);
    expect(await paged.done).toMatchObject({ kind: 'ok', command: 'list' });
    expect(paged.updates).toHaveLength(1); // in place
    expect(paged.updates[0]!.text).toContain('page 2 of 2');
    expect(paged.updates[0]!.actions!.map((x) => x.label)).toEqual(['◀ Previous']);
    // The page the admin turned is still the operator's: they can page back.
    const back = press(port, paged.updates[0]!.actions![0]!.id, OPERATOR);
    expect(await back.done).toMatchObject({ kind: 'ok', command: 'list' });
    expect(back.updates[0]!.text).toContain('page 1 of 2');
    await a.dispatcher.dispatch(port, { text: 'delete all', files: [], actor: ADMIN, where: { key: 'C1' } });
    const cancel = actionsOf(port.private()).find((x) => x.label === 'Cancel')!;
    const closed = press(port, cancel.id, ADMIN);
    expect(await closed.done).toMatchObject({ kind: 'ok', command: 'delete' }); // counted for the command it answers
    expect(closed.updates.map((m) => m.text)).toEqual(['Cancelled by ada; nothing was done.']);
    expect(a.app.store.nodes()).toHaveLength(33);
  });
});
