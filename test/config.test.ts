import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema, ConfigError, parseConfig } from '../src/config.ts';

describe('configuration', () => {
  it('has defaults for everything optional', () => {
    const c = parseConfig({});
    expect(c).toMatchObject({ PING_CONCURRENCY: 200, PING_TIMEOUT_MS: 3000, PING_RETRIES: 1, SOCKS_PORT_RANGE: { from: 20000, to: 20999 }, CONNEXA_ADMINS: [], SECRETS_DELIVERY: 'dm', MONITOR_FAILS: 3, OVPN_DNS: ['1.1.1.1', '9.9.9.9'] });
    expect(parseConfig({ OVPN_DNS: 'none' }).OVPN_DNS).toEqual([]);
  });

  it('refuses an IMPORT_MAX_BYTES the parser could not hold (it takes ~13x the file in memory)', () => {
    expect(parseConfig({ IMPORT_MAX_BYTES: String(64 * 1024 * 1024) }).IMPORT_MAX_BYTES).toBe(67108864);
    expect(() => parseConfig({ IMPORT_MAX_BYTES: String(200 * 1024 * 1024) })).toThrow(/IMPORT_MAX_BYTES.*1024 to 67108864/);
  });

  it('.env.example documents every variable of the schema and parses as it is', () => {
    const env: Record<string, string> = {};
    for (const line of readFileSync('.env.example', 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line);
      if (m) env[m[1]!] = m[2]!;
    }
    expect(Object.keys(env).sort()).toEqual(Object.keys(configSchema.shape).sort());
    expect(() => parseConfig(env)).not.toThrow();
  });

  it.each([
    [{ PING_TIMEOUT_MS: 'abc' }, 'PING_TIMEOUT_MS must be milliseconds from 100 to 120000 (got "abc")'],
    [{ PING_CONCURRENCY: '0' }, 'PING_CONCURRENCY must be a whole number from 1 to 2000 (got "0")'],
    [{ SOCKS_PORT_RANGE: '5-2' }, 'SOCKS_PORT_RANGE must be a port range such as 20000-20999 (got "5-2")'],
    [{ OVPN_DNS: '1.1.1.1,dns.google' }, 'OVPN_DNS must be a comma list of IPv4 resolver addresses, or none (got "1.1.1.1,dns.google")'],
    [{ MONITOR_CRON: 'every minute' }, 'MONITOR_CRON must be a cron expression such as */5 * * * * (got "every minute")'],
    [{ CONNEXA_ADMINS: 'slack:U1,bob' }, 'CONNEXA_ADMINS must be a comma list of slack:U123, discord:123, discord-role:456 or * (got "slack:U1,bob")'],
    [{ PROBE_ALLOW: '127.0.0.0/8,localhost' }, 'PROBE_ALLOW must be a comma list of IP addresses or CIDR ranges such as 127.0.0.0/8 (got "127.0.0.0/8,localhost")'],
    [{ SECRETS_DELIVERY: 'email' }, 'SECRETS_DELIVERY must be dm or thread (got "email")'],
    [{ SLACK_BOT_TOKEN: 'hunter2' }, 'SLACK_BOT_TOKEN must be a bot token starting with xoxb-'],
    [{ SLACK_BOT_TOKEN: 'xoxb-1' }, 'SLACK_BOT_TOKEN needs SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET and SLACK_PORT (HTTP mode)'],
    [{ DISCORD_GUILD_ID: 'guild' }, 'DISCORD_GUILD_ID must be a numeric Discord id (got "guild")'],
    [{ SLACK_API_URL: 'file:///etc' }, 'SLACK_API_URL must be an http(s) URL of the Slack Web API, ending in /api/ (got "file:///etc")'],
    [{ REDIS_URL: 'http://redis.example:6379' }, 'REDIS_URL must be a redis:// or rediss:// URL such as rediss://:PASSWORD@redis.example.net:6380/0'],
    [{ GATEWAY_NAME: 'Frankfurt_1' }, 'GATEWAY_NAME must be lower-case letters, digits and dashes (at most 40), such as fra-1 (got "Frankfurt_1")'],
    [{ GATEWAY_DEAD_AFTER: '30 seconds' }, 'GATEWAY_DEAD_AFTER must be a duration from 3s to 60m, such as 30s, 2m or 30000 (ms) (got "30 seconds")'],
    [{ GATEWAY_DEAD_AFTER: '1s' }, 'GATEWAY_DEAD_AFTER must be a duration from 3s to 60m, such as 30s, 2m or 30000 (ms) (got "1s")'],
  ])('%o stops start-up with one line', (env, message) => {
    expect(() => parseConfig(env)).toThrow(ConfigError);
    expect(() => parseConfig(env)).toThrow(message);
  });

  it('names every bad variable at once, one line each', () => {
    try {
      parseConfig({ PING_TIMEOUT_MS: 'abc', SOCKS_PORT_RANGE: '5-2', SLACK_BOT_TOKEN: 'xoxb-1', SECRETS_DELIVERY: 'email' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message.split('\n')).toEqual([
        'PING_TIMEOUT_MS must be milliseconds from 100 to 120000 (got "abc")',
        'SOCKS_PORT_RANGE must be a port range such as 20000-20999 (got "5-2")',
        'SECRETS_DELIVERY must be dm or thread (got "email")',
        'SLACK_BOT_TOKEN needs SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET and SLACK_PORT (HTTP mode)',
      ]);
    }
  });

  it('reads gateway durations as 30s, 2m or milliseconds (default 30 s), and leaves Redis off unless set', () => {
    expect(parseConfig({}).GATEWAY_DEAD_AFTER).toBe(30_000);
    expect(parseConfig({ GATEWAY_DEAD_AFTER: '45s' }).GATEWAY_DEAD_AFTER).toBe(45_000);
    expect(parseConfig({ GATEWAY_DEAD_AFTER: '2m' }).GATEWAY_DEAD_AFTER).toBe(120_000);
    expect(parseConfig({ GATEWAY_DEAD_AFTER: '30000' }).GATEWAY_DEAD_AFTER).toBe(30_000);
    expect(parseConfig({}).REDIS_URL).toBeUndefined();
    expect(parseConfig({ REDIS_URL: 'rediss://:pw@redis.example.net:6380/0' }).REDIS_URL).toBe('rediss://:pw@redis.example.net:6380/0');
  });

  it('never echoes the Redis password back', () => {
    expect(() => parseConfig({ REDIS_URL: 'ftp://:hunter2-redis@host' })).toThrow(ConfigError);
    try {
      parseConfig({ REDIS_URL: 'ftp://:hunter2-redis@host' });
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2-redis');
    }
  });

  it('never echoes a token or secret back', () => {
    try {
      parseConfig({ SLACK_BOT_TOKEN: 'secret-value-123' });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('secret-value-123');
    }
  });
});
