// The kit's own promises: what the tests built on it rely on.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ADMIN, testBot } from './app.ts';
import { bytesAsked, patternChunk, sendBytes, startHttp } from './http.ts';
import { useSimFleet } from './sim-fleet.ts';
import { useTempDir } from './temp-dir.ts';
import { eventually } from './wait.ts';

describe('testBot', () => {
  it('configures the test roles on a temp DATA_DIR; a failed start closes the bot and removes the directory', async () => {
    const bot = await testBot({ PING_RETRIES: '0' });
    expect(bot.config.dataDir.startsWith(bot.dir)).toBe(true);
    expect(bot.config.CONNEXA_ADMINS).toEqual([`slack:${ADMIN.id}`]);
    expect(bot.config.PING_RETRIES).toBe(0);
    await expect(bot.boot(() => Promise.reject(new Error('adapter refused')))).rejects.toThrow('adapter refused');
    expect(existsSync(bot.dir)).toBe(false);
  });
});

describe('eventually', () => {
  it('returns once the check passes, and fails with the check\'s own last error after the timeout', async () => {
    let n = 0;
    await eventually(() => expect(++n).toBeGreaterThanOrEqual(3));
    expect(n).toBe(3);
    await expect(eventually(() => expect('never').toBe('done'), 100)).rejects.toThrow(/expected 'never' to be 'done'/);
  });
});

describe('startHttp and sendBytes', () => {
  it('serves exactly the bytes asked, in the fixed pattern', async () => {
    const server = await startHttp((req, res) => sendBytes(res, bytesAsked(req) ?? 0));
    try {
      const size = 3 * 64 * 1024 + 5;
      const body = Buffer.from(await (await fetch(server.url(`/bytes/${size}`))).arrayBuffer());
      expect(body.length).toBe(size);
      const chunk = patternChunk();
      expect(body.subarray(0, chunk.length).equals(chunk)).toBe(true);
      expect(body.subarray(3 * chunk.length).equals(chunk.subarray(0, 5))).toBe(true);
      expect((await fetch(server.url('/other'))).headers.get('content-length')).toBe('0');
    } finally {
      await server.close();
    }
  });
});

describe('useTempDir', () => {
  const tmp = useTempDir('cnx-kit-');
  let previous = '';
  it('gives each test a directory of its own', () => {
    expect(existsSync(tmp.path)).toBe(true);
    previous = tmp.path;
  });
  it('and removes it after the test', () => {
    expect(tmp.path).not.toBe(previous);
    expect(existsSync(previous)).toBe(false);
  });
});

describe('useSimFleet', () => {
  const fleet = useSimFleet({ count: 3, seed: 1, mix: { good: 1 } });
  it('reads through to the fleet running for the block', () => {
    expect(fleet.servers.map((s) => s.behaviour)).toEqual(['good', 'good', 'good']);
    expect(fleet.importText().trim().split('\n').filter((l) => !l.startsWith('#'))).toHaveLength(3);
  });
});
