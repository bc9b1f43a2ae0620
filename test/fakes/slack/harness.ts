/**
 * The Slack PlatformHarness: the fake Slack, the real Bolt client inside the real adapter, and the
 * real app (compose) on a temp DATA_DIR. Harness users map to the ids in CONNEXA_* below.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSlackAdapter, type SlackAdapter } from '../../../adapters/slack/index.ts';
import { unescapeMrkdwn } from '../../../adapters/slack/format.ts';
import { compose, type Composed } from '../../../src/compose.ts';
import { parseConfig, type Config } from '../../../src/config.ts';
import { createLogger } from '../../../src/log.ts';
import type { HarnessSession, HarnessUser, PlatformHarness, SeenMessage } from '../../adapters/scenarios.ts';
import type { FakeMessage } from './model.ts';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, startFakeSlack, type FakeSlack } from './server.ts';

export const SLACK_USERS: Record<HarnessUser, string> = { admin: 'UADMIN', operator: 'UOPER', viewer: 'UVIEW', stranger: 'USTRANGE' };

export interface SlackSession extends HarnessSession {
  fake: FakeSlack;
  adapter: SlackAdapter;
  config: Config;
  /** Every log line of the app and the adapter. */
  logs: string[];
}

export function seen(m: FakeMessage): SeenMessage {
  return {
    id: m.ts,
    where: m.channel,
    text: unescapeMrkdwn(m.text),
    files: m.files.map((f) => ({ name: f.name, data: f.data })),
    threadOf: m.threadTs && m.threadTs !== m.ts ? m.threadTs : null,
    edits: m.edits,
  };
}

export async function eventually(check: () => void, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export async function startSlackSession(env: Record<string, string> = {}): Promise<SlackSession> {
  const fake = await startFakeSlack();
  const dir = await mkdtemp(join(tmpdir(), 'cnx-slack-'));
  const config = parseConfig({
    DATA_DIR: join(dir, 'data'),
    CONNEXA_ADMINS: 'slack:UADMIN',
    CONNEXA_OPERATORS: 'slack:UOPER',
    CONNEXA_VIEWERS: 'slack:UVIEW',
    SLACK_BOT_TOKEN: FAKE_BOT_TOKEN,
    SLACK_APP_TOKEN: FAKE_APP_TOKEN,
    SLACK_API_URL: fake.apiUrl,
    // The simulated servers listen on loopback, which the probe refuses unless PROBE_ALLOW names it.
    PROBE_ALLOW: '127.0.0.0/8',
    LOG_LEVEL: 'debug',
    ...env,
  });
  const logs: string[] = [];
  const log = createLogger('debug', (l) => logs.push(l));
  let app: Composed | null = null;
  let adapter: SlackAdapter | null = null;
  try {
    app = await compose(config, { log });
    adapter = await startSlackAdapter({ config, dispatcher: app.dispatcher, log });
  } catch (err) {
    await app?.close();
    await fake.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const composed = app;
  const started = adapter;
  return {
    app: composed,
    fake,
    adapter: started,
    config,
    logs,
    async command(text, user, attachment) {
      if (!attachment) {
        await fake.slashCommand({ user: SLACK_USERS[user], text });
        return;
      }
      // Slack slash commands carry no files: the user uploads the file, the message says what to do.
      const comment = text.replace(/^import\s*/, '').replace(/^test=/, '');
      await fake.shareFile({ user: SLACK_USERS[user], name: attachment.name, data: attachment.data, text: comment });
    },
    publicMessages() {
      return fake.model.messages.filter((m) => !fake.model.isIm(m.channel)).map(seen);
    },
    privateMessages(user) {
      const id = SLACK_USERS[user];
      const eph: SeenMessage[] = fake.model.ephemerals
        .filter((e) => e.user === id)
        .map((e, i) => ({ id: `eph${i}`, where: e.channel, text: unescapeMrkdwn(e.text), files: [], threadOf: e.threadTs, edits: 0 }));
      const dm = fake.model.imOf(id);
      return [...eph, ...fake.model.messages.filter((m) => m.channel === dm).map(seen)];
    },
    publicRequestBodies() {
      return fake.publicBodies();
    },
    eventually,
    async stop() {
      await started.stop();
      await composed.close();
      await fake.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const slackHarness: PlatformHarness = { platform: 'slack', start: (env) => startSlackSession(env) };
