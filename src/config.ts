import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import cron from 'node-cron';
import { z } from 'zod';
import { parseRanges } from './probes/pptp/policy.ts';

/** The largest IMPORT_MAX_BYTES accepted: 64 MiB (see the schema). */
export const IMPORT_MAX_BYTES_CEILING = 64 * 1024 * 1024;

/** One line per bad variable: its name and what it expects. */
export class ConfigError extends Error {}

const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const opt = <T extends z.ZodType>(schema: T) => z.preprocess(blankToUndefined, schema.optional());
// prefault: the default goes through the schema (and its transforms) like a real value.
const withDefault = <T extends z.ZodType>(schema: T, value: z.input<T>) => z.preprocess(blankToUndefined, schema.prefault(value as never));

const int = (min: number, max: number, what: string) =>
  z.coerce.number({ error: `${what}` }).int(`${what}`).min(min, `${what}`).max(max, `${what}`);

const url = (what: string) =>
  z.string().refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, what);

/** `slack:U123`, `discord:123`, `discord-role:456` or `*`. */
const PRINCIPAL = /^(\*|slack:[A-Z0-9]+|discord:\d{5,25}|discord-role:\d{5,25})$/;
const principals = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .refine((list) => list.every((p) => PRINCIPAL.test(p)), 'a comma list of slack:U123, discord:123, discord-role:456 or *');

const portRange = (what: string) =>
  z
    .string()
    .regex(/^\d{1,5}-\d{1,5}$/, what)
    .transform((v) => v.split('-').map(Number) as [number, number])
    .refine(([a, b]) => a >= 1 && b <= 65535 && a <= b, what)
    .transform(([from, to]) => ({ from, to }));

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const resolvers = z
  .string()
  .transform((v) => (v.trim().toLowerCase() === 'none' ? [] : v.split(',').map((s) => s.trim()).filter(Boolean)))
  .refine((list) => list.every((a) => IPV4.test(a)), 'a comma list of IPv4 resolver addresses, or none');

/** `30s`, `2m`, `500ms` or bare milliseconds (`30000`), to milliseconds. */
const duration = (min: number, max: number, what: string) =>
  z
    .string()
    .regex(/^\d+(ms|s|m)?$/, what)
    .transform((v) => {
      const n = Number.parseInt(v, 10);
      return v.endsWith('ms') ? n : v.endsWith('s') ? n * 1000 : v.endsWith('m') ? n * 60_000 : n;
    })
    .refine((ms) => ms >= min && ms <= max, what);

const redisUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '';
  } catch {
    return false;
  }
}, 'a redis:// or rediss:// URL such as rediss://:PASSWORD@redis.example.net:6380/0');

const snowflake = z.string().regex(/^\d{5,25}$/, 'a numeric Discord id');

