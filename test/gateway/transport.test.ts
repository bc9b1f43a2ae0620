import { describe, expect, it } from 'vitest';
import { RedisUrlError, commandQueue, connectionOptions, parseRedisUrl, redisLabel, speedQueue } from '../../src/gateway/remote/transport.ts';

describe('REDIS_URL and queue names', () => {
  it('reads redis:// and rediss:// with user, password and database; the label holds neither user nor password', () => {
    const t = parseRedisUrl('rediss://connexa:s3cr%40t-pw@redis.example.net:6380/2');
    expect(t).toEqual({ host: 'redis.example.net', port: 6380, username: 'connexa', password: 's3cr@t-pw', db: 2, tls: true });
    expect(redisLabel(t)).toBe('rediss://redis.example.net:6380/2');
    expect(connectionOptions(t)).toMatchObject({ host: 'redis.example.net', port: 6380, username: 'connexa', password: 's3cr@t-pw', db: 2, tls: { servername: 'redis.example.net' }, maxRetriesPerRequest: null });
    const plain = parseRedisUrl('redis://:pw@[::1]');
    expect(plain).toEqual({ host: '::1', port: 6379, password: 'pw', db: 0, tls: false });
    expect(redisLabel(plain)).toBe('redis://[::1]:6379/0');
    expect(connectionOptions(plain)).not.toHaveProperty('tls');
  });

  it('refuses other URLs without repeating them', () => {
    for (const bad of ['http://:hunter2pw@host', 'redis://:hunter2pw@host/99', 'not a url hunter2pw']) {
      expect(() => parseRedisUrl(bad)).toThrow(RedisUrlError);
      try {
        parseRedisUrl(bad);
      } catch (err) {
        expect((err as Error).message).not.toContain('hunter2pw');
      }
    }
  });

  it('names one command queue and one speed queue per gateway, without the key separator', () => {
    expect(commandQueue('fra-1')).toBe('gw-fra-1');
    expect(speedQueue('fra-1')).toBe('gw-fra-1-speed');
    expect(commandQueue('fra-1')).not.toContain(':');
  });
});
