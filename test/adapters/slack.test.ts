/**
 * The Slack adapter end to end: the real @slack/bolt client (Socket Mode, and HTTP mode) against the
 * fake Slack in test/fakes/slack, the real app from compose(), a simulated PPTP fleet on loopback.
 * First the shared SCENARIOS, then what only Slack has: acks, uploads, 429s, start-up errors.
 */
import { createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSlackAdapter, SlackStartError } from '../../adapters/slack/index.ts';
import { slackFile } from '../../adapters/slack/files.ts';
import { FileTooLarge } from '../../src/chat/types.ts';
import { slackHarness, startSlackSession, type SlackSession } from '../fakes/slack/harness.ts';
import { BOT_USER } from '../fakes/slack/model.ts';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, startFakeSlack, type FakeSlack } from '../fakes/slack/server.ts';
import type { SimServer } from '../sim/fleet.ts';
import { testBot } from '../kit/app.ts';
import { MIXED, useSimFleet } from '../kit/sim-fleet.ts';
import { freePort } from '../kit/loopback.ts';
import { eventually } from '../kit/wait.ts';
import { SCENARIOS } from './scenarios.ts';

const PING_ENV = { PING_TIMEOUT_MS: '400', PING_RETRIES: '0', PING_CONCURRENCY: '60' };
const fleet = useSimFleet({ count: 60, seed: 11, mix: MIXED, slowDelayMs: 50 });

/** Format 7 lines of fleet servers (loopback only: nothing here may probe another network). */
const lines = (servers: readonly SimServer[]) => servers.map((s) => `${s.ip}:${s.login}:${s.password}`).join('\n') + '\n';
const passing = (servers: readonly SimServer[]) => servers.filter((s) => s.behaviour === 'good' || s.behaviour === 'slow').length;

describe('Slack: the shared scenarios through the real Bolt client', () => {
  for (const sc of SCENARIOS) {
    it(sc.name, async () => {
      const h = await slackHarness.start(PING_ENV);
      try {
        await sc.run(h, fleet);
      } finally {
        await h.stop();
      }
    });
  }
});