export const configSchema = z.object({
  DATA_DIR: withDefault(z.string(), './data'),
  SLACK_BOT_TOKEN: opt(z.string().startsWith('xoxb-', 'a bot token starting with xoxb-')),
  SLACK_APP_TOKEN: opt(z.string().startsWith('xapp-', 'an app-level token starting with xapp-')),
  SLACK_SIGNING_SECRET: opt(z.string().regex(/^[0-9a-f]{16,128}$/i, 'the app signing secret (hex)')),
  SLACK_PORT: opt(int(1, 65535, 'a TCP port (1-65535)')),
  SLACK_API_URL: opt(url('an http(s) URL of the Slack Web API, ending in /api/')),
  SLACK_ALERT_CHANNEL: opt(z.string().regex(/^[CGD][A-Z0-9]+$/, 'a Slack channel id such as C0123ABC')),
  DISCORD_TOKEN: opt(z.string().min(20, 'a bot token from the Discord developer portal')),
  DISCORD_GUILD_ID: opt(snowflake),
  DISCORD_API_URL: opt(url('an http(s) URL of the Discord REST API, without the version')),
  DISCORD_ALERT_CHANNEL: opt(snowflake),
  CONNEXA_ADMINS: withDefault(principals, ''),
  CONNEXA_OPERATORS: withDefault(principals, ''),
  CONNEXA_VIEWERS: withDefault(principals, ''),
  PING_CONCURRENCY: withDefault(int(1, 2000, 'a whole number from 1 to 2000'), 200),
  PING_TIMEOUT_MS: withDefault(int(100, 120_000, 'milliseconds from 100 to 120000'), 3000),
  PING_RETRIES: withDefault(int(0, 5, 'a whole number from 0 to 5'), 1),
  // Ranges the probe may reach although they are this host, loopback or link-local (see policy.ts).
  PROBE_ALLOW: withDefault(
    z.string().refine((v) => {
      try {
        parseRanges(v);
        return true;
      } catch {
        return false;
      }
    }, 'a comma list of IP addresses or CIDR ranges such as 127.0.0.0/8'),
    '',
  ),
  SPEED_URL: opt(url('an http(s) URL of a file to download for the speed test')),
  SPEED_MIN_MBPS: withDefault(z.coerce.number({ error: 'a number of Mbit/s' }).min(0, 'a number of Mbit/s, 0 or more'), 1),
  SPEED_CONCURRENCY: withDefault(int(1, 64, 'a whole number from 1 to 64'), 4),
  TUNNEL_DRIVER: withDefault(z.enum(['pppd', 'none'], { error: 'pppd or none' }), 'pppd'),
  // PPTP + LCP + MS-CHAPv2 + IPCP: 2.6-4.4 s in the VM lab, more over the internet.
  TUNNEL_OPEN_TIMEOUT_MS: withDefault(int(1000, 300_000, 'a whole number of milliseconds from 1000 to 300000'), 30_000),
  SOCKS_BIND: withDefault(z.ipv4({ error: 'an IPv4 address to listen on' }), '127.0.0.1'),
  SOCKS_PUBLIC_HOST: opt(z.string().min(1)),
  SOCKS_HOSTNAMES: withDefault(z.enum(['resolve', 'refuse'], { error: 'resolve or refuse' }), 'resolve'),
  SOCKS_PORT_RANGE: withDefault(portRange('a port range such as 20000-20999'), '20000-20999'),
  OVPN_PUBLIC_HOST: opt(z.string().min(1)),
  OVPN_PORT_RANGE: withDefault(portRange('a port range such as 21000-21999'), '21000-21999'),
  OVPN_DNS: withDefault(resolvers, '1.1.1.1,9.9.9.9'),
  MONITOR_CRON: withDefault(z.string().refine((v) => cron.validate(v), 'a cron expression such as */5 * * * *'), '*/5 * * * *'),
  MONITOR_FAILS: withDefault(int(1, 100, 'a whole number from 1 to 100'), 3),
  SECRETS_DELIVERY: withDefault(z.enum(['dm', 'thread'], { error: 'dm or thread' }), 'dm'),
  // The ceiling is what the parser can hold beside a full store: parsing takes ~13x the file in
  // memory (measured: 100 MiB of short lines peaked at 1.28 GB, 200 MiB killed the process at 4.9 GB).
  IMPORT_MAX_BYTES: withDefault(int(1024, IMPORT_MAX_BYTES_CEILING, `a size in bytes from 1024 to ${IMPORT_MAX_BYTES_CEILING}`), 20 * 1024 * 1024),
  // A store must stay small enough to be read back into memory at start-up (1.6 M nodes made 584 MB).
  MAX_NODES: withDefault(int(1, 1_000_000, 'a whole number from 1 to 1000000'), 250_000),
  LOG_LEVEL: withDefault(z.enum(['debug', 'info', 'warn', 'error'], { error: 'debug, info, warn or error' }), 'info'),
  // Unset: pretty on a terminal, JSON lines otherwise (journald, Loki); see defaultLogFormat.
  LOG_FORMAT: opt(z.enum(['json', 'pretty'], { error: 'json or pretty' })),
  // Off unless set: /metrics, /healthz and /readyz on METRICS_BIND:METRICS_PORT.
  METRICS_PORT: opt(int(1, 65535, 'a TCP port from 1 to 65535')),
  METRICS_BIND: withDefault(z.string().regex(IPV4, 'an IPv4 address such as 127.0.0.1 or 0.0.0.0'), '127.0.0.1'),
  // Scheduled backups (off unless set) into BACKUP_DIR, keeping the newest BACKUP_KEEP.
  BACKUP_CRON: opt(z.string().refine((v) => cron.validate(v), 'a cron expression such as 0 3 * * *')),
  BACKUP_KEEP: withDefault(int(1, 1000, 'a whole number from 1 to 1000'), 7),
  BACKUP_DIR: opt(z.string().min(1)),
  // The weekly digest of what changed (off unless set), posted where alerts go.
  DIGEST_CRON: opt(z.string().refine((v) => cron.validate(v), 'a cron expression such as 0 9 * * 1')),
  // Gateways on other hosts (off unless set): the bot and each `connexa gateway` meet on this Redis.
  REDIS_URL: opt(redisUrl),
  // `connexa gateway` only: its name (queues are named after it) and where clients reach it.
  GATEWAY_NAME: opt(z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/, 'lower-case letters, digits and dashes (at most 40), such as fra-1')),
  GATEWAY_PUBLIC_HOST: opt(z.string().regex(/^[A-Za-z0-9.:-]+$/, 'the host name or address clients reach the gateway at')),
  // A gateway silent this long is down (its nodes go offline).
  GATEWAY_DEAD_AFTER: withDefault(duration(3000, 3_600_000, 'a duration from 3s to 60m, such as 30s, 2m or 30000 (ms)'), '30s'),
});

