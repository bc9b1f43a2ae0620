/**
 * The Discord adapter's pure parts, without Discord: the command schema generated from the
 * registry, the command line rebuilt from typed options, formatting, opaque keys, the edit window,
 * the raw-packet guard, attachment downloads with a cap, the invite URL.
 */
import { ApplicationCommandOptionType } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { COMMANDS } from '../../commands/index.ts';
import { buildCommandsSchema, commandLine, CommandSchemaError, quoteArg, zodOption } from '../../adapters/discord/commands-schema.ts';
import { attachmentFile } from '../../adapters/discord/files.ts';
import { neutraliseMentions, threadName, toDiscord } from '../../adapters/discord/format.ts';
import { inviteUrl } from '../../adapters/discord/invite.ts';
import { checkInteraction, onRaw, RawRoles } from '../../adapters/discord/raw.ts';
import { channelWhere, decodeRef, decodeWhere, ForeignKey, interactionWhere, messageRef } from '../../adapters/discord/refs.ts';
import { ChannelEditWindow } from '../../adapters/discord/throttle.ts';
import { splitArgs, tokenize } from '../../src/chat/args.ts';
import { defineCommand, ok } from '../../src/chat/command.ts';
import { CommandRegistry, type AnyCommand } from '../../src/chat/registry.ts';
import { FileTooLarge } from '../../src/chat/types.ts';
import { startHttp, type TestHttpServer } from '../kit/http.ts';

type Opt = { type: number; name: string; description: string; required?: boolean; choices?: Array<{ name: string; value: string }>; min_value?: number; max_value?: number };
type Sub = { type: number; name: string; description: string; options: Opt[] };

const schema = buildCommandsSchema(new CommandRegistry(COMMANDS));
const subs = schema.json.options as unknown as Sub[];
const sub = (name: string) => subs.find((s) => s.name === name)!;
const NAME = /^[-_\p{Ll}\p{Lo}\p{N}]{1,32}$/u;

