import { App, HTTPReceiver, SocketModeReceiver, webApi } from '@slack/bolt';
import type { DispatchEntry } from '../../src/chat/dispatcher.ts';
import type { ChatPort } from '../../src/chat/types.ts';
import type { Config } from '../../src/config.ts';
import type { Logger } from '../../src/log.ts';
import { SLACK_FILE_HOSTS, type SlackFileObject } from './files.ts';
import { guardEnvelopes } from './guard.ts';
import { recentKeys, registerListeners } from './listeners.ts';
import { SlackPort } from './port.ts';
import { boltLogger, countApiCalls, rateLimitRetries, slackErrorCode, socketModeRetries } from './web.ts';
import { publish } from '../../src/ops/events.ts';

export { SlackPort } from './port.ts';

/** Start-up failed: one line saying which variable or what to check. */
export class SlackStartError extends Error {}

export interface SlackAdapterOptions {
  config: Config;
  dispatcher: DispatchEntry;
  log: Logger;
  /** HTTP mode: the address to listen on (default: every interface). */
  httpHost?: string;
  /** How long connecting may take before start-up fails (default 30 s). */
  startTimeoutMs?: number;
}

export interface SlackAdapter {
  port: ChatPort;
  mode: 'socket' | 'http';
  /** The connection to Slack is up (for /healthz). */
  connected(): boolean;
  /** Stops receiving; messages of jobs still running can still be posted until the app closes. */
  stop(): Promise<void>;
}

/**
 * Connects to Slack: Socket Mode with SLACK_APP_TOKEN, else HTTP mode on SLACK_PORT with
 * SLACK_SIGNING_SECRET. Resolves once Slack accepted the tokens and events can arrive; rejects with a
 * SlackStartError (one line) for a refused token, an unreachable API or a connection that never opens.
 */