export type Config = z.infer<typeof configSchema> & { dataDir: string; backupDir: string };

/**
 * Parses the environment; throws one ConfigError with one line per bad variable (its name and
 * what it expects), so that a new setup is fixed in one go rather than one variable per start.
 */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const parsed = configSchema.safeParse(env);
  const problems = new Map<string, string>();
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? '?');
      if (problems.has(name)) continue;
      // A token or a URL with a password is not repeated in the error.
      const shown = /TOKEN|SIGNING_SECRET|REDIS_URL/.test(name) ? '' : ` (got ${JSON.stringify(env[name])})`;
      problems.set(name, `${name} must be ${issue.message}${shown}`);
    }
  }
  // The combinations are checked on what is set, so they are reported along with bad values.
  const set = (name: string) => Boolean(env[name]?.trim());
  if (set('SLACK_BOT_TOKEN') && !set('SLACK_APP_TOKEN') && !(set('SLACK_SIGNING_SECRET') && set('SLACK_PORT')) && !problems.has('SLACK_BOT_TOKEN')) {
    problems.set('SLACK_BOT_TOKEN', 'SLACK_BOT_TOKEN needs SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET and SLACK_PORT (HTTP mode)');
  }
  if (!set('SLACK_BOT_TOKEN') && (set('SLACK_APP_TOKEN') || set('SLACK_SIGNING_SECRET')) && !problems.has('SLACK_APP_TOKEN')) {
    problems.set('SLACK_APP_TOKEN', 'SLACK_APP_TOKEN / SLACK_SIGNING_SECRET are set but SLACK_BOT_TOKEN is not');
  }
  if (problems.size || !parsed.success) throw new ConfigError([...problems.values()].join('\n'));
  return { ...parsed.data, dataDir: resolve(parsed.data.DATA_DIR), backupDir: resolve(parsed.data.BACKUP_DIR ?? join(parsed.data.DATA_DIR, 'backups')) };
}

/** Reads `.env` (when present) under the real environment, which wins, then parses. */
export function loadConfig(envFile = '.env'): Config {
  if (existsSync(envFile)) {
    try {
      process.loadEnvFile(envFile);
    } catch (err) {
      throw new ConfigError(`${envFile} cannot be read: ${(err as Error).message}`);
    }
  }
  return parseConfig(process.env);
}
