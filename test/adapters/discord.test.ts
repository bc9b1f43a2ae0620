/**
 * The Discord adapter end to end: the real discord.js client (REST + gateway) against the fake
 * Discord in test/fakes/discord, the real app from compose(), a simulated PPTP fleet on loopback.
 * First the shared SCENARIOS, then what only Discord has: deferrals, ephemeral vs channel output,
 * attachments and mentions, 429s, the 15-minute token, malformed gateway packets, start-up errors.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startDiscordAdapter } from '../../adapters/discord/index.ts';
import { interactionWhere } from '../../adapters/discord/refs.ts';
import { createLogger } from '../../src/log.ts';
import { toCsv } from '../../src/fleet/export.ts';
import { DiscordHarness, type DiscordHarnessOptions, type DiscordSession } from '../fakes/discord/harness.ts';
import { FakeDiscord, type RecordedRequest } from '../fakes/discord/index.ts';
import type { SimServer } from '../sim/fleet.ts';
import { testBot } from '../kit/app.ts';
import { MIXED, useSimFleet } from '../kit/sim-fleet.ts';
import { eventually } from '../kit/wait.ts';
import { SCENARIOS } from './scenarios.ts';

const PING_ENV = { PING_TIMEOUT_MS: '600', PING_RETRIES: '0', PING_CONCURRENCY: '30' };
const fleet = useSimFleet({ count: 60, seed: 21, mix: MIXED, slowDelayMs: 100 });

const passing = (servers: readonly SimServer[]) => servers.filter((s) => s.behaviour === 'good' || s.behaviour === 'slow').length;
const addFleet = (h: DiscordSession, servers: readonly SimServer[] = fleet.servers) =>
  h.app.app.store.addNodes(servers.map((s) => ({ ip: s.ip, port: s.port, login: s.login, password: s.password })), 'sim');
const applied = (h: DiscordSession, route: string) => h.fake.requests.filter((r) => r.route === route && r.status < 300);
const CHANNEL_POST = 'POST /channels/:id/messages';
const CHANNEL_EDIT = 'PATCH /channels/:id/messages/:id';

/** The most edits any channel took in any 5-second window. */
function peakEditsPer5s(reqs: readonly RecordedRequest[]): number {
  const byChannel = new Map<string, number[]>();
  for (const r of reqs) if (r.route === CHANNEL_EDIT && r.status === 200) byChannel.set(r.channelId!, [...(byChannel.get(r.channelId!) ?? []), r.at]);
  let peak = 0;
  for (const times of byChannel.values()) {
    for (let i = 0, j = 0; j < times.length; j++) {
      while (times[j]! - times[i]! >= 5000) i++;
      peak = Math.max(peak, j - i + 1);
    }
  }
  return peak;
}

describe('Discord: the shared scenarios through the real discord.js client', () => {
  const harness = new DiscordHarness();
  for (const sc of SCENARIOS) {
    it(sc.name, async () => {
      const h = await harness.start(PING_ENV);
      try {
        await sc.run(h, fleet);
        // Whatever the command, no "is thinking…" placeholder is left behind.
        await eventually(() => expect(h.fake.pendingPlaceholders()).toEqual([]));
      } finally {
        await h.stop();
      }
    });
  }
});

