// The real `connexa` program (npm start) serving Slack and Discord at once, against the fakes:
// start-up, one command on each platform, SIGTERM; and one-line start-up errors, never a hang.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_TOKEN, FakeDiscord } from '../fakes/discord/index.ts';
import { startConnexa } from '../kit/connexa-process.ts';
import { eventually } from '../kit/wait.ts';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, startFakeSlack, type FakeSlack } from '../fakes/slack/server.ts';

let dir: string;
let slack: FakeSlack;
let discord: FakeDiscord;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnx-main-'));
  slack = await startFakeSlack();
  discord = await FakeDiscord.start();
});
afterEach(async () => {
  await slack.close();
  await discord.close();
  await rm(dir, { recursive: true, force: true });
});

function start(env: Record<string, string>) {
  const bot = startConnexa([], { cwd: dir, dataDir: join(dir, 'data'), env: { CONNEXA_VIEWERS: '*', ...env } });
  return { ...bot, exited: bot.ended.then((r) => r.code) };
}

const both = () => ({
  SLACK_BOT_TOKEN: FAKE_BOT_TOKEN,
  SLACK_APP_TOKEN: FAKE_APP_TOKEN,
  SLACK_API_URL: slack.apiUrl,
  DISCORD_TOKEN: FAKE_TOKEN,
  DISCORD_API_URL: discord.apiUrl,
  DISCORD_GUILD_ID: discord.ids.guild,
});

describe('npm start with platform tokens', () => {
  it('serves Slack and Discord from one process until SIGTERM', async () => {
    const bot = start(both());
    await eventually(() => expect(bot.err()).toContain('serving slack and discord'), 20_000);
    await slack.slashCommand({ user: 'UVIEW', text: 'stats' });
    await eventually(() => expect(slack.model.messages.some((m) => m.text.includes('0 nodes'))).toBe(true));
    const sent = discord.interaction({ user: 'viewer', sub: 'stats' });
    await sent.acked;
    await eventually(() => expect([...discord.state.messages.values()].some((m) => m.content.includes('0 nodes') && m.flags === 0)).toBe(true));
    // The slash command was registered from the registry, one sub-command per command.
    const subs = (discord.registeredCommands()[0]!.options as Array<{ name: string }>).map((o) => o.name);
    expect(subs).toEqual(expect.arrayContaining(['help', 'import', 'ping', 'stats', 'monitor', 'audit']));
    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(130);
  }, 60_000);

  it('stops with one line when Slack refuses the token', async () => {
    const bot = start({ ...both(), SLACK_BOT_TOKEN: 'xoxb-revoked' });
    expect(await bot.exited).toBe(2);
    expect(bot.err().trim().split('\n')).toHaveLength(1);
    expect(bot.err()).toMatch(/^connexa: SLACK_BOT_TOKEN was refused by Slack \(invalid_auth\)/);
  }, 60_000);

  it('stops with one line when the Discord API cannot be reached', async () => {
    const bot = start({ DISCORD_TOKEN: FAKE_TOKEN, DISCORD_API_URL: 'http://127.0.0.1:9/api' });
    expect(await bot.exited).toBe(2);
    expect(bot.err()).toMatch(/^connexa: cannot reach the Discord API at http:\/\/127\.0\.0\.1:9\/api/);
  }, 60_000);
});