describe('the /connexa command generated from the registry', () => {
  it('has one sub-command per registry command, in order, within Discord limits', () => {
    expect(schema.json.name).toBe('connexa');
    expect(subs.map((s) => s.name)).toEqual(COMMANDS.map((c) => c.name));
    expect(subs.length).toBeLessThanOrEqual(25);
    for (const s of subs) {
      expect(s.type).toBe(ApplicationCommandOptionType.Subcommand);
      expect(s.name).toMatch(NAME);
      expect(s.description.length).toBeGreaterThan(0);
      expect(s.description.length).toBeLessThanOrEqual(100);
      expect(s.options.length).toBeLessThanOrEqual(25);
      const req = s.options.map((o) => Boolean(o.required));
      expect(req).toEqual([...req].sort((a, b) => Number(b) - Number(a))); // required ones first
      for (const o of s.options) {
        expect(o.name).toMatch(NAME);
        expect(o.description.length).toBeLessThanOrEqual(100);
      }
    }
  });

  it('types each option from the command definition', () => {
    const list = sub('list');
    expect(list.options).toEqual([
      expect.objectContaining({ name: 'filter', type: ApplicationCommandOptionType.String, required: false }),
      expect.objectContaining({ name: 'page', type: ApplicationCommandOptionType.Integer, required: false, min_value: 1, max_value: 100_000 }),
    ]);
    expect(sub('export').options.find((o) => o.name === 'format')).toMatchObject({ type: ApplicationCommandOptionType.String, choices: ['csv', 'txt', 'socks'].map((v) => ({ name: v, value: v })) });
    // import takes the file as an attachment instead of the terminal's path, plus test=.
    const imp = sub('import');
    expect(imp.options.map((o) => [o.name, o.type, Boolean(o.required)])).toEqual([
      ['file', ApplicationCommandOptionType.Attachment, true],
      ['test', ApplicationCommandOptionType.String, false],
    ]);
    expect(imp.options[1]!.choices!.map((c) => c.value)).toEqual(['none', 'ping', 'speed']);
    // The positional `ip|id` becomes a required string option with a valid name.
    expect(sub('show').options).toEqual([expect.objectContaining({ name: 'ip-or-id', type: ApplicationCommandOptionType.String, required: true })]);
    expect(sub('help').options).toEqual([expect.objectContaining({ name: 'command', required: false })]);
    // No filter, no positional: only its typed option, with its choices.
    expect(sub('stats').options.map((o) => [o.name, o.type, Boolean(o.required), o.choices?.map((c) => c.value)])).toEqual([['chart', ApplicationCommandOptionType.String, false, ['yes', 'no']]]);
    expect(sub('jobs').options.map((o) => o.name)).not.toContain('filter');
    // delete asks for confirmation: the code comes back as confirm=.
    expect(sub('delete').options.map((o) => o.name)).toEqual(['filter', 'confirm']);
    // stop asks too now (its profiles are revoked for good).
    expect(sub('stop').options.map((o) => o.name)).toEqual(['filter', 'confirm']);
    // Suggestions from the store where a command has them; fixed choices stay choices (Discord allows one or the other).
    const auto = (name: string, option: string) => (sub(name).options.find((o) => o.name === option) as { autocomplete?: boolean }).autocomplete ?? false;
    expect([auto('list', 'filter'), auto('show', 'ip-or-id'), auto('cancel', 'job'), auto('help', 'command'), auto('monitor', 'action')]).toEqual([true, true, true, true, false]);
    // Gateway names as gateway= / from= and `gateway drain <name>` are typed.
    expect([auto('start', 'gateway'), auto('move', 'gateway'), auto('ping', 'from'), auto('gateway', 'action'), auto('delete', 'confirm')]).toEqual([true, true, true, true, false]);
  });

  it('reads zod options: optional, default, bounds, number vs integer, booleans, enums', () => {
    expect(zodOption(z.coerce.number().int().min(1).max(9).default(1))).toMatchObject({ type: ApplicationCommandOptionType.Integer, required: false, min: 1, max: 9 });
    expect(zodOption(z.number().min(0.5))).toMatchObject({ type: ApplicationCommandOptionType.Number, required: true, min: 0.5 });
    expect(zodOption(z.boolean().optional())).toMatchObject({ type: ApplicationCommandOptionType.Boolean, required: false });
    expect(zodOption(z.enum(['a', 'b']))).toMatchObject({ type: ApplicationCommandOptionType.String, required: true, choices: ['a', 'b'] });
    expect(zodOption(z.string().describe('why'))).toMatchObject({ type: ApplicationCommandOptionType.String, description: 'why' });
  });

  it('rebuilds the command line the dispatcher parses, quoting what needs it', () => {
    const line = commandLine('list', schema.bindings.get('list'), new Map<string, string | number>([['filter', 'city:"New York" status:ping_ok'], ['page', 2]]));
    expect(line).toBe('list city:"New York" status:ping_ok page=2');
    const split = splitArgs(tokenize(line).slice(1), 0);
    expect(split).toEqual({ positionals: [], options: { page: '2' }, filterTerms: ['city:New York', 'status:ping_ok'] });
    expect(commandLine('show', schema.bindings.get('show'), new Map([['ip-or-id', '203.0.113.5']]))).toBe('show 203.0.113.5');
    expect(commandLine('delete', schema.bindings.get('delete'), new Map([['filter', 'all'], ['confirm', 'abc123']]))).toBe('delete all confirm=abc123');
    expect(commandLine('lsit', undefined, new Map())).toBe('lsit');
    expect(quoteArg('a b')).toBe('"a b"');
    expect(quoteArg('say "hi" now')).toBe(`'say "hi" now'`);
    expect(tokenize(quoteArg(`it's "x"`))).toEqual([`it's "x"`]);
  });

  it('refuses a registry Discord cannot hold, naming the problem', () => {
    const cmd = (name: string, options: z.ZodObject = z.object({})): AnyCommand =>
      defineCommand({ name, summary: name, usage: name, examples: [], role: 'viewer', filter: 'none', options, run: async () => ok() });
    expect(() => buildCommandsSchema(new CommandRegistry(Array.from({ length: 26 }, (_, i) => cmd(`c${i}`))))).toThrow(/26 commands; .* at most 25/);
    expect(() => buildCommandsSchema(new CommandRegistry([cmd('Bad Name')]))).toThrow(CommandSchemaError);
    const many = z.object(Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`o${i}`, z.string().optional()])));
    expect(() => buildCommandsSchema(new CommandRegistry([cmd('wide', many)]))).toThrow(/wide has 26 options/);
  });
});

