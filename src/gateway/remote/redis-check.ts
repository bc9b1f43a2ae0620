/**
 * One connection attempt before any queue is opened: BullMQ's connections retry for ever (that is
 * what carries a job through a Redis restart), so a wrong password or a wrong host would otherwise
 * be a silent hang. This turns them into one clear line that names the server, never the password.
 */
import { Redis } from 'ioredis';
import { type RedisTarget, connectionOptions, redisLabel } from './transport.ts';

export class RedisUnavailable extends Error {}

export async function checkRedis(t: RedisTarget, timeoutMs = 5000): Promise<void> {
  const client = new Redis({
    ...connectionOptions(t),
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
  });
  // An AUTH refusal comes as an 'error' event, then the connect fails with "Connection is closed":
  // the first error is the one that says why.
  let first: Error | null = null;
  client.on('error', (err: Error) => (first ??= err));
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw new RedisUnavailable(`Redis at ${redisLabel(t)}: ${explain(first ?? (err as Error))}`);
  } finally {
    client.disconnect();
  }
}

function explain(err: Error): string {
  const m = err.message;
  if (/WRONGPASS|invalid password|invalid username-password/i.test(m)) return 'the password (or user) in REDIS_URL is refused';
  if (/NOAUTH/i.test(m)) return 'it requires a password and REDIS_URL gives none';
  if (/ECONNREFUSED/.test(m)) return 'connection refused (is redis-server running, and listening there?)';
  if (/ETIMEDOUT|timed? ?out/i.test(m)) return 'no answer (a firewall, or the wrong host)';
  if (/ENOTFOUND|EAI_AGAIN/.test(m)) return 'the host name does not resolve';
  // Redis and ioredis messages never hold the password; anything else is said as it is.
  return m;
}
