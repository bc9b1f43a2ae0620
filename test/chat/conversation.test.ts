import { describe, expect, it } from 'vitest';
import { Conversation } from '../../src/chat/conversation.ts';
import type { Actor, ChatPort, PortLimits } from '../../src/chat/types.ts';
import { RecordingPort } from '../kit/recording-port.ts';

const ACTOR: Actor = { platform: 'slack', id: 'U1', name: 'ada', roleIds: [] };
const file = (name: string, bytes: number) => ({ name, contentType: 'text/csv', data: Buffer.alloc(bytes, 0x61) });

function conversation(o: { limits?: Partial<PortLimits>; platform?: ChatPort['platform']; delivery?: 'dm' | 'thread' } = {}) {
  const port = new RecordingPort({ limits: o.limits, platform: o.platform });
  return { port, c: new Conversation({ port, where: { key: 'C1' }, actor: ACTOR, secretsDelivery: o.delivery ?? 'dm' }) };
}

describe('Conversation.say and whisper', () => {
  it('posts in the channel (or where told) and returns the last message; whispers go to the actor only', async () => {
    const { port, c } = conversation();
    expect(await c.say('hello')).toEqual({ key: 'm1' });
    await c.say({ text: 'there' }, { key: 'T9' });
    await c.whisper('just you');
    expect(port.calls).toEqual([
      { verb: 'post', where: 'C1', ref: 'm1', msg: { text: 'hello' } },
      { verb: 'post', where: 'T9', ref: 'm2', msg: { text: 'there' } },
      { verb: 'postPrivate', where: 'C1', user: 'U1', msg: { text: 'just you' } },
    ]);
  });

  it('splits text over the platform limit and returns the last piece', async () => {
    const { port, c } = conversation({ limits: { maxTextChars: 20 } });
    const ref = await c.say(['one one one', 'two two two', 'three three'].join('\n'));
    expect(port.calls.map((x) => (x.verb === 'post' ? x.msg.text : ''))).toEqual(['one one one', 'two two two', 'three three']);
    expect(ref).toEqual({ key: 'm3' });
    await c.whisper('aaaa bbbb\ncccc dddd\neeee');
    expect(port.private().map((m) => m.text)).toEqual(['aaaa bbbb\ncccc dddd', 'eeee']);
  });
});

describe('Conversation files', () => {
  it('attaches files to the last text piece, groups the rest under the attachment limit, and refuses what cannot fit', async () => {
    const { port, c } = conversation({ limits: { maxFileBytes: 1000 } });
    await c.say({ text: 'export', files: [file('a.csv', 600), file('b.csv', 300), file('c.csv', 500), file('huge.csv', 2048)] });
    expect(port.public().map((m) => [m.text, (m.files ?? []).map((f) => f.name)])).toEqual([
      ['export', ['a.csv', 'b.csv']],
      ['(continued)', ['c.csv']],
      ["huge.csv is 2.0 KiB, over this platform's 1000 B attachment limit; narrow the selection and try again.", []],
    ]);
  });
});

describe('Conversation.secret', () => {
  it('sends secrets by direct message and says so in place', async () => {
    const { port, c } = conversation();
    await c.secret('password: hunter22');
    expect(port.calls).toEqual([
      { verb: 'sendDirect', user: 'U1', ref: 'd1', msg: { text: 'password: hunter22' } },
      { verb: 'postPrivate', where: 'C1', user: 'U1', msg: { text: 'Sent to you by direct message.' } },
    ]);
  });

  it('falls back to a private message in place when direct messages are closed', async () => {
    const { port, c } = conversation();
    port.sendDirect = async () => {
      throw new Error('Cannot send messages to this user');
    };
    await c.secret({ text: 'password: hunter22' });
    expect(port.calls).toEqual([
      { verb: 'postPrivate', where: 'C1', user: 'U1', msg: { text: '(A direct message could not be sent: Cannot send messages to this user)\npassword: hunter22' } },
    ]);
  });

  it('stays in place with SECRETS_DELIVERY=thread and on the terminal; never public', async () => {
    for (const o of [{ delivery: 'thread' as const }, { platform: 'terminal' as const }]) {
      const { port, c } = conversation(o);
      await c.secret('password: hunter22');
      expect(port.calls).toEqual([{ verb: 'postPrivate', where: 'C1', user: 'U1', msg: { text: 'password: hunter22' } }]);
      expect(port.public()).toEqual([]);
    }
  });
});