describe('formatting for Discord', () => {
  it('neutralises mentions without changing what people read', () => {
    const out = neutraliseMentions('hi @everyone and @here, <@123> <@!45> <@&67> <#89>');
    expect(out).not.toMatch(/@everyone|@here|<@\d|<@!|<@&|<#\d/);
    expect(out.replace(/\u200b/g, '')).toBe('hi @everyone and @here, <@123> <@!45> <@&67> <#89>');
    expect(neutraliseMentions('**bold** `code`\n```\ntable\n```')).toBe('**bold** `code`\n```\ntable\n```');
  });

  it('keeps every message within 2,000 characters, closing a cut code block', () => {
    const long = `\`\`\`\n${'x'.repeat(3000)}\n\`\`\``;
    const out = toDiscord(long);
    expect(out.length).toBeLessThanOrEqual(2000);
    expect((out.match(/```/g) ?? []).length % 2).toBe(0);
  });

  it('names threads after the first line, plain, within 100 characters', () => {
    expect(threadName('✅ **ping j3** finished in 2.0 s: 60 nodes\nok 30')).toBe('✅ ping j3 finished in 2.0 s: 60 nodes');
    expect(threadName('```\n```')).toBe('Details');
    expect(threadName('y'.repeat(300)).length).toBe(100);
  });
});

describe('opaque keys', () => {
  it('round-trips and refuses keys of other adapters', () => {
    expect(decodeWhere(interactionWhere('111', '222'))).toEqual({ kind: 'interaction', interactionId: '111', channelId: '222' });
    expect(decodeWhere(channelWhere('333'))).toEqual({ kind: 'channel', channelId: '333' });
    expect(decodeRef(messageRef('1', '2'))).toEqual({ channelId: '1', messageId: '2' });
    expect(() => decodeWhere({ key: 'C1' })).toThrow(ForeignKey);
    expect(() => decodeRef({ key: 'slack:C1:1700000000.000100' })).toThrow(ForeignKey);
  });
});

describe('the per-channel edit window', () => {
  it('lets at most `limit` edits into any window per channel, in order, channels independent', async () => {
    const w = new ChannelEditWindow(2, 200);
    const times: Record<string, number[]> = { a: [], b: [] };
    const start = Date.now();
    await Promise.all([
      ...Array.from({ length: 5 }, () => w.acquire('a').then(() => times.a!.push(Date.now() - start))),
      ...Array.from({ length: 2 }, () => w.acquire('b').then(() => times.b!.push(Date.now() - start))),
    ]);
    expect(times.b!.every((t) => t < 100)).toBe(true);
    const a = times.a!;
    expect(a).toEqual([...a].sort((x, y) => x - y));
    for (let i = 2; i < a.length; i++) expect(a[i]! - a[i - 2]!).toBeGreaterThanOrEqual(195);
    expect(w.waitedMs).toBeGreaterThan(0);
  });
});

describe('the raw interaction guard', () => {
  const good = () => ({
    id: '1000', token: 't', application_id: '2000', type: 2, data: { name: 'connexa', type: 1, options: [] },
    member: { user: { id: '3000' }, roles: ['4000', 'x'] }, channel: { id: '5000', type: 0 }, entitlements: [], authorizing_integration_owners: {},
  });

  it('passes good packets, repairs cosmetic gaps, drops what cannot be answered', () => {
    expect(checkInteraction(good())).toEqual({ action: 'pass' });
    const gaps: Record<string, unknown> = good();
    delete gaps.entitlements;
    delete gaps.authorizing_integration_owners;
    expect(checkInteraction(gaps)).toEqual({ action: 'repaired', fixed: ['entitlements', 'authorizing_integration_owners'] });
    expect(gaps.entitlements).toEqual([]);
    const noUser: Record<string, unknown> = good();
    delete noUser.member;
    expect(checkInteraction(noUser)).toMatchObject({ action: 'drop', why: 'no user' });
    expect(checkInteraction({ ...good(), data: null })).toMatchObject({ action: 'drop' });
    expect(checkInteraction({ ...good(), channel: { id: 5 } })).toMatchObject({ action: 'drop' });
    expect(checkInteraction('x')).toMatchObject({ action: 'drop' });
  });

  it('renames a dropped packet so discord.js skips it, and keeps the roles Discord sent', () => {
    const roles = new RawRoles();
    const warn: string[] = [];
    const bad = { t: 'INTERACTION_CREATE', d: { id: '1' } };
    expect(onRaw(bad, roles, () => '9', (m) => warn.push(m))).toBe('dropped');
    expect(bad.t).toBe('CONNEXA_DROPPED_INTERACTION');
    expect(onRaw({ t: 'INTERACTION_CREATE', d: good() }, roles, () => '9', (m) => warn.push(m))).toBe('interaction');
    expect(roles.take('1000')).toEqual(['4000']); // non-ids filtered out
    expect(roles.take('1000')).toBeUndefined();
    const mention = { t: 'MESSAGE_CREATE', d: { id: '77', mentions: [{ id: '9' }], member: { roles: ['55'] } } };
    expect(onRaw(mention, roles, () => '9', () => undefined)).toBe('message');
    expect(roles.take('77')).toEqual(['55']);
    expect(onRaw({ t: 'MESSAGE_CREATE', d: { id: '78', mentions: [], member: { roles: ['55'] } } }, roles, () => '9', () => undefined)).toBe('ignored');
  });
});

describe('attachment downloads with a cap', () => {
  let server: TestHttpServer;
  let base = '';
  const hits: string[] = [];
  beforeAll(async () => {
    server = await startHttp((req, res) => {
      hits.push(req.url ?? '');
      const body = Buffer.alloc(5000, 0x61);
      if (req.url === '/chunked') {
        res.writeHead(200);
        res.write(body.subarray(0, 2500));
        res.end(body.subarray(2500));
      } else if (req.url === '/missing') res.writeHead(404).end();
      else res.writeHead(200, { 'content-length': String(body.length) }).end(body);
    });
    base = server.url('');
  });
  afterAll(() => server.close());

  it('refuses by the reported size without a request, by Content-Length, and by counting', async () => {
    await expect(attachmentFile({ name: 'a.txt', size: 5000, contentType: null, url: `${base}/sized` }).download(1000)).rejects.toThrow(FileTooLarge);
    expect(hits).toEqual([]);
    await expect(attachmentFile({ name: 'b.txt', size: null, contentType: null, url: `${base}/sized` }).download(1000)).rejects.toThrow(/b\.txt is 4\.9 KiB, over the 1000 B limit/);
    await expect(attachmentFile({ name: 'c.txt', size: 10, contentType: null, url: `${base}/chunked` }).download(1000)).rejects.toThrow(/c\.txt is larger than the 1000 B limit/);
    expect((await attachmentFile({ name: 'd.txt', size: 5000, contentType: null, url: `${base}/chunked` }).download(5000)).length).toBe(5000);
    await expect(attachmentFile({ name: 'e.txt', size: 1, contentType: null, url: `${base}/missing` }).download(1000)).rejects.toThrow(/HTTP 404/);
    await expect(attachmentFile({ name: 'f.txt', size: 1, contentType: null, url: 'file:///etc/passwd' }).download(1000)).rejects.toThrow(/scheme/);
  });
});

describe('the invite URL', () => {
  it('asks for the bot and applications.commands scopes and only the permissions it uses', () => {
    const url = new URL(inviteUrl('1234567890', '555'));
    expect(url.origin + url.pathname).toBe('https://discord.com/oauth2/authorize');
    expect(url.searchParams.get('scope')).toBe('bot applications.commands');
    // View Channel, Send Messages, Send Messages in Threads, Create Public Threads, Attach Files, Read Message History.
    expect(BigInt(url.searchParams.get('permissions')!)).toBe((1n << 10n) | (1n << 11n) | (1n << 38n) | (1n << 35n) | (1n << 15n) | (1n << 16n));
    expect(url.searchParams.get('guild_id')).toBe('555');
    expect(new URL(inviteUrl('1')).searchParams.has('guild_id')).toBe(false);
  });
});