describe('Discord only', () => {
  let h: DiscordSession | null = null;
  const session = async (env: Record<string, string> = {}, opts: DiscordHarnessOptions = {}) => (h = await new DiscordHarness(opts).start({ ...PING_ENV, ...env }));
  afterEach(async () => {
    await h?.stop();
    h = null;
  });

  it('registers /connexa with one sub-command per registry command, idempotently, and logs the invite URL', async () => {
    const s = await session();
    const first = s.fake.registeredCommands();
    expect(first).toHaveLength(1);
    expect(first[0]!.name).toBe('connexa');
    const subs = (first[0]!.options as Array<{ name: string }>).map((o) => o.name);
    expect(subs).toEqual(s.app.app.registry.list.map((c) => c.name));
    expect(s.logs.join('\n')).toMatch(/invite URL .*https:\/\/discord\.com\/oauth2\/authorize\?client_id=\d+&scope=bot\+applications\.commands&permissions=309237746688/);
    // A second start against the same Discord overwrites with the same command: same id, same shape.
    await s.adapter.stop();
    const log = createLogger('error', () => undefined);
    const again = await startDiscordAdapter({ config: s.app.app.config, dispatcher: s.app.dispatcher, registry: s.app.app.registry, log });
    await again.stop();
    const second = s.fake.registeredCommands();
    expect(second).toHaveLength(1);
    expect(second[0]!.id).toBe(first[0]!.id);
    expect(second[0]!.options).toEqual(first[0]!.options);
    expect(applied(s, 'PUT /applications/:id/guilds/:id/commands')).toHaveLength(2);
    expect(applied(s, 'PUT /applications/:id/commands')).toHaveLength(0);
  });

  it('defers every interaction before any work: the deferral precedes the download and the job', async () => {
    const s = await session({ PING_TIMEOUT_MS: '1500' });
    const data = Buffer.from(fleet.servers.map((x) => `${x.ip}:${x.login}:${x.password}`).join('\n') + '\n');
    const sent = s.send('import test=ping', 'operator', { name: 'fleet.txt', data }, { delayMs: 1200 });
    const ackMs = await sent.acked;
    expect(ackMs).toBeLessThan(1000);
    const ack = s.fake.requests.find((r) => r.route === 'POST /interactions/:id/:token/callback')!;
    expect(ack.json).toEqual({ type: 5, data: { flags: 64 } });
    await eventually(() => expect(s.fake.requests.some((r) => r.route === 'GET /attachments/:id/:name')).toBe(true));
    const download = s.fake.requests.find((r) => r.route === 'GET /attachments/:id/:name')!;
    expect(ack.seq).toBeLessThan(download.seq);
    await eventually(() => expect(s.publicMessages().some((m) => /ping j1\*\* finished/.test(m.text))).toBe(true), 20_000);
    const firstPost = applied(s, CHANNEL_POST)[0]!;
    expect(firstPost.at - ack.at).toBeGreaterThan(1000); // the report waited for the slow download; the deferral did not
    // The placeholder was deleted: only channel messages remain, nothing ephemeral for the operator.
    expect(s.fake.pendingPlaceholders()).toEqual([]);
    expect(applied(s, 'DELETE /webhooks/:id/:token/messages/@original')).toHaveLength(1);
    expect(s.privateMessages('operator')).toEqual([]);
  });

  it('imports an attachment: report and rejected-lines CSV in one channel message, CSV bytes exact', async () => {
    const s = await session();
    const data = Buffer.from('# fleet\n203.0.113.5:alice:pw-alice\n10.0.0.300 dave pw-dave\n999.1.1.1:bob:pw-bob\n198.51.100.7 carol pw-carol OH\n', 'utf8');
    await s.command('import', 'operator', { name: 'servers.txt', data });
    await eventually(() => expect(s.publicMessages().some((m) => m.text.includes('Imported'))).toBe(true));
    const post = applied(s, CHANNEL_POST).find((r) => String((r.json as { content?: string }).content).includes('Imported'))!;
    expect((post.json as { content: string }).content).toMatch(/\*\*2 added\*\*, 0 updated, 0 duplicate, 2 rejected/);
    expect(post.json).toMatchObject({ allowed_mentions: { parse: [] } });
    expect(post.files.map((f) => [f.name, f.contentType])).toEqual([['rejected-servers.csv', 'text/csv']]);
    expect(post.files[0]!.data.toString('utf8')).toBe(
      'line,reason\r\n3,"invalid IP ""10.0.0.300"": octet 300 is out of range"\r\n4,"invalid IP ""999.1.1.1"": octet 999 is out of range"\r\n',
    );
    const csv = post.files[0]!.data.toString('utf8');
    // Line numbers and reasons only: the rejected line's password is not in the public CSV.
    expect(csv).not.toContain('pw-bob');
    expect(s.app.app.store.nodes().map((n) => n.ip)).toEqual(['203.0.113.5', '198.51.100.7']);
  });

  it('refuses an attachment over IMPORT_MAX_BYTES by its size before downloading, and counts bytes when the size lies', async () => {
    const s = await session({ IMPORT_MAX_BYTES: '2048' });
    const big = Buffer.from('203.0.113.5:alice:pw\n'.repeat(200));
    await s.command('import', 'operator', { name: 'big.txt', data: big });
    await eventually(() => expect(s.privateMessages('operator').map((m) => m.text).join('\n')).toMatch(/big\.txt is 4\.\d KiB, over the 2\.0 KiB limit/));
    expect(s.fake.requests.filter((r) => r.route === 'GET /attachments/:id/:name')).toHaveLength(0);
    // A size that lies and no Content-Length: the download stops once the cap is passed.
    s.send('import', 'operator', { name: 'liar.txt', data: big }, { declaredSize: 100, omitLength: true });
    await eventually(() => expect(s.privateMessages('operator').map((m) => m.text).join('\n')).toMatch(/liar\.txt is larger than the 2\.0 KiB limit/));
    expect(s.app.app.store.nodes()).toHaveLength(0);
    expect(s.publicMessages()).toEqual([]);
  });

  it('imports a file posted with a mention of the bot, and ignores files without one', async () => {
    const s = await session();
    const file = (name: string, text: string) => s.fake.addAttachment(name, Buffer.from(text));
    s.fake.userMessage({ user: 'operator', content: 'no mention here', attachments: [file('quiet.txt', '203.0.113.60:a:b\n')] });
    s.fake.userMessage({ user: 'operator', content: 'here is the list test=none', mention: true, attachments: [file('loud.txt', '203.0.113.61:a:b\n203.0.113.62 c d\n')] });
    await eventually(() => expect(s.publicMessages().map((m) => m.text).join('\n')).toMatch(/Imported \*\*loud\.txt\*\*: \*\*2 added\*\*/));
    expect(s.app.app.store.nodes().map((n) => n.ip)).toEqual(['203.0.113.61', '203.0.113.62']);
    // Roles came with the message: a viewer's file is refused, privately (by DM: a mention has no ephemeral reply).
    s.fake.userMessage({ user: 'viewer', content: '', mention: true, attachments: [file('viewer.txt', '203.0.113.63:a:b\n')] });
    await eventually(() => expect(s.privateMessages('viewer').map((m) => m.text).join('\n')).toMatch(/needs the \*\*operator\*\* role/));
    expect(s.app.app.store.nodes()).toHaveLength(2);
  });

  it('keeps going through 429s during a job: the summary arrives, nothing is posted twice, edits stay in the bucket', async () => {
    const s = await session({ PING_TIMEOUT_MS: '1500', PING_CONCURRENCY: '4' });
    addFleet(s);
    s.fake.faults.edit429 = { count: 4, retryAfterSec: 0.3 };
    await s.command('ping', 'operator');
    await eventually(() => expect(s.publicMessages().some((m) => /ping j1\*\* finished/.test(m.text))).toBe(true), 40_000);
    await s.app.idle();
    const tooMany = s.fake.requests.filter((r) => r.status === 429);
    expect(tooMany).toHaveLength(4); // the injected ones; the bot itself never overran the bucket
    expect(s.adapter.stats().rateLimited).toBe(4);
    const posts = applied(s, CHANNEL_POST);
    const parents = s.publicMessages().filter((m) => /ping j1/.test(m.text) && m.threadOf === null);
    expect(parents).toHaveLength(1);
    const thread = s.publicMessages().filter((m) => m.threadOf === parents[0]!.id);
    expect(thread).toHaveLength(1);
    expect(posts).toHaveLength(2); // the progress message and the failures in its thread: no repeats
    expect(thread[0]!.files.map((f) => f.name)).toEqual(['ping-j1-failures.csv']);
    expect(parents[0]!.edits).toBeGreaterThan(1);
    expect(peakEditsPer5s(s.fake.requests)).toBeLessThanOrEqual(5);
  });

  it('never sends a secret anywhere but an ephemeral reply or a DM to the operator who asked', async () => {
    for (const delivery of ['dm', 'thread']) {
      const s = await session({ SECRETS_DELIVERY: delivery });
      s.app.app.store.addNodes([{ ip: '203.0.113.9', login: 'zed', password: 'Sup3r-Secret-PW' }], null);
      addFleet(s, fleet.servers.slice(0, 5));
      await s.command('secrets 203.0.113.9', 'operator');
      await s.command('export all format=csv', 'operator');
      await s.command('secrets 203.0.113.9', 'viewer');
      await s.command('show 203.0.113.9', 'viewer');
      await eventually(() => {
        const mine = s.privateMessages('operator');
        expect(mine.map((m) => m.text).join('\n')).toContain('Sup3r-Secret-PW');
        expect(mine.flatMap((m) => m.files).some((f) => f.data.toString().includes('Sup3r-Secret-PW'))).toBe(true);
        expect(s.publicMessages().some((m) => m.text.includes('203.0.113.9'))).toBe(true);
        expect(s.privateMessages('viewer').map((m) => m.text).join('\n')).toMatch(/operator/);
      });
      const operatorId = s.fake.users.operator.id;
      const where = delivery === 'dm' ? 'dm' : 'ephemeral';
      const secretCarriers = s.fake.requests.filter((r) => r.bodyText.includes('Sup3r-Secret-PW'));
      expect(secretCarriers.length).toBeGreaterThan(0);
      for (const r of s.fake.requests) {
        const toOperator = (r.visibility.kind === 'ephemeral' || r.visibility.kind === 'dm') && r.visibility.userId === operatorId;
        if (toOperator) continue;
        expect(r.bodyText, `${r.route} (${r.visibility.kind})`).not.toContain('Sup3r-Secret-PW');
        for (const sv of fleet.servers.slice(0, 5)) expect(r.bodyText).not.toContain(sv.password);
      }
      expect(secretCarriers.every((r) => r.visibility.kind === where)).toBe(true);
      expect(s.logs.join('\n')).not.toContain('Sup3r-Secret-PW');
      await s.stop();
      h = null;
    }
  });

  it('survives malformed interactions: repairs what it can, drops the rest, keeps serving', async () => {
    const s = await session();
    const crashes: unknown[] = [];
    const onCrash = (err: unknown) => crashes.push(err);
    process.on('unhandledRejection', onCrash);
    process.on('uncaughtException', onCrash);
    try {
      // Missing who sent it: nothing can be answered; dropped before discord.js builds it.
      s.fake.sendRaw('INTERACTION_CREATE', { id: '1234567890123', application_id: s.fake.ids.app, type: 2, token: 'x', data: { name: 'connexa', type: 1, options: [] }, channel: { id: s.fake.ids.channel, type: 0 } });
      s.fake.sendRaw('INTERACTION_CREATE', 'not even an object');
      // Missing entitlements/authorizing_integration_owners (discord.js would throw a TypeError): repaired and served.
      const { d, sent } = s.fake.prepareInteraction({ user: 'viewer', sub: 'stats' });
      delete d.entitlements;
      delete d.authorizing_integration_owners;
      s.fake.sendRaw('INTERACTION_CREATE', d);
      expect(await sent.acked).toBeLessThan(3000);
      await eventually(() => expect(s.publicMessages().some((m) => m.text.includes('nodes**'))).toBe(true));
      await eventually(() => expect(s.adapter.stats().droppedPackets).toBe(2));
      expect(s.adapter.stats().repairedPackets).toBe(1);
      // Still alive and answering.
      await s.command('help', 'viewer');
      await eventually(() => expect(s.privateMessages('viewer').some((m) => m.text.includes('**Connexa**'))).toBe(true));
      expect(s.logs.join('\n')).toMatch(/dropped a malformed interaction .*no user/);
      expect(crashes).toEqual([]);
    } finally {
      process.off('unhandledRejection', onCrash);
      process.off('uncaughtException', onCrash);
    }
  });

  it('continues after the interaction token expires: summary and CSV as channel messages, private output by DM, no expired token used', async () => {
    const lifetime = 1500;
    const s = await session({ PING_TIMEOUT_MS: '2500', PING_CONCURRENCY: '60', IMPORT_MAX_BYTES: '1024' }, { fake: { tokenLifetimeMs: lifetime }, adapter: { interactionTokenMs: lifetime } });
    addFleet(s);
    const started = Date.now();
    await s.command('ping', 'operator');
    await eventually(() => expect(s.publicMessages().some((m) => /ping j1\*\* finished/.test(m.text))).toBe(true), 20_000);
    await s.app.idle(); // the summary is edited in first, then the failures thread is opened
    expect(Date.now() - started).toBeGreaterThan(lifetime); // silent servers kept it past the token's life
    const parent = s.publicMessages().find((m) => /ping j1/.test(m.text) && m.threadOf === null)!;
    const lastEdit = s.fake.requests.filter((r) => r.route === CHANNEL_EDIT && r.messageId === parent.id).at(-1)!;
    expect(lastEdit.at - started).toBeGreaterThan(lifetime);
    const csv = s.publicMessages().filter((m) => m.threadOf === parent.id).flatMap((m) => m.files);
    expect(csv.map((f) => f.name)).toEqual(['ping-j1-failures.csv']);
    // A command still busy when its token runs out: "still working" replaces the placeholder in time,
    // and the late private answer arrives as a direct message.
    s.send('import', 'operator', { name: 'slow.txt', data: Buffer.from('203.0.113.5:a:b\n'.repeat(100)) }, { declaredSize: 50, omitLength: true, delayMs: lifetime + 500 });
    await eventually(() => {
      const dms = s.fake.state.dmChannelOf(s.fake.users.operator.id);
      expect(dms).toBeDefined();
      expect(s.privateMessages('operator').filter((m) => m.where === dms!.id).map((m) => m.text).join('\n')).toMatch(/slow\.txt is larger than the 1\.0 KiB limit/);
    }, 10_000);
    expect(s.privateMessages('operator').map((m) => m.text).join('\n')).toContain('Still working on `/connexa import`');
    expect(s.fake.requests.filter((r) => r.status === 401)).toEqual([]);
    expect(s.fake.pendingPlaceholders()).toEqual([]);
  });

  it('refuses commands and files from outside DISCORD_GUILD_ID, privately, even to `*`, and runs nothing', async () => {
    const s = await session({ CONNEXA_VIEWERS: '*' });
    const refusals = (who: 'stranger' | 'admin') => s.privateMessages(who).filter((m) => m.text.includes('serves one Discord server only'));
    s.fake.interaction({ user: 'stranger', sub: 'stats', channelId: s.fake.foreignChannel() });
    s.fake.interaction({ user: 'stranger', sub: 'stats', channelId: s.fake.dmChannel('stranger') });
    await eventually(() => expect(refusals('stranger')).toHaveLength(2));
    // A file sent to the bot in a DM (no mention needed there) is refused the same way, before any download.
    const file = s.fake.addAttachment('dm.txt', Buffer.from('203.0.113.5:a:b\n'));
    s.fake.userMessage({ user: 'admin', content: '', channelId: s.fake.dmChannel('admin'), attachments: [file] });
    await eventually(() => expect(refusals('admin'), s.logs.slice(-8).join('\n')).toHaveLength(1));
    expect(s.fake.requests.filter((r) => r.route === 'GET /attachments/:id/:name')).toHaveLength(0);
    expect(s.app.app.store.nodes()).toHaveLength(0);
    expect(s.publicMessages()).toEqual([]);
    expect(s.fake.pendingPlaceholders()).toEqual([]);
    expect(s.logs.join('\n')).toMatch(/refused a command from outside DISCORD_GUILD_ID/);
    // The configured server is served as before, `*` included.
    await s.command('stats', 'stranger');
    await eventually(() => expect(s.publicMessages().some((m) => m.text.includes('nodes**'))).toBe(true));
  });

  it('says which permission is missing in which channel (50013, 50001), privately and in the log, not "an internal error"', async () => {
    const s = await session();
    const told = () => s.privateMessages('viewer').map((m) => m.text).join('\n');
    s.fake.faults.denied.set(s.fake.ids.channel, 50013);
    // The text alone: with the picture the missing permission is named "Send Messages or Attach Files".
    await s.command('stats chart=no', 'viewer');
    await eventually(() => expect(told()).toContain('Connexa cannot post in #ops: the bot is missing the Send Messages permission there (Discord error 50013)'));
    s.fake.faults.denied.set(s.fake.ids.channel, 50001);
    await s.command('stats chart=no', 'viewer');
    await eventually(() => expect(told()).toContain('Connexa cannot post in #ops: the bot is missing the View Channel permission there (Discord error 50001)'));
    // A job's progress message too: the job runs, and the person who started it is told why nothing shows.
    addFleet(s, fleet.servers.slice(0, 3));
    s.fake.faults.denied.set(s.fake.ids.channel, 50013);
    await s.command('ping', 'operator');
    await eventually(() => expect(s.privateMessages('operator').map((m) => m.text).join('\n')).toContain('missing the Send Messages permission there'));
    await s.app.idle();
    expect(told()).not.toContain('internal error');
    // The upload limit each interaction announced (attachment_size_limit) is the one the core groups files by.
    expect(s.adapter.port.limits.maxFileBytes).toBe(25 * 1024 * 1024);
    expect(s.logs.join('\n')).toMatch(/discord: a permission is missing .*"name":"#ops","permission":"Send Messages"/);
    expect(s.publicMessages()).toEqual([]);
    expect(s.fake.pendingPlaceholders()).toEqual([]);
  });

  it('an upload over the server\'s limit (40005) arrives in parts that join back to the file, by DM and ephemerally', async () => {
    for (const delivery of ['dm', 'thread']) {
      const s = await session({ SECRETS_DELIVERY: delivery });
      s.app.app.store.addNodes(Array.from({ length: 4000 }, (_, i) => ({ ip: `10.${(i >> 8) & 255}.${i & 255}.7`, login: `user-${i}`, password: `pw-${i}-abcdefgh` })), null);
      const whole = Buffer.from(toCsv(s.app.app.store.nodes()), 'utf8');
      expect(whole.length).toBeGreaterThan(4 * 64 * 1024);
      // The interaction announces 25 MiB (as Discord does); the server really takes less, so the
      // first upload is refused with 40005, then halves are too, and quarters pass.
      s.fake.faults.uploadLimitBytes = Math.floor(whole.length * 0.3);
      await s.command('export all format=csv', 'operator');
      const partFiles = () => s.privateMessages('operator').flatMap((m) => m.files).filter((f) => /\.part\d+\.csv$/.test(f.name));
      await eventually(() => expect(s.privateMessages('operator').map((m) => m.text).join('\n')).toMatch(/comes in \d+ parts: join them in order/));
      const count = Number(/comes in (\d+) parts/.exec(s.privateMessages('operator').map((m) => m.text).join('\n'))![1]);
      expect(count).toBeGreaterThanOrEqual(4);
      await eventually(() => expect(partFiles()).toHaveLength(count));
      const parts = partFiles().sort((a, b) => a.name.localeCompare(b.name));
      expect(Buffer.concat(parts.map((p) => p.data)).equals(whole)).toBe(true);
      expect(parts.every((p) => p.data.toString('utf8').endsWith('\n'))).toBe(true);
      expect(parts.every((p) => p.data.length <= s.fake.faults.uploadLimitBytes!)).toBe(true);
      // Refused: the whole file, then the first of two halves; nothing was delivered twice.
      expect(s.fake.requests.filter((r) => r.status === 413)).toHaveLength(2);
      expect(s.adapter.port.limits.maxFileBytes).toBeLessThan(whole.length / 2); // learned for later messages
      expect(s.adapter.port.limits.maxFileBytes).toBeLessThan(whole.length / 2);
      await s.stop();
      h = null;
    }
  });

  it('posts alerts to DISCORD_ALERT_CHANNEL and neutralises mentions in data', async () => {
    const s = await session();
    await s.adapter.port.postAlert({ text: '🔔 n12 is offline @everyone <@123456789012345678>' });
    const alert = s.fake.requests.find((r) => r.route === CHANNEL_POST)!;
    expect(alert.path).toBe(`/channels/${s.fake.ids.alertChannel}/messages`);
    expect(alert.json).toMatchObject({ allowed_mentions: { parse: [] } });
    const content = (alert.json as { content: string }).content;
    expect(content).not.toMatch(/@everyone|<@\d/);
    expect(content.replace(/\u200b/g, '')).toBe('🔔 n12 is offline @everyone <@123456789012345678>');
    // `alerts here` keeps a conversation's Where; posting to it long after its interaction lands in that channel.
    await s.adapter.port.post(interactionWhere('123456789012345678', s.fake.ids.channel), { text: 'routed alert' });
    expect(s.publicMessages().find((m) => m.text === 'routed alert')?.where).toBe(s.fake.ids.channel);
    await s.command('import', 'operator', { name: '@everyone.txt', data: Buffer.from('203.0.113.77:a:b\n') });
    await eventually(() => expect(s.publicMessages().some((m) => m.text.includes('Imported'))).toBe(true));
    for (const r of applied(s, CHANNEL_POST)) {
      expect((r.json as { content: string }).content).not.toMatch(/@everyone/);
      expect(r.json).toMatchObject({ allowed_mentions: { parse: [] } });
    }
  });

  it('rejects a bad token at start-up with one clear line, quickly', async () => {
    const fake = await FakeDiscord.start();
    try {
      const bot = await testBot({ DISCORD_TOKEN: 'definitely-not-the-right-token', DISCORD_API_URL: fake.apiUrl }, 'cnx-discord-bad-');
      let started = 0;
      const err = await bot
        .boot((app) => {
          started = Date.now();
          return startDiscordAdapter({ config: bot.config, dispatcher: app.dispatcher, registry: app.app.registry, log: bot.log });
        })
        .then(
          () => null,
          (e: Error) => e,
        );
      expect(Date.now() - started).toBeLessThan(5000);
      expect(err?.message).toMatch(/^DISCORD_TOKEN was refused by Discord \(401 Unauthorized\)/);
      expect(err?.message).not.toContain('\n');
      expect(fake.gatewayStats().identifies).toBe(0);
    } finally {
      await fake.close();
    }
  });
});
