import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeMeasurement, measureDownload, measureUpload } from '../../src/probes/speed/measure.ts';
import { startSpeedServer, type SpeedServer } from '../../src/probes/speed/server.ts';
import { startHttp } from '../kit/http.ts';

let server: SpeedServer;
let stalling: SpeedServer;
const seen: Array<{ method: string; remoteAddress: string; bytes: number }> = [];

beforeAll(async () => {
  // maxBytes: one test asks for 8 GiB and stops by time (the default cap is 1 GiB).
  server = await startSpeedServer({ host: '127.0.0.1', maxBytes: 16 * 1024 ** 3, onRequest: (i) => seen.push(i) });
  stalling = await startSpeedServer({ host: '127.0.0.1', stallAfterBytes: 100_000 });
});
afterAll(async () => {
  await server.close();
  await stalling.close();
});

const base = { timeoutMs: 10_000, stallMs: 2_000 };

describe('measureDownload', () => {
  it('measures from the first chunk: bytes after it over the seconds after it', async () => {
    const r = await measureDownload({ ...base, url: `${server.url}?bytes=20000000`, bytes: 20_000_000 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.totalBytes).toBe(20_000_000);
    expect(r.bytes).toBeLessThan(20_000_000);
    expect(r.bytes).toBeGreaterThan(19_000_000);
    expect(r.mbps).toBeCloseTo((r.bytes * 8) / r.seconds / 1e6, 6);
    expect(r.cutShort).toBe(false);
    expect(describeMeasurement(r)).toMatch(/^\d+\.\d\d Mbit\/s \([\d,]+ bytes in \d+\.\d\d s\)$/);
  });

  it('binds the socket to the given local address (the server sees it)', async () => {
    seen.length = 0;
    const r = await measureDownload({ ...base, url: `${server.url}?bytes=1000000`, bytes: 1_000_000, localAddress: '127.0.0.2' });
    expect(r.ok).toBe(true);
    await new Promise((res) => setTimeout(res, 50));
    expect(seen.map((s) => s.remoteAddress)).toEqual(['127.0.0.2']);
  });

  it('records the address the server saw the traffic come from (its exit address), down and up', async () => {
    const down = await measureDownload({ ...base, url: `${server.url}?bytes=1000000`, bytes: 1_000_000, localAddress: '127.0.0.3' });
    expect(down.ok && down.exitIp).toBe('127.0.0.3');
    const up = await measureUpload({ ...base, url: server.url, bytes: 1_000_000, localAddress: '127.0.0.4' });
    expect(up.ok && up.exitIp).toBe('127.0.0.4');
  });

  it('a server that does not name the caller leaves the exit address unknown (null), never guessed', async () => {
    const plain = await startHttp((_req, res) => res.writeHead(200, { 'content-length': '200000' }).end(Buffer.alloc(200_000)));
    try {
      const r = await measureDownload({ ...base, url: plain.url(), bytes: 200_000 });
      expect(r.ok).toBe(true);
      expect(r.ok && r.exitIp).toBeNull();
    } finally {
      await plain.close();
    }
  });

  it('stops at `bytes` and at maxSeconds, whichever comes first', async () => {
    const byBytes = await measureDownload({ ...base, url: `${server.url}?bytes=100000000`, bytes: 3_000_000 });
    expect(byBytes.ok && byBytes.totalBytes).toBeGreaterThanOrEqual(3_000_000);
    expect(byBytes.ok && byBytes.totalBytes).toBeLessThan(3_000_000 + 70_000);
    const byTime = await measureDownload({ ...base, url: `${server.url}?bytes=${8 * 1024 * 1024 * 1024}`, bytes: 8 * 1024 * 1024 * 1024, maxSeconds: 0.3 });
    expect(byTime.ok).toBe(true);
    if (!byTime.ok) return;
    expect(byTime.cutShort).toBe(true);
    expect(byTime.seconds).toBeGreaterThanOrEqual(0.3);
    expect(byTime.seconds).toBeLessThan(1);
  });

  it('a server that stalls mid-transfer fails as stalled, with how far it got', async () => {
    const r = await measureDownload({ ...base, url: `${stalling.url}?bytes=10000000`, bytes: 10_000_000, stallMs: 300 });
    expect(r).toMatchObject({ ok: false, kind: 'stalled', totalBytes: 100_000, reason: 'no data for 0.3 s after 100,000 bytes' });
  });

  it('the deadline holds even when data trickles', async () => {
    const r = await measureDownload({ ...base, url: `${stalling.url}?bytes=10000000`, bytes: 10_000_000, stallMs: 5_000, timeoutMs: 400 });
    expect(r).toMatchObject({ ok: false, kind: 'timeout', reason: 'not finished within 0.4 s (100,000 bytes moved)' });
  });

  it('a connection cut mid-body fails as reset', async () => {
    const raw = net.createServer((s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 5000000\r\n\r\n');
      s.write(Buffer.alloc(200_000));
      setTimeout(() => s.destroy(), 50);
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const r = await measureDownload({ ...base, url: `http://127.0.0.1:${(raw.address() as AddressInfo).port}/`, bytes: 5_000_000 });
    raw.close();
    expect(r).toMatchObject({ ok: false, kind: 'reset' });
    expect(!r.ok && r.reason).toMatch(/after 200,000 bytes/);
  });

  it('refused, HTTP errors, bad URLs and a body too small to measure each say so', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    expect(await measureDownload({ ...base, url: `http://127.0.0.1:${port}/`, bytes: 1000 })).toMatchObject({ ok: false, kind: 'connect_failed' });
    expect(await measureDownload({ ...base, url: `${server.url}?bytes=-5`, bytes: 1000 })).toMatchObject({ ok: false, kind: 'http_status', reason: 'HTTP 400 from the speed server' });
    expect(await measureDownload({ ...base, url: 'ftp://example.invalid/x', bytes: 1000 })).toMatchObject({ ok: false, kind: 'bad_url' });
    expect(await measureDownload({ ...base, url: `${server.url}?bytes=10`, bytes: 1000, minBytes: 64 * 1024 })).toMatchObject({ ok: false, kind: 'too_short' });
  });

  it('a cancelled measurement stops at once', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    const r = await measureDownload({ ...base, url: `${stalling.url}?bytes=10000000`, bytes: 10_000_000, stallMs: 5_000, signal: ac.signal });
    expect(r).toMatchObject({ ok: false, kind: 'cancelled' });
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('measureUpload', () => {
  it('POSTs exactly `bytes` and times it until the server has read them all', async () => {
    seen.length = 0;
    const r = await measureUpload({ ...base, url: server.url, bytes: 8_000_000, localAddress: '127.0.0.3' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.totalBytes).toBe(8_000_000);
    expect(r.mbps).toBeGreaterThan(0);
    expect(seen).toEqual([{ method: 'POST', remoteAddress: '127.0.0.3', bytes: 8_000_000 }]);
  });

  it('a server that never answers the upload fails as stalled or timeout, not as a figure', async () => {
    const deaf = await startHttp(() => {
      // reads nothing, answers nothing
    });
    const r = await measureUpload({ url: deaf.url(), bytes: 50_000_000, timeoutMs: 3000, stallMs: 500 });
    await deaf.close();
    expect(r.ok).toBe(false);
    expect(['stalled', 'timeout']).toContain(!r.ok && r.kind);
  });
});
