/**
 * The speed server's guards, on loopback: a token when it is reachable from elsewhere, a
 * connection limit and a per-request byte cap. The speed probe carries the token in SPEED_URL.
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { measureDownload, measureUpload } from '../../src/probes/speed/measure.ts';
import { startSpeedServer, type SpeedServer } from '../../src/probes/speed/server.ts';

const servers: SpeedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function start(o: Parameters<typeof startSpeedServer>[0]): Promise<SpeedServer> {
  const s = await startSpeedServer(o);
  servers.push(s);
  return s;
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers }, (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

const TOKEN = 'Tk-4f9c1e2b7a';
const base = { timeoutMs: 10_000, stallMs: 2_000 };

describe('speed server guards', () => {
  it('refuses to listen on a non-loopback address without a token', async () => {
    await expect(startSpeedServer({ host: '0.0.0.0', port: 0 })).rejects.toThrow(/needs a token/);
  });

  it('with a token: no token or a wrong one gets 401 and no data; ?token=, Bearer and URL userinfo work', async () => {
    const s = await start({ host: '127.0.0.1', token: TOKEN });
    expect(await get(`${s.url}?bytes=1000`)).toMatchObject({ status: 401 });
    expect(await get(`${s.url}?bytes=1000&token=wrong`)).toMatchObject({ status: 401 });
    expect(await get(`${s.url}?bytes=1000`, { authorization: 'Bearer nope' })).toMatchObject({ status: 401 });
    expect((await get(`${s.url}?bytes=1000&token=${TOKEN}`)).body).toHaveLength(1000);
    expect((await get(`${s.url}?bytes=1000`, { authorization: `Bearer ${TOKEN}` })).body).toHaveLength(1000);
    // The speed probe with the token in SPEED_URL, both ways, down and up.
    const down = await measureDownload({ ...base, url: `${s.url}?bytes=2000000&token=${TOKEN}`, bytes: 2_000_000 });
    expect(down.ok).toBe(true);
    const withUser = s.url.replace('http://', `http://speed:${TOKEN}@`);
    expect((await measureDownload({ ...base, url: `${withUser}?bytes=2000000`, bytes: 2_000_000 })).ok).toBe(true);
    expect((await measureUpload({ ...base, url: `${s.url}?token=${TOKEN}`, bytes: 2_000_000 })).ok).toBe(true);
    const refused = await measureDownload({ ...base, url: `${s.url}?bytes=2000000`, bytes: 2_000_000 });
    expect(refused).toMatchObject({ ok: false });
  });

  it('names the caller: the x-connexa-client-ip header on every answer, and ip in the upload answer', async () => {
    const s = await start({ host: '127.0.0.1' });
    const ask = (method: 'GET' | 'POST', localAddress: string) =>
      new Promise<{ header: unknown; body: string }>((resolve, reject) => {
        const req = http.request(`${s.url}?bytes=10`, { method, agent: false, localAddress }, (res) => {
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ header: res.headers['x-connexa-client-ip'], body }));
        });
        req.on('error', reject);
        req.end(method === 'POST' ? 'hello' : undefined);
      });
    expect((await ask('GET', '127.0.0.6')).header).toBe('127.0.0.6');
    const up = await ask('POST', '127.0.0.7');
    expect(up.header).toBe('127.0.0.7');
    expect(JSON.parse(up.body)).toEqual({ bytes: 5, ip: '127.0.0.7' });
  });

  it('caps the bytes of one request, down and up', async () => {
    const s = await start({ host: '127.0.0.1', maxBytes: 1_000_000 });
    expect((await get(`${s.url}?bytes=1000000`)).body).toHaveLength(1_000_000);
    expect(await get(`${s.url}?bytes=1000001`)).toMatchObject({ status: 400 });
    const up = await measureUpload({ ...base, url: s.url, bytes: 2_000_000 });
    expect(up.ok).toBe(false);
  });

  it('drops connections over its limit', async () => {
    const s = await start({ host: '127.0.0.1', maxConnections: 2 });
    const held = await Promise.all([0, 1].map(() => new Promise<net.Socket>((r) => { const c: net.Socket = net.connect(s.port, '127.0.0.1', () => r(c)); })));
    const third = net.connect(s.port, '127.0.0.1');
    third.on('error', () => {});
    const closed = await new Promise<boolean>((r) => {
      third.once('close', () => r(true));
      third.once('data', () => r(false));
      third.write('GET /?bytes=10 HTTP/1.1\r\nhost: x\r\n\r\n');
    });
    expect(closed).toBe(true);
    for (const c of held) c.destroy();
  });
});
