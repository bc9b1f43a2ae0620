/**
 * How the bot and its gateways meet on Redis: BullMQ queue names, job names and the connection
 * options read from REDIS_URL. Everything else between hosts is a BullMQ job; there is no protocol
 * of our own.
 *
 * Queues (keys under the `connexa` prefix, so a Redis shared with other programs is not mixed up):
 *   gw-<name>          commands for one gateway (describe, start, stop, check, list, handshake, trust, cancel)
 *   gw-<name>-speed    its speed tests, on a worker of their own with a small concurrency
 *   control            enrolment requests (CSR in, certificate out), consumed by the bot
 *   heartbeats         GatewayHeartbeat values, consumed by the bot
 *
 * Secrets: REDIS_URL may carry a password; it goes into the connection options only, and what is
 * said about the connection (logs, errors) comes from redisLabel, which never includes it.
 */
import type { JobsOptions } from 'bullmq';

export const PREFIX = 'connexa';
export const CONTROL_QUEUE = 'control';
export const HEARTBEAT_QUEUE = 'heartbeats';
/** GATEWAY_NAME: lower-case letters, digits and dashes (it becomes part of queue names). */
export const GATEWAY_NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

export const commandQueue = (gateway: string): string => `gw-${gateway}`;
export const speedQueue = (gateway: string): string => `gw-${gateway}-speed`;

/** The job names on a gateway's queues: one per GatewayPort method, plus cancel. */
export type CommandName = 'describe' | 'start' | 'stop' | 'check' | 'list' | 'speedTest' | 'handshake' | 'trust' | 'cancel';

/**
 * The options every command job gets: no automatic retry (a failed start is the caller's to judge,
 * not BullMQ's to repeat), and finished jobs kept for an hour so that adding a job again under the
 * same id (a caller's retry after a dropped connection) returns the first result instead of running twice.
 */
export const COMMAND_JOB: JobsOptions = {
  attempts: 1,
  removeOnComplete: { age: 3600, count: 5000 },
  removeOnFail: { age: 3600, count: 5000 },
};

export interface RedisTarget {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls: boolean;
}

export class RedisUrlError extends Error {}

/** Parses redis://[user:pass@]host[:port][/db] or rediss://…; the error never repeats the URL. */
export function parseRedisUrl(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RedisUrlError('REDIS_URL is not a URL (expected redis://:password@host:6379/0 or rediss://…)');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RedisUrlError(`REDIS_URL must start with redis:// or rediss:// (got ${u.protocol}//)`);
  if (!u.hostname) throw new RedisUrlError('REDIS_URL names no host');
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0 || db > 15) throw new RedisUrlError('REDIS_URL: the database after the host must be a number from 0 to 15');
  const port = u.port ? Number(u.port) : 6379;
  return {
    // [::1] comes back with its brackets; ioredis wants the bare address.
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db,
    tls: u.protocol === 'rediss:',
  };
}

/** What may be said about the connection: scheme, host, port, database. Never the user or password. */
export function redisLabel(t: RedisTarget): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `${t.tls ? 'rediss' : 'redis'}://${host}:${t.port}/${t.db}`;
}

/**
 * ioredis options for BullMQ. `maxRetriesPerRequest: null` (BullMQ requires it for workers, and it is
 * what lets a command wait through a Redis restart instead of failing: nothing is lost, it is sent
 * again on reconnect). Reconnects back off up to 2 s so a restarted Redis is found quickly.
 */
export function connectionOptions(t: RedisTarget): Record<string, unknown> {
  return {
    host: t.host,
    port: t.port,
    ...(t.username ? { username: t.username } : {}),
    ...(t.password ? { password: t.password } : {}),
    db: t.db,
    ...(t.tls ? { tls: { servername: t.host } } : {}),
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(100 * times, 2000),
  };
}