export async function startSlackAdapter(opts: SlackAdapterOptions): Promise<SlackAdapter> {
  const { config, log } = opts;
  const token = config.SLACK_BOT_TOKEN;
  if (!token) throw new SlackStartError('SLACK_BOT_TOKEN is not set');
  const mode = config.SLACK_APP_TOKEN ? 'socket' : config.SLACK_SIGNING_SECRET && config.SLACK_PORT ? 'http' : null;
  if (!mode) throw new SlackStartError('SLACK_BOT_TOKEN needs SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET and SLACK_PORT (HTTP mode)');
  const apiUrl = config.SLACK_API_URL ?? 'https://slack.com/api/';
  const deadline = opts.startTimeoutMs ?? 30_000;
  const logger = boltLogger(log);

  const receiver =
    mode === 'socket'
      ? new SocketModeReceiver({
          appToken: config.SLACK_APP_TOKEN!,
          logger,
          // Its own client (apps.connections.open) gets an explicit policy too: left unset, the Socket
          // Mode client writes { retries: 100 } into the options and a failing call retries for ~30 min.
          installerOptions: { clientOptions: { slackApiUrl: apiUrl, retryConfig: socketModeRetries(), timeout: 30_000 } },
        })
      : new HTTPReceiver({ signingSecret: config.SLACK_SIGNING_SECRET!, logger, endpoints: '/slack/events' });
  const app = new App({
    token,
    receiver,
    logger,
    // A hung call must not hold a job's summary forever; uploads (exports, bundles) fit in 60 s.
    clientOptions: { slackApiUrl: apiUrl, retryConfig: rateLimitRetries(), timeout: 60_000 },
    // auth.test runs in init(), where a refusal can be caught; in the constructor it would be an
    // unhandled rejection.
    deferInitialization: true,
  });

  countApiCalls(app.client);
  try {
    await withDeadline(app.init(), deadline, 'auth.test');
  } catch (err) {
    throw startError('SLACK_BOT_TOKEN', 'the Bot User OAuth Token (xoxb-…) on the app\'s OAuth & Permissions page', apiUrl, err);
  }

  const port = new SlackPort({
    client: app.client,
    log,
    alertChannel: config.SLACK_ALERT_CHANNEL,
  });
  app.client.on(webApi.WebClientEvent.RATE_LIMITED, (retryAfterSec: number, req: { url?: string }) => {
    publish('platform.rate_limited', { platform: 'slack' });
    log.warn('slack: rate limited; waiting as Slack asked', { method: req.url?.split('/').pop(), retryAfterSec });
  });

  const inflight = new Set<Promise<unknown>>();
  const trustedHosts = [...SLACK_FILE_HOSTS, new URL(apiUrl).host];
  registerListeners(app, {
    dispatcher: opts.dispatcher,
    port,
    log,
    download: { botToken: token, trustedHosts },
    userName: userNames(app, log),
    seen: recentKeys(),
    async fileInfo(id) {
      try {
        const res = await app.client.files.info({ file: id });
        return (res.file as SlackFileObject | undefined) ?? null;
      } catch (err) {
        log.warn('slack: files.info failed', { file: id, error: slackErrorCode(err) ?? (err as Error).message });
        return null;
      }
    },
    track(work) {
      const p = work.catch((err: unknown) => log.error('slack: a command handler failed', { error: err instanceof Error ? err.stack ?? err.message : String(err) }));
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    },
  });

  // Whether the Socket Mode connection is up, for /healthz (HTTP mode: listening is enough).
  let connected = mode === 'http';
  if (receiver instanceof SocketModeReceiver) {
    receiver.client.on('connected', () => (connected = true));
    receiver.client.on('reconnecting', () => (connected = false));
    receiver.client.on('disconnected', () => (connected = false));
    guardEnvelopes(receiver, log);
    try {
      await withDeadline(app.start(), deadline, 'the Socket Mode connection');
    } catch (err) {
      await receiver.client.disconnect().catch(() => {});
      throw startError('SLACK_APP_TOKEN', 'an app-level token (xapp-…) with the connections:write scope, under Basic Information → App-Level Tokens', apiUrl, err);
    }
  } else {
    try {
      await app.start({ port: config.SLACK_PORT!, ...(opts.httpHost ? { host: opts.httpHost } : {}) });
    } catch (err) {
      throw new SlackStartError(`SLACK_PORT ${config.SLACK_PORT}: cannot listen (${(err as Error).message})`);
    }
  }
  log.info(`connected to Slack (${mode === 'socket' ? 'Socket Mode' : `HTTP on port ${config.SLACK_PORT}`})`);

  let stopped: Promise<void> | null = null;
  return {
    port,
    mode,
    connected: () => connected,
    stop: () =>
      (stopped ??= (async () => {
        if (receiver instanceof SocketModeReceiver) {
          // receiver.stop() does not wait for the close handshake; the client's `disconnected` does.
          const closed = new Promise<void>((resolve) => receiver.client.once('disconnected', () => resolve()));
          await app.stop();
          await withDeadline(closed, 2000, 'disconnect').catch(() => {});
        } else {
          await app.stop();
        }
        // Commands already received finish their reply (bounded: a command that hangs must not block exit).
        await withDeadline(Promise.allSettled([...inflight]), 10_000, 'running commands').catch(() => log.warn('slack: stopped with commands still running'));
      })()),
  };
}

function startError(variable: string, where: string, apiUrl: string, err: unknown): SlackStartError {
  const code = slackErrorCode(err);
  if (code === 'invalid_auth' || code === 'not_authed' || code === 'account_inactive' || code === 'token_revoked' || code === 'token_expired') {
    return new SlackStartError(`${variable} was refused by Slack (${code}): use ${where}`);
  }
  const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
  if (code) return new SlackStartError(`Slack refused to start the bot (${code}); check ${variable}`);
  return new SlackStartError(`cannot connect to Slack at ${apiUrl}: ${why}`);
}

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not complete within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** users.info display names, cached; the user id when Slack will not say (no users:read scope). */
function userNames(app: App, log: Logger): (id: string) => Promise<string> {
  const cache = new Map<string, string>();
  let warned = false;
  return async (id) => {
    const known = cache.get(id);
    if (known) return known;
    let name = id;
    try {
      const res = await app.client.users.info({ user: id });
      name = res.user?.profile?.display_name || res.user?.real_name || res.user?.name || id;
    } catch (err) {
      if (!warned) log.warn('slack: users.info failed; user ids stand in for names', { error: slackErrorCode(err) ?? (err as Error).message });
      warned = true;
    }
    if (cache.size > 5000) cache.clear();
    cache.set(id, name);
    return name;
  };
}
