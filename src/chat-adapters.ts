import { DiscordStartError, startDiscordAdapter } from '../adapters/discord/index.ts';
import { SlackStartError, startSlackAdapter } from '../adapters/slack/index.ts';
import { AdapterStartError } from './chat/adapter-start-error.ts';
import type { ChatPort } from './chat/types.ts';
import type { Composed } from './compose.ts';

/** A chat adapter that is running: its port (for alerts) and how to stop it. */
export interface RunningAdapter {
  platform: string;
  port: ChatPort;
  /** Whether its connection to the platform is up (/healthz). */
  connected(): boolean;
  stop(): Promise<void>;
}

/**
 * Starts the chat adapters whose tokens are set, registers each port for alerts. If one fails to
 * start, the ones already started are stopped and the failure is reported in one line.
 */
export async function startChatAdapters(composed: Composed): Promise<RunningAdapter[]> {
  const { config, log, registry, alerts } = composed.app;
  const running: RunningAdapter[] = [];
  try {
    if (config.SLACK_BOT_TOKEN) {
      const slack = await startSlackAdapter({ config, dispatcher: composed.dispatcher, log });
      log.info('slack: connected', { mode: slack.mode });
      running.push({ platform: 'slack', port: slack.port, connected: () => slack.connected(), stop: () => slack.stop() });
    }
    if (config.DISCORD_TOKEN) {
      const discord = await startDiscordAdapter({ config, dispatcher: composed.dispatcher, registry, log });
      log.info('discord: connected', { invite: discord.inviteUrl });
      running.push({ platform: 'discord', port: discord.port, connected: () => discord.connected(), stop: () => discord.stop() });
    }
  } catch (err) {
    for (const a of running) await a.stop().catch(() => {});
    if (err instanceof DiscordStartError || err instanceof SlackStartError) throw new AdapterStartError(err.message);
    throw err;
  }
  for (const a of running) alerts.register(a.port);
  return running;
}
