// The real `connexa` program serving Slack and Discord (the fakes) with METRICS_PORT and BACKUP_CRON:
// /readyz, /healthz and /metrics over HTTP, counts of a real slash command and of platform calls,
// 503 when a platform goes away, scheduled backups with rotation, and SIGTERM.
import { statSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_TOKEN, FakeDiscord } from '../fakes/discord/index.ts';
import { startConnexa } from '../kit/connexa-process.ts';
import { freePort } from '../kit/loopback.ts';
import { eventually } from '../kit/wait.ts';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, startFakeSlack, type FakeSlack } from '../fakes/slack/server.ts';

let dir: string;
let slack: FakeSlack;
let discord: FakeDiscord;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnx-ops-svc-'));
  slack = await startFakeSlack();
  discord = await FakeDiscord.start();
});
afterEach(async () => {
  await slack.close();
  await discord.close().catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: '' };
  }
}


const value = (text: string, line: RegExp) => Number(line.exec(text)?.[1] ?? NaN);

describe('a long-running Connexa with METRICS_PORT and BACKUP_CRON', () => {
  it('serves /metrics, /healthz and /readyz, counts what it does, writes and rotates backups, stops on SIGTERM', async () => {
    const port = await freePort();
    const backups = join(dir, 'backups');
    const bot = startConnexa([], {
      cwd: dir,
      dataDir: join(dir, 'data'),
      env: {
        CONNEXA_VIEWERS: '*',
        SLACK_BOT_TOKEN: FAKE_BOT_TOKEN, SLACK_APP_TOKEN: FAKE_APP_TOKEN, SLACK_API_URL: slack.apiUrl,
        DISCORD_TOKEN: FAKE_TOKEN, DISCORD_API_URL: discord.apiUrl, DISCORD_GUILD_ID: discord.ids.guild,
        METRICS_PORT: String(port), BACKUP_CRON: '* * * * * *', BACKUP_KEEP: '2', BACKUP_DIR: backups,
      },
    });
    const exited = bot.ended.then((r) => r.code);
    try {
      await eventually(() => expect(bot.err()).toContain('serving slack and discord'), 20_000);
      await eventually(async () => expect(await get(port, '/readyz')).toEqual({ status: 200, body: 'ok\n' }), 10_000);
      expect(await get(port, '/healthz')).toEqual({ status: 200, body: 'ok\n' });

      await slack.slashCommand({ user: 'UVIEW', text: 'stats' });
      await eventually(() => expect(slack.model.messages.some((m) => m.text.includes('0 nodes'))).toBe(true));
      await eventually(async () => {
        const text = (await get(port, '/metrics')).body;
        expect(value(text, /^connexa_chat_commands_total\{platform="slack",command="stats",outcome="ok"\} (\d+)$/m)).toBe(1);
      });
      const text = (await get(port, '/metrics')).body;
      expect(value(text, /^connexa_platform_api_calls_total\{platform="slack",result="ok"\} (\d+)$/m)).toBeGreaterThan(0);
      expect(value(text, /^connexa_platform_api_calls_total\{platform="discord",result="ok"\} (\d+)$/m)).toBeGreaterThan(0);
      expect(value(text, /^connexa_nodes\{status="not_tested"\} (\d+)$/m)).toBe(0);
      expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \S+$/m);

      // Scheduled backups every second, the newest two kept, each private.
      await eventually(async () => expect((await readdir(backups).catch(() => [])).length).toBe(2), 10_000);
      await new Promise((r) => setTimeout(r, 1500));
      const names = await readdir(backups);
      expect(names.length).toBe(2);
      for (const n of names) expect(statSync(join(backups, n)).mode & 0o777).toBe(0o600);

      // Discord goes away: health says so.
      await discord.close();
      await eventually(async () => expect(await get(port, '/healthz')).toEqual({ status: 503, body: 'discord: not connected\n' }), 20_000);
      expect((await get(port, '/readyz')).status).toBe(503);
    } finally {
      bot.child.kill('SIGTERM');
      await exited;
    }
    expect(await exited).toBe(130);
    expect(bot.err()).not.toContain('backup failed');
  }, 90_000);
});
