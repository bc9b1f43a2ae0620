/**
 * The Slack PlatformHarness: the fake Slack, the real Bolt client inside the real adapter, and the
 * real app on the kit's test bot (test/kit/app.ts). Harness users map to the kit's role ids.
 */
import { startSlackAdapter, type SlackAdapter } from '../../../adapters/slack/index.ts';
import { unescapeMrkdwn } from '../../../adapters/slack/format.ts';
import type { Config } from '../../../src/config.ts';
import { testBot } from '../../kit/app.ts';
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

export async function startSlackSession(env: Record<string, string> = {}): Promise<SlackSession> {
  const fake = await startFakeSlack();
  const bot = await testBot({ SLACK_BOT_TOKEN: FAKE_BOT_TOKEN, SLACK_APP_TOKEN: FAKE_APP_TOKEN, SLACK_API_URL: fake.apiUrl, ...env }, 'cnx-slack-');
  const { config, log, logs } = bot;
  const { app: composed, started } = await bot
    .boot((app) => startSlackAdapter({ config, dispatcher: app.dispatcher, log }))
    .catch(async (err: unknown) => {
      await fake.close();
      throw err;
    });
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
    async stop() {
      await started.stop();
      await composed.close();
      await fake.close();
      await bot.remove();
    },
  };
}

export const slackHarness: PlatformHarness = { platform: 'slack', start: (env) => startSlackSession(env) };
