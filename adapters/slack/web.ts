import { LogLevel, type Logger as BoltLogger, webApi } from '@slack/bolt';
import type { Logger } from '../../src/log.ts';
import { publish } from '../../src/ops/events.ts';

/**
 * After a 429, @slack/web-api sleeps Retry-After seconds, then throws a plain Error with this text,
 * which its own catch wraps into a WebAPIRequestError (the same type as a dropped connection), to ask
 * p-retry for another attempt. Nothing else marks that case, so the 429 storm test pins it down.
 */
const RATE_LIMIT_RETRY = /^(A request error occurred: )?A rate limit was exceeded \(url: /;

export function isRateLimitRetry(err: Error): boolean {
  const original = (err as { original?: unknown }).original;
  return RATE_LIMIT_RETRY.test(err.message) || (original instanceof Error && RATE_LIMIT_RETRY.test(original.message));
}

type RetryPolicy = webApi.RetryOptions & { onFailedAttempt?: (err: Error) => void };

/**
 * Web API calls retry ONLY after a 429. The client then sleeps the Retry-After the platform sent (and
 * pauses its whole request queue meanwhile) before trying again; Slack did not process a rate-limited
 * call, so the retry cannot duplicate a post. Every other failure (HTTP 5xx, a dropped connection) may
 * have happened after Slack posted the message, so it is NOT retried: a lost progress edit is
 * harmless, a doubled message is not. The library's default would retry everything for ~30 minutes.
 */
export function rateLimitRetries(retries = 10): RetryPolicy {
  return {
    retries,
    factor: 1,
    minTimeout: 0, // the Retry-After sleep already happened inside the client
    randomize: false,
    onFailedAttempt(err) {
      if (!isRateLimitRetry(err)) throw err;
    },
  };
}

/**
 * apps.connections.open (Socket Mode, reconnects included) is idempotent, so network errors are
 * retried too, with back-off, for about ten minutes; start-up has its own shorter deadline.
 */
export function socketModeRetries(): RetryPolicy {
  return { retries: 15, factor: 1.5, minTimeout: 1000, maxTimeout: 60_000, randomize: true };
}

/** The Slack error code of a failed call (`invalid_auth`, `not_in_channel`…), or null. */
export function slackErrorCode(err: unknown): string | null {
  if (typeof err !== 'object' || err === null) return null;
  const data = (err as { data?: { error?: unknown } }).data;
  return typeof data?.error === 'string' ? data.error : null;
}

function line(args: unknown[]): string {
  return args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ').slice(0, 500);
}

/**
 * Bolt, the web client and the Socket Mode client log through this. Their debug lines carry whole
 * payloads (ephemeral texts with passwords among them), so debug is dropped and the level reported
 * as INFO, which also stops them from formatting those lines at all.
 */
export function boltLogger(log: Logger): BoltLogger {
  return {
    debug: () => {},
    info: (...args: unknown[]) => log.debug(`slack: ${line(args)}`),
    // The client warns about every 429 it is about to retry; the rate_limited event already said so.
    warn: (...args: unknown[]) => {
      const text = `slack: ${line(args)}`;
      if (/A rate limit was exceeded \(url: /.test(text)) log.debug(text);
      else log.warn(text);
    },
    error: (...args: unknown[]) => log.error(`slack: ${line(args)}`),
    setLevel: () => {},
    getLevel: () => LogLevel.INFO,
    setName: () => {},
  };
}

/**
 * Counts each Web API call as it ends (retries after a 429 included), for the metrics. The client
 * has no per-call event and binds its methods (chat.postMessage…) to apiCall when it is built, so
 * the request it makes for every one of them, makeRequest, is wrapped on this instance.
 */
export function countApiCalls(client: webApi.WebClient): void {
  const c = client as unknown as { makeRequest: (...args: unknown[]) => Promise<{ status?: number; data?: { ok?: unknown } }> };
  const makeRequest = c.makeRequest.bind(client);
  c.makeRequest = async (...args: unknown[]) => {
    try {
      const res = await makeRequest(...args);
      publish('platform.call', { platform: 'slack', result: (res.status ?? 200) < 400 && res.data?.ok !== false ? 'ok' : 'error' });
      return res;
    } catch (err) {
      publish('platform.call', { platform: 'slack', result: 'error' });
      throw err;
    }
  };
}
