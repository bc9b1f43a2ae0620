import { describe, expect, it } from 'vitest';
import { EditBudget, ProgressMessage } from '../../src/chat/progress.ts';
import { MessageGone } from '../../src/chat/types.ts';
import { RecordingPort } from '../kit/recording-port.ts';

describe('progress message', () => {
  it('retries a failed final edit instead of posting the text twice, and posts anew only when the message is gone', async () => {
    const port = new RecordingPort();
    const ref = await port.post({ key: 'C1' }, { text: 'working' });
    let failures = 1;
    const edit = port.edit.bind(port);
    port.edit = async (r, m) => {
      if (failures-- > 0) throw new Error('HTTP 500 (maybe applied)');
      return edit(r, m);
    };
    await ProgressMessage.of(port, { key: 'C1' }, ref).finish({ text: 'done' });
    expect(port.calls.map((c) => c.verb)).toEqual(['post', 'edit']);

    const gone = new RecordingPort();
    const ref2 = await gone.post({ key: 'C1' }, { text: 'working' });
    gone.edit = async () => {
      throw new MessageGone('deleted');
    };
    const p = ProgressMessage.of(gone, { key: 'C1' }, ref2);
    await p.finish({ text: 'done' });
    expect(gone.calls.map((c) => c.verb)).toEqual(['post', 'post']);
    expect(p.message.key).not.toBe(ref2.key);
  }, 15_000);

  it('sends updates while the edit budget lasts, keeps a token for the final text, and drops what finish overtakes', async () => {
    // One edit a minute: only the burst of three is available during the test.
    const port = new RecordingPort({ limits: { editsPerMinute: 1 } });
    const ref = await port.post({ key: 'C1' }, { text: 'working' });
    const p = ProgressMessage.of(port, { key: 'C1' }, ref);
    for (const text of ['a', 'b', 'c', 'd']) {
      p.update({ text });
      await new Promise((r) => setImmediate(r));
    }
    await p.finish({ text: 'done' });
    p.update({ text: 'late' });
    const edits = port.calls.flatMap((c) => (c.verb === 'edit' ? [c.msg.text] : []));
    expect(edits).toEqual(['a', 'b', 'done']);
    expect(p.edits).toBe(3);
    expect(p.message).toEqual(ref);
  });

  it('does not send updates that finish overtakes in the same turn', async () => {
    const port = new RecordingPort();
    const ref = await port.post({ key: 'C1' }, { text: 'working' });
    const p = ProgressMessage.of(port, { key: 'C1' }, ref);
    p.update({ text: 'a' });
    p.update({ text: 'b' });
    await p.finish({ text: 'done' });
    expect(port.calls.flatMap((c) => (c.verb === 'edit' ? [c.msg.text] : []))).toEqual(['done']);
  });

  it('swallows a failed progress edit: the final text still lands', async () => {
    const port = new RecordingPort();
    const ref = await port.post({ key: 'C1' }, { text: 'working' });
    const edit = port.edit.bind(port);
    const tried: string[] = [];
    port.edit = async (r, m) => {
      tried.push(m.text);
      if (m.text === 'half') throw new Error('HTTP 500');
      return edit(r, m);
    };
    const p = ProgressMessage.of(port, { key: 'C1' }, ref);
    p.update({ text: 'half' });
    await new Promise((r) => setImmediate(r));
    expect(tried).toEqual(['half']);
    await p.finish({ text: 'done' });
    expect(port.calls.map((c) => (c.verb === 'edit' ? c.msg.text : c.verb))).toEqual(['post', 'done']);
    expect(p.edits).toBe(1);
  });
});

describe('edit budget', () => {
  it('gives the burst at once, then says how long until the next token; a reserve holds tokens back', () => {
    const b = new EditBudget(60, 3);
    expect(b.tryTake(2)).toBe(0);
    expect(b.tryTake(1)).toBe(0);
    // One token left: an update (reserve 1) must wait, the final text (no reserve) may take it.
    expect(b.tryTake(1)).toBeGreaterThan(0);
    expect(b.tryTake()).toBe(0);
    const wait = b.tryTake();
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(1000);
  });
});