describe('Slack only', () => {
  let h: SlackSession | null = null;
  const session = async (env: Record<string, string> = {}) => (h = await startSlackSession({ ...PING_ENV, ...env }));
  afterEach(async () => {
    await h?.stop();
    h = null;
  });
  const bot = (s: SlackSession) => s.fake.model.messages.filter((m) => m.user === BOT_USER);
  const ephemeralText = (s: SlackSession, user: string) => s.fake.model.ephemerals.filter((e) => e.user === user).map((e) => e.text).join('\n');

  it('acknowledges a slash command before any work: the ack precedes the first post of a long ping', async () => {
    const s = await session({ PING_TIMEOUT_MS: '1500' });
    s.app.app.store.addNodes(fleet.servers.map((x) => ({ ip: x.ip, login: x.login, password: x.password })), 'sim');
    const ack = await s.fake.slashCommand({ user: 'UOPER', text: 'ping' });
    expect(ack.ackedAt - ack.sentAt).toBeLessThan(1000);
    // Silent servers keep the job going for 1.5 s: the ack came while the work had not even reported.
    await eventually(() => expect(s.fake.applied('chat.postMessage').length).toBeGreaterThan(0));
    const firstPost = s.fake.applied('chat.postMessage')[0]!;
    expect(ack.seq).toBeLessThan(firstPost.seq);
    const ackAt = ack.ackedAt;
    await s.app.idle();
    const finished = s.fake.applied('chat.update').at(-1)!;
    expect(finished.params.text).toContain('finished');
    expect(finished.at - ackAt).toBeGreaterThan(1000);
  });

  it('imports an upload, answers in a thread under it with the rejected lines as CSV, then pings when the message says ping', async () => {
    const s = await session();
    const servers = fleet.servers.slice(0, 12);
    const data = Buffer.from(`${lines(servers)}999.1.1.1:bob:pw-bob\n`, 'utf8');
    const { ts } = await s.fake.shareFile({ user: 'UOPER', name: 'batch <1>.txt', data, text: 'ping' });
    await eventually(() => {
      const parent = bot(s).find((m) => m.threadTs === ts && /ping j1/.test(m.text));
      expect(parent?.text).toContain('finished');
    });
    const thread = bot(s).filter((m) => m.threadTs === ts);
    const report = thread.find((m) => m.text.startsWith('Imported'))!;
    // The file name is data: escaped, so it can never become a mention or a link.
    expect(report.text).toContain('Imported *batch &lt;1&gt;.txt*: *12 added*, 0 updated, 0 duplicate, 1 rejected');
    const csv = thread.flatMap((m) => m.files).find((f) => f.name === 'rejected-batch <1>.csv')!;
    expect(csv.data.toString('utf8')).toBe('line,reason\r\n13,"invalid IP ""999.1.1.1"": octet 999 is out of range"\r\n');
    // Nothing posted outside the thread; the bot's own CSV upload (echoed back as a file_share) was not imported.
    expect(bot(s).every((m) => m.threadTs === ts)).toBe(true);
    expect(s.app.app.store.nodes()).toHaveLength(12);
    expect(s.logs.filter((l) => l.includes(' INFO import '))).toHaveLength(1);
    expect(s.app.app.store.nodes().filter((n) => n.status === 'ping_ok')).toHaveLength(passing(servers));
    // The download carried the bot token.
    expect(s.fake.requests.find((r) => r.kind === 'download')?.auth).toBe(`Bearer ${FAKE_BOT_TOKEN}`);
  });

  it('refuses an upload over IMPORT_MAX_BYTES from its declared size without downloading, and a lying size while streaming', async () => {
    const s = await session({ IMPORT_MAX_BYTES: '2048' });
    const big = Buffer.from('# padding\n'.repeat(500), 'utf8');
    await s.fake.shareFile({ user: 'UOPER', name: 'big.txt', data: big });
    await eventually(() => expect(ephemeralText(s, 'UOPER')).toContain('big.txt is 4.9 KiB, over the 2.0 KiB limit'));
    expect(s.fake.requests.filter((r) => r.kind === 'download')).toHaveLength(0);
    // A wrong size in the event: the Content-Length stops it, and without one, counting while streaming.
    await s.fake.shareFile({ user: 'UOPER', name: 'liar.txt', data: big, reportedSize: 100 });
    await eventually(() => expect(ephemeralText(s, 'UOPER')).toContain('liar.txt is 4.9 KiB, over the 2.0 KiB limit'));
    s.fake.faults.chunkedDownloads = true;
    await s.fake.shareFile({ user: 'UOPER', name: 'chunked.txt', data: big, reportedSize: 100 });
    await eventually(() => expect(ephemeralText(s, 'UOPER')).toContain('chunked.txt is larger than the 2.0 KiB limit'));
    expect(s.fake.requests.filter((r) => r.kind === 'download')).toHaveLength(2);
    expect(s.app.app.store.nodes()).toHaveLength(0);
  });

  it('imports a file whose event withholds its name and URL (file_access: check_file_info) by asking files.info, in a DM too', async () => {
    const s = await session();
    await s.fake.shareFile({ user: 'UOPER', name: 'connect.txt', data: Buffer.from(lines(fleet.servers.slice(0, 3))), checkFileInfo: true });
    await eventually(() => expect(s.app.app.store.nodes()).toHaveLength(3));
    expect(s.fake.applied('files.info').map((r) => r.params.file)).toHaveLength(1);
    await eventually(() => expect(bot(s).map((m) => m.text).join('\n')).toContain('Imported *connect.txt*: *3 added*'));
    // An upload in the bot's DM (the app home's Messages tab) arrives as message.im and is imported the same way.
    const dm = s.fake.model.openIm('UOPER').id;
    await s.fake.shareFile({ user: 'UOPER', name: 'dm.txt', data: Buffer.from(lines(fleet.servers.slice(3, 5))), channel: dm, checkFileInfo: true });
    await eventually(() => expect(s.app.app.store.nodes()).toHaveLength(5));
    await eventually(() => expect(bot(s).filter((m) => m.channel === dm).map((m) => m.text).join('\n')).toContain('Imported *dm.txt*'));
  });

  it('tells the user clearly when the download fails, and keeps working', async () => {
    const s = await session();
    s.fake.faults.downloads = 'status500';
    await s.fake.shareFile({ user: 'UOPER', name: 'a.txt', data: Buffer.from(lines(fleet.servers.slice(0, 2))) });
    await eventually(() => expect(ephemeralText(s, 'UOPER')).toMatch(/could not read a\.txt: Slack answered HTTP 500 to the download\. Nothing was imported/));
    s.fake.faults.downloads = 'cut';
    await s.fake.shareFile({ user: 'UOPER', name: 'b.txt', data: Buffer.from(lines(fleet.servers.slice(0, 40))) });
    await eventually(() => expect(ephemeralText(s, 'UOPER')).toMatch(/could not read b\.txt: .*Nothing was imported/));
    s.fake.faults.downloads = 'ok';
    await s.fake.shareFile({ user: 'UOPER', name: 'c.txt', data: Buffer.from(lines(fleet.servers.slice(0, 2))) });
    await eventually(() => expect(s.app.app.store.nodes()).toHaveLength(2));
  });

  it('downloads only with the bot token and only from Slack hosts', async () => {
    const s = await session();
    const { fileId } = await s.fake.shareFile({ user: 'UOPER', name: 'x.png', mimetype: 'image/png', data: Buffer.from('not a list') });
    // A screenshot is not a server list: no import, no answer.
    await new Promise((r) => setTimeout(r, 200));
    expect(s.fake.requests.filter((r) => r.kind === 'download')).toHaveLength(0);
    expect(bot(s)).toHaveLength(0);
    const url = `${s.fake.origin}/files-pri/T0FAKE-${fileId}/x.png`;
    const host = new URL(s.fake.origin).host;
    const wrong = slackFile({ id: fileId, name: 'x.png', size: null, mimetype: null, url }, { botToken: 'xoxb-wrong', trustedHosts: [host] });
    await expect(wrong.download(1000)).rejects.toThrow(/refused the bot's download/);
    const right = slackFile({ id: fileId, name: 'x.png', size: null, mimetype: null, url }, { botToken: FAKE_BOT_TOKEN, trustedHosts: [host] });
    expect((await right.download(1000)).toString()).toBe('not a list');
    await expect(right.download(5)).rejects.toBeInstanceOf(FileTooLarge);
    const before = s.fake.requests.length;
    const forged = slackFile({ id: 'F1', name: 'f.txt', size: null, mimetype: null, url: 'http://127.0.0.2:9/steal' }, { botToken: FAKE_BOT_TOKEN, trustedHosts: [host] });
    await expect(forged.download(1000)).rejects.toThrow(/not a Slack file host/);
    expect(s.fake.requests.length).toBe(before);
  });

  it('a 429 storm during a job: Retry-After is honoured, the job completes, its summary arrives, nothing is posted twice', async () => {
    const s = await session({ PING_TIMEOUT_MS: '1200' });
    s.app.app.store.addNodes(fleet.servers.map((x) => ({ ip: x.ip, login: x.login, password: x.password })), 'sim');
    await s.fake.slashCommand({ user: 'UOPER', text: 'ping' });
    await eventually(() => expect(s.fake.applied('chat.postMessage')).toHaveLength(1));
    s.fake.stormRateLimit(['chat.update', 'chat.postMessage'], 2500, 1);
    // Commands keep being acknowledged during the storm (acks do not go through the Web API).
    const ack = await s.fake.slashCommand({ user: 'UVIEW', text: 'stats' });
    expect(ack.ackedAt - ack.sentAt).toBeLessThan(500);
    await s.app.idle();
    await eventually(() => {
      const parent = bot(s).find((m) => /ping j1/.test(m.text))!;
      expect(parent.text).toContain('finished');
      expect(parent.text).toContain(`ok ${passing(fleet.servers)}`);
      expect(bot(s).filter((m) => m.threadTs === parent.ts).flatMap((m) => m.files).map((f) => f.name)).toEqual(['ping-j1-failures.csv']);
      expect(bot(s).some((m) => m.text.includes('nodes*'))).toBe(true); // the stats reply
    }, 15_000);
    const limited = s.fake.requests.filter((r) => r.rateLimited);
    expect(limited.length).toBeGreaterThan(0);
    // Every rate-limited call was retried, and not before its Retry-After.
    for (const r of limited) {
      const retry = s.fake.requests.find((x) => x.seq > r.seq && x.method === r.method && x.body === r.body && !x.rateLimited);
      expect(retry, `${r.method} retried`).toBeDefined();
      expect(retry!.at - r.at).toBeGreaterThanOrEqual(950);
    }
    // No duplicate: one parent, one failures post, one stats reply, and the CSV.
    const posts = s.fake.applied('chat.postMessage').map((r) => `${r.params.thread_ts ?? ''}|${r.params.text}`);
    expect(new Set(posts).size).toBe(posts.length);
    expect(posts).toHaveLength(3);
    expect(s.logs.some((l) => l.includes('rate limited; waiting as Slack asked'))).toBe(true);
  });

  it('does not retry a post whose answer was lost (HTTP 500 after Slack applied it): never a duplicate', async () => {
    const s = await session();
    s.fake.faults.failAfterApply.add('chat.postMessage');
    await s.fake.slashCommand({ user: 'UVIEW', text: 'stats' });
    await eventually(() => expect(ephemeralText(s, 'UVIEW')).toContain('internal error'));
    expect(s.fake.calls('chat.postMessage')).toHaveLength(1);
    expect(bot(s).filter((m) => m.text.includes('nodes*'))).toHaveLength(1);
  });

  it('never sends a secret anywhere but an ephemeral or a DM to the operator who asked, nor to the log', async () => {
    const s = await session();
    const servers = fleet.servers.slice(0, 20);
    await s.fake.shareFile({ user: 'UOPER', name: 'fleet.txt', data: Buffer.from(`${lines(servers)}not-an-ip:login:pw-in-a-bad-line\n`), text: 'ping' });
    await eventually(() => expect(bot(s).some((m) => m.text.includes('finished'))).toBe(true));
    for (const text of [`secrets ${servers[0]!.ip}`, 'export all format=txt', 'export all format=csv', 'list all', `show ${servers[1]!.ip}`, 'jobs', 'stats', 'secrets n3']) {
      await s.fake.slashCommand({ user: 'UOPER', text });
    }
    await s.fake.slashCommand({ user: 'UVIEW', text: `secrets ${servers[0]!.ip}` });
    await eventually(() => expect(s.fake.model.messages.filter((m) => m.channel === 'DUOPER').flatMap((m) => m.files)).toHaveLength(2));
    await s.app.idle();
    const secrets = [...servers.map((x) => x.password), 'pw-in-a-bad-line'];
    const exposed = s.fake.publicBodies('UOPER');
    expect(exposed.length).toBeGreaterThan(30);
    for (const body of exposed) for (const pw of secrets) expect(body).not.toContain(pw);
    for (const line of s.logs) for (const pw of secrets) expect(line).not.toContain(pw);
    // ...and they did reach the operator, privately.
    const dm = s.fake.model.messages.filter((m) => m.channel === 'DUOPER');
    expect(dm.map((m) => m.text).join('\n')).toContain(servers[0]!.password);
    expect(dm.flatMap((m) => m.files).map((f) => f.data.toString()).join('\n')).toContain(servers[5]!.password);
  });

  it('with SECRETS_DELIVERY=thread, secrets come ephemerally and files (which ephemerals cannot carry) by DM', async () => {
    const s = await session({ SECRETS_DELIVERY: 'thread' });
    s.app.app.store.addNodes([{ ip: '127.0.100.1', login: 'zed', password: 'Thread-Secret-9' }], null);
    await s.fake.slashCommand({ user: 'UOPER', text: 'secrets 127.0.100.1' });
    await s.fake.slashCommand({ user: 'UOPER', text: 'export all format=txt' });
    await eventually(() => {
      expect(ephemeralText(s, 'UOPER')).toContain('Thread-Secret-9');
      expect(ephemeralText(s, 'UOPER')).toMatch(/connexa-txt-.*\.txt: sent to you by direct message/);
      expect(s.fake.model.messages.filter((m) => m.channel === 'DUOPER').flatMap((m) => m.files.map((f) => f.data.toString()))).toEqual(['127.0.100.1:zed:Thread-Secret-9\n']);
    });
    for (const body of s.fake.publicBodies('UOPER')) expect(body).not.toContain('Thread-Secret-9');
  });

  it('survives malformed Socket Mode envelopes and payloads, acknowledging them, and keeps answering', async () => {
    const s = await session();
    const rejections: unknown[] = [];
    const onRejection = (r: unknown) => rejections.push(r);
    process.on('unhandledRejection', onRejection);
    try {
      for (const frame of [
        'not json at all',
        '[1,2,3]',
        '{"envelope_id":"m0"}',
        '{"type":"events_api","envelope_id":"m1"}',
        '{"type":"events_api","envelope_id":"m2","payload":{"event":null}}',
        '{"type":"slash_commands","envelope_id":"m3","payload":null}',
        '{"type":"slash_commands","envelope_id":"m4","payload":{"command":"/connexa","text":"stats"}}',
        '{"type":"events_api","envelope_id":"m5","payload":{"type":"event_callback","event":{"type":"message","subtype":"file_share","user":"UOPER","channel":"CGENERAL","ts":"1.2"}}}',
      ]) {
        s.fake.socket.raw(frame);
      }
      await s.fake.slashCommand({ user: 'UVIEW', text: 'stats' });
      await eventually(() => expect(bot(s).filter((m) => m.text.includes('nodes*'))).toHaveLength(1));
      const acked = s.fake.requests.filter((r) => r.kind === 'socket').map((r) => (JSON.parse(r.body) as { envelope_id: string }).envelope_id);
      for (const id of ['m1', 'm2', 'm3', 'm4', 'm5']) expect(acked).toContain(id);
      expect(rejections).toEqual([]);
      expect(s.logs.some((l) => l.includes('malformed'))).toBe(true);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('where the bot is not a member, the user is told privately (response_url) to invite it', async () => {
    const s = await session();
    await s.fake.slashCommand({ user: 'UVIEW', text: 'stats', channel: 'COUTSIDE' });
    await s.fake.slashCommand({ user: 'UVIEW', text: 'lsit', channel: 'COUTSIDE' });
    await eventually(() => {
      const viaUrl = s.fake.model.ephemerals.filter((e) => e.via === 'response_url' && e.user === 'UVIEW').map((e) => e.text);
      expect(viaUrl.join('\n')).toContain('/invite @Connexa');
      expect(viaUrl.join('\n')).toContain('Did you mean');
    });
    expect(bot(s)).toHaveLength(0);
  });

  it('escapes data so it cannot mention or link: <!channel> in a file name arrives as text', async () => {
    const s = await session();
    await s.fake.shareFile({ user: 'UOPER', name: '<!channel> & <@UADMIN>.txt', data: Buffer.from(lines(fleet.servers.slice(0, 1))) });
    await eventually(() => expect(bot(s).some((m) => m.text.startsWith('Imported'))).toBe(true));
    const raw = s.fake.applied('chat.postMessage').map((r) => r.params.text).join('\n');
    expect(raw).toContain('&lt;!channel&gt; &amp; &lt;@UADMIN&gt;');
    expect(raw).not.toMatch(/<[!@#]/);
  });

  it('an import typed as a slash command explains how uploads work on Slack', async () => {
    const s = await session();
    await s.fake.slashCommand({ user: 'UOPER', text: 'import' });
    await eventually(() => expect(ephemeralText(s, 'UOPER')).toContain('upload the server list into a channel'));
  });

  it('posts alerts to SLACK_ALERT_CHANNEL, or warns once when none is set', async () => {
    const s = await session({ SLACK_ALERT_CHANNEL: 'COPS' });
    await s.adapter.port.postAlert({ text: '**127.0.100.9** went offline' });
    expect(s.fake.model.messages.filter((m) => m.channel === 'COPS').map((m) => m.text)).toEqual(['*127.0.100.9* went offline']);
    await s.stop();
    h = null;
    const quiet = await session();
    await quiet.adapter.port.postAlert({ text: 'one' });
    await quiet.adapter.port.postAlert({ text: 'two' });
    expect(quiet.logs.filter((l) => l.includes('alert was dropped'))).toHaveLength(1);
    expect(quiet.fake.model.messages).toHaveLength(0);
  });

  it('`/connexa alerts here` routes the core\'s alerts to that channel through this port', async () => {
    const s = await session({ SLACK_ALERT_CHANNEL: 'CGENERAL' });
    await s.fake.slashCommand({ user: 'UADMIN', text: 'alerts here', channel: 'COPS' });
    await eventually(() => expect(s.app.app.store.setting('alerts.where.slack')).toBeDefined());
    const unregister = s.app.app.alerts.register(s.adapter.port);
    await s.app.app.alerts.send({ text: '🔔 **127.0.100.9** is offline' });
    unregister();
    expect(s.fake.model.messages.filter((m) => m.text.includes('offline')).map((m) => m.channel)).toEqual(['COPS']);
  });

  it('a Where kept from an earlier run (`alerts here`) still posts, and its old command id reaches nobody', async () => {
    const s = await session();
    // The key a slash command in #ops-alerts produced in a previous process.
    await s.adapter.port.post({ key: 'slack|COPS||r0123456789ab' }, { text: 'still here' });
    await expect(s.adapter.port.post({ key: 'slack|COUTSIDE||r0123456789ab' }, { text: 'x' })).rejects.toThrow(/not_in_channel/);
    expect(s.fake.model.messages.map((m) => `${m.channel}:${m.text}`)).toEqual(['COPS:still here']);
    expect(s.fake.requests.filter((r) => r.kind === 'respond')).toHaveLength(0);
  });
});

describe('Slack start-up', () => {
  let fake: FakeSlack;
  beforeAll(async () => {
    fake = await startFakeSlack();
  });
  afterAll(async () => {
    await fake.close();
  });

  async function start(env: Record<string, string>, startTimeoutMs?: number) {
    const bot = await testBot({ SLACK_API_URL: fake.apiUrl, ...env }, 'cnx-slack-start-');
    let began = 0;
    try {
      const { app, started } = await bot.boot((app) => {
        began = Date.now();
        return startSlackAdapter({ config: bot.config, dispatcher: app.dispatcher, log: bot.log, ...(startTimeoutMs ? { startTimeoutMs } : {}) });
      });
      await started.stop();
      await app.close();
      await bot.remove();
      return { error: null, ms: Date.now() - began };
    } catch (err) {
      return { error: err as Error, ms: Date.now() - began };
    }
  }

  it('a bad bot token fails start-up at once with one clear line', async () => {
    const { error, ms } = await start({ SLACK_BOT_TOKEN: 'xoxb-revoked', SLACK_APP_TOKEN: FAKE_APP_TOKEN });
    expect(error).toBeInstanceOf(SlackStartError);
    expect(error!.message).toMatch(/^SLACK_BOT_TOKEN was refused by Slack \(invalid_auth\): use the Bot User OAuth Token/);
    expect(error!.message).not.toContain('\n');
    expect(ms).toBeLessThan(2000);
  });

  it('a bad app token fails start-up naming SLACK_APP_TOKEN', async () => {
    const { error } = await start({ SLACK_BOT_TOKEN: FAKE_BOT_TOKEN, SLACK_APP_TOKEN: 'xapp-1-wrong' });
    expect(error?.message).toMatch(/^SLACK_APP_TOKEN was refused by Slack \(invalid_auth\)/);
  });

  it('a Socket Mode connection that never says hello fails on the deadline instead of hanging', async () => {
    fake.socket.withholdHello = true;
    try {
      const { error, ms } = await start({ SLACK_BOT_TOKEN: FAKE_BOT_TOKEN, SLACK_APP_TOKEN: FAKE_APP_TOKEN }, 800);
      expect(error?.message).toMatch(/the Socket Mode connection did not complete within/);
      expect(ms).toBeLessThan(3000);
    } finally {
      fake.socket.withholdHello = false;
    }
  });

  it('an unreachable API is a clear error', async () => {
    const port = await freePort();
    const { error } = await start({ SLACK_API_URL: `http://127.0.0.1:${port}/api/`, SLACK_BOT_TOKEN: FAKE_BOT_TOKEN, SLACK_APP_TOKEN: FAKE_APP_TOKEN });
    expect(error?.message).toMatch(new RegExp(`^cannot connect to Slack at http://127.0.0.1:${port}/api/`));
  });
});

describe('Slack HTTP mode (signed requests)', () => {
  const SECRET = '8f742231b10e8888abcd99eeeeee85a5';
  it('runs a correctly signed slash command and answers 401 to a wrong signature', async () => {
    const fake = await startFakeSlack();
    const port = await freePort();
    const bot = await testBot({ SLACK_BOT_TOKEN: FAKE_BOT_TOKEN, SLACK_SIGNING_SECRET: SECRET, SLACK_PORT: String(port), SLACK_API_URL: fake.apiUrl }, 'cnx-slack-http-');
    const { app: composed, started: adapter } = await bot.boot((app) => startSlackAdapter({ config: bot.config, dispatcher: app.dispatcher, log: bot.log, httpHost: '127.0.0.1' }));
    try {
      expect(adapter.mode).toBe('http');
      const body = new URLSearchParams({ command: '/connexa', text: 'stats', user_id: 'UVIEW', user_name: 'vera', channel_id: 'CGENERAL', team_id: 'T0FAKE', response_url: `${fake.origin}/respond/1`, trigger_id: 't' }).toString();
      const post = (signature: string, ts = Math.floor(Date.now() / 1000)) =>
        fetch(`http://127.0.0.1:${port}/slack/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signature },
          body,
        });
      const ts = Math.floor(Date.now() / 1000);
      const good = `v0=${createHmac('sha256', SECRET).update(`v0:${ts}:${body}`).digest('hex')}`;
      const bad = `v0=${createHmac('sha256', 'another-secret').update(`v0:${ts}:${body}`).digest('hex')}`;
      expect((await post(bad, ts)).status).toBe(401);
      expect((await post(good, ts - 600)).status).toBe(401); // too old: a replay
      const began = Date.now();
      expect((await post(good, ts)).status).toBe(200);
      expect(Date.now() - began).toBeLessThan(1000);
      await eventually(() => expect(fake.applied('chat.postMessage').map((r) => r.params.text).join('\n')).toContain('nodes*'));
      expect(fake.applied('chat.postMessage')).toHaveLength(1);
    } finally {
      await adapter.stop();
      await composed.close();
      await fake.close();
      await bot.remove();
    }
  });
});
