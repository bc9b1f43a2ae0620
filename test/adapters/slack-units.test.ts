/** The Slack adapter's pure parts: mrkdwn, opaque references, pacing, upload messages, envelope checks. */
import { describe, expect, it } from 'vitest';
import { clip, slackPieces, toMrkdwn, unescapeMrkdwn } from '../../adapters/slack/format.ts';
import { envelopeProblem } from '../../adapters/slack/guard.ts';
import { ChannelPacer } from '../../adapters/slack/pacer.ts';
import { readRef, readWhere, refKey, whereKey } from '../../adapters/slack/refs.ts';
import { Responders } from '../../adapters/slack/responders.ts';
import { isRateLimitRetry } from '../../adapters/slack/web.ts';
import { COMMANDS } from '../../commands/index.ts';
import { importCommand } from '../../commands/import.ts';
import { tokenize } from '../../src/chat/args.ts';
import { Dispatcher } from '../../src/chat/dispatcher.ts';
import { CommandRegistry } from '../../src/chat/registry.ts';

describe('toMrkdwn', () => {
  it('turns **bold** into *bold* outside code and keeps code as typed', () => {
    expect(toMrkdwn('**12 added**, `**not bold**`\n```\n**x**  y\n```')).toBe('*12 added*, `**not bold**`\n```\n**x**  y\n```');
  });
  it('escapes &, < and > everywhere, so data cannot mention, link or break out', () => {
    expect(toMrkdwn('<!channel> <@U1> <http://evil|ok> a&b')).toBe('&lt;!channel&gt; &lt;@U1&gt; &lt;http://evil|ok&gt; a&amp;b');
    expect(toMrkdwn('`<!here>`')).toBe('`&lt;!here&gt;`');
    expect(toMrkdwn('```\n<!everyone>')).toBe('```\n&lt;!everyone&gt;'); // an unclosed block too
    expect(unescapeMrkdwn(toMrkdwn('a <b> & c'))).toBe('a <b> & c');
  });
  it('splits after escaping when the text grew past Slack\'s limit, and clips edits', () => {
    const text = toMrkdwn(Array.from({ length: 4000 }, () => '<<<<<<<<<<').join('\n'));
    const pieces = slackPieces(text);
    expect(pieces.length).toBeGreaterThan(1);
    for (const p of pieces) expect(p.length).toBeLessThanOrEqual(39_500);
    expect(pieces.join('\n')).toBe(text);
    expect(clip(text).length).toBeLessThanOrEqual(39_500);
  });
});

describe('opaque references', () => {
  it('round-trip, and refuse keys made by another adapter', () => {
    const w = { channel: 'C123', threadTs: '1700000000.000100', invocation: 'r7' };
    expect(readWhere(whereKey(w))).toEqual(w);
    expect(readWhere(whereKey({ channel: 'D1', threadTs: null, invocation: null }))).toEqual({ channel: 'D1', threadTs: null, invocation: null });
    const r = { channel: 'C123', ts: '1700000000.000200', threadTs: null };
    expect(readRef(refKey(r))).toEqual(r);
    expect(() => readWhere({ key: 'terminal' })).toThrow(/not a Slack destination/);
    expect(() => readRef({ key: 'thread:m1' })).toThrow(/not a Slack message/);
    expect(() => readWhere({ key: 'slack|C1|not-a-ts|' })).toThrow();
  });
});

describe('ChannelPacer', () => {
  it('lets a burst through, then one post per second per channel, in order; channels do not wait for each other', async () => {
    const pacer = new ChannelPacer(20, 2); // 20/s to keep the test short
    const t0 = Date.now();
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3].map((i) => pacer.turn('C1').then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2, 3]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90); // two waited ~50 ms each
    const t1 = Date.now();
    await pacer.turn('C2');
    expect(Date.now() - t1).toBeLessThan(20);
  });
});

describe('Responders (response_url)', () => {
  it('allows 5 uses, and sendOnce sends a notice once per command', async () => {
    const sent: string[] = [];
    const r = new Responders();
    const id = r.add(async (t) => void sent.push(t));
    await r.sendOnce(id, 'x', 'notice');
    await r.sendOnce(id, 'x', 'notice');
    for (let i = 0; i < 5; i++) await r.send(id, `m${i}`);
    expect(sent).toEqual(['notice', 'm0', 'm1', 'm2', 'm3']);
    expect(await r.send('r999', 'x')).toBe(false);
  });
});

describe('the message that comes with an upload', () => {
  // The dispatcher reads every platform's upload message (Slack's file_share text here).
  const dispatcher = new Dispatcher({ registry: new CommandRegistry(COMMANDS), app: null, roles: () => ({ admins: [], operators: [], viewers: [] }), secretsDelivery: 'dm' });
  const importCommandFor = (comment: string) => dispatcher.uploadLine(comment);
  /** The options the real import command parses from `text` (throws what it would refuse). */
  const importOptions = (text: string) => {
    const [name, ...words] = tokenize(text);
    expect(name).toBe('import');
    return importCommand.options!.parse(Object.fromEntries(words.map((w) => w.split('=', 2))));
  };
  it('maps ping/speed to a test after the import; anything else is a plain import', () => {
    const cases: Array<[string, string, string]> = [
      ['', 'import', 'none'],
      [' Ping ', 'import test=ping', 'ping'],
      ['<@UBOT> ping', 'import test=ping', 'ping'],
      ['speed', 'import test=speed', 'speed'],
      ['<@UBOT>, Speed', 'import test=speed', 'speed'],
      ['test=none', 'import test=none', 'none'],
      ['here is the list from Bob', 'import', 'none'],
      ['/connexa import test=ping', 'import test=ping', 'ping'],
    ];
    for (const [comment, text, test] of cases) {
      expect(importCommandFor(comment), comment).toBe(text);
      // ...and the real import command takes it as that test.
      expect(importOptions(text).test, comment).toBe(test);
    }
  });
});

describe('envelopeProblem', () => {
  it('passes well-formed frames and names what is wrong with the others', () => {
    expect(envelopeProblem('{"type":"hello"}')).toBeNull();
    expect(envelopeProblem('{"type":"events_api","envelope_id":"e","payload":{"event":{"type":"message"}}}')).toBeNull();
    expect(envelopeProblem('{"type":"slash_commands","envelope_id":"e","payload":{}}')).toBeNull();
    expect(envelopeProblem('nope')).toBe('not JSON');
    expect(envelopeProblem('{"type":"events_api","envelope_id":"e","payload":{}}')).toBe('events_api envelope without event.type');
    expect(envelopeProblem('{"type":"slash_commands","envelope_id":"e"}')).toBe('slash_commands envelope without a payload');
  });
});

describe('isRateLimitRetry', () => {
  it('recognises the web client\'s retry-after-429 error, bare or wrapped, and nothing else', () => {
    const bare = new Error('A rate limit was exceeded (url: http://x/api/chat.update, retry-after: 1)');
    const wrapped = Object.assign(new Error(`A request error occurred: ${bare.message}`), { original: bare });
    expect(isRateLimitRetry(bare)).toBe(true);
    expect(isRateLimitRetry(wrapped)).toBe(true);
    expect(isRateLimitRetry(Object.assign(new Error('A request error occurred: socket hang up'), { original: new Error('socket hang up') }))).toBe(false);
  });
});
