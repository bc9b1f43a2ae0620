/**
 * The SOCKS5 proxy against a real client (curl 7.88, --socks5-hostname) and a bare protocol client,
 * on loopback. Egress is 127.0.0.2 so "the server saw the proxy's bound address" is observable.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { anyDestination, isSpecialPurpose, publicDestinations } from '../../src/services/socks/destinations.ts';
import { buildReply, parseAuth, parseGreeting, parseRequest, Reply } from '../../src/services/socks/protocol.ts';
import { ConnectionBudget, DEFAULT_SOCKS_LIMITS, SocksProxy, type SocksProxyOptions } from '../../src/services/socks/server.ts';
import { patternChunk } from '../kit/http.ts';
import { curlViaSocks, RawSocks, whoAmIServer, type WhoAmI } from './helpers.ts';

const CREDS = { login: 'cxalice', password: 'S3cretS3cretS3cretS3cret' };
const lookup = async (name: string) => {
  if (name === 'web.test') return '127.0.0.1';
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
};

let web: WhoAmI;
const proxies: SocksProxy[] = [];
let nextPort = 24_000 + (process.pid % 500) * 8;

async function proxy(o: Partial<SocksProxyOptions> = {}): Promise<SocksProxy> {
  for (;;) {
    const p = new SocksProxy({ bind: '127.0.0.1', port: nextPort++, credentials: CREDS, egress: () => '127.0.0.2', lookup, allowDestination: anyDestination, ...o });
    try {
      await p.listen();
      proxies.push(p);
      return p;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
}

beforeAll(async () => {
  web = await whoAmIServer('127.0.0.1');
});
afterAll(async () => {
  await web.close();
});
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

describe('protocol parsers', () => {
  it('read messages split at any byte and refuse garbage', () => {
    const greeting = Buffer.from([5, 2, 0, 2]);
    for (let i = 0; i < greeting.length; i++) expect(parseGreeting(greeting.subarray(0, i)).status).toBe('more');
    expect(parseGreeting(greeting)).toEqual({ status: 'ok', value: { methods: [0, 2] }, consumed: 4 });
    expect(parseGreeting(Buffer.from([4, 1, 0])).status).toBe('invalid');
    expect(parseGreeting(Buffer.from([5, 0])).status).toBe('invalid');

    const auth = Buffer.from([1, 2, 0x61, 0x62, 3, 0x78, 0x79, 0x7a]);
    for (let i = 0; i < auth.length; i++) expect(parseAuth(auth.subarray(0, i)).status).toBe('more');
    const a = parseAuth(auth);
    expect(a.status === 'ok' && [a.value.username.toString(), a.value.password.toString(), a.consumed]).toEqual(['ab', 'xyz', 8]);

    const domain = Buffer.concat([Buffer.from([5, 1, 0, 3, 8]), Buffer.from('web.test'), Buffer.from([0x1f, 0x90]), Buffer.from('GET')]);
    const r = parseRequest(domain);
    expect(r).toEqual({ status: 'ok', value: { command: 1, addressType: 3, host: 'web.test', port: 8080 }, consumed: domain.length - 3 });
    expect(parseRequest(Buffer.from([5, 1, 0, 1, 10, 0, 0, 1, 0]))).toEqual({ status: 'more' });
    expect(parseRequest(Buffer.from([5, 1, 0, 1, 10, 0, 0, 1, 0, 80]))).toMatchObject({ status: 'ok', value: { host: '10.0.0.1', port: 80 } });
    const v6 = parseRequest(Buffer.from([5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80]));
    expect(v6).toMatchObject({ status: 'ok', value: { addressType: 4, host: '2001:db8:0:0:0:0:0:1' } });
    expect(parseRequest(Buffer.from([5, 1, 0, 3, 0, 0, 80])).status).toBe('invalid');
    expect([...buildReply(Reply.SUCCEEDED, '10.1.2.3', 443)]).toEqual([5, 0, 0, 1, 10, 1, 2, 3, 1, 187]);
  });

  it('the default destination policy refuses this host and special-purpose ranges', () => {
    const policy = publicDestinations(() => new Set(['192.0.2.10']));
    for (const ip of ['127.0.0.1', '127.9.9.9', '0.0.0.0', '169.254.169.254', '224.0.0.1', '255.255.255.255', '192.0.2.10']) expect(policy(ip), ip).toBe(false);
    for (const ip of ['203.0.113.5', '10.1.2.3', '8.8.8.8', '192.0.2.11']) expect(policy(ip), ip).toBe(true);
    expect(isSpecialPurpose('128.0.0.1')).toBe(false);
  });
});

describe('SocksProxy with curl --socks5-hostname', () => {
  it('relays with the right credentials; the server sees the egress address; names resolve at the proxy', async () => {
    const p = await proxy();
    const byName = await curlViaSocks({ proxyHost: '127.0.0.1', proxyPort: p.port, creds: CREDS, url: web.url('web.test') });
    expect(byName.stderr).toBe('');
    expect(byName.code).toBe(0);
    expect(byName.stdout).toBe('you are 127.0.0.2\n');
    const byIp = await curlViaSocks({ proxyHost: '127.0.0.1', proxyPort: p.port, creds: CREDS, url: web.url('127.0.0.1') });
    expect(byIp.stdout).toBe('you are 127.0.0.2\n');
    expect(p.stats).toMatchObject({ accepted: 2, connected: 2, authFailed: 0 });
  });

  it('refuses a wrong password, a wrong login and no credentials: curl exit 97', async () => {
    const p = await proxy();
    for (const creds of [{ ...CREDS, password: `${CREDS.password}x` }, { ...CREDS, login: 'cxbob' }, { login: CREDS.login, password: '' }, null]) {
      const r = await curlViaSocks({ proxyHost: '127.0.0.1', proxyPort: p.port, creds, url: web.url() });
      expect(r.code, JSON.stringify(r)).toBe(97);
    }
    expect(p.stats.authFailed).toBe(4);
    expect(p.stats.connected).toBe(0);
  });

  it('refuses destinations on this host under the default policy (exit 97, nothing connected)', async () => {
    const p = await proxy({ allowDestination: undefined });
    const seen = web.seen.length;
    const r = await curlViaSocks({ proxyHost: '127.0.0.1', proxyPort: p.port, creds: CREDS, url: web.url() });
    expect(r.code).toBe(97);
    expect(web.seen.length).toBe(seen);
  });

  it('answers "network unreachable" while the tunnel is down and never connects unbound', async () => {
    let egress: string | null = null;
    const p = await proxy({ egress: () => egress });
    const seen = web.seen.length;
    const down = await curlViaSocks({ proxyHost: '127.0.0.1', proxyPort: p.port, creds: CREDS, url: web.url() });
    expect(down.code).toBe(97);
    expect(web.seen.length).toBe(seen);
    // The tunnel comes back with a new address: used from the next connection on.
    egress = '127.0.0.3';
    const up = await curlViaSocks({ proxyHost: '127.0.0.1', proxyPort: p.port, creds: CREDS, url: web.url() });
    expect(up.stdout).toBe('you are 127.0.0.3\n');
  });

  it('unknown names and refused ports fail cleanly (exit 97)', async () => {
    const p = await proxy();
    expect((await curlViaSocks({ proxyHost: '127.0.0.1', proxyPort: p.port, creds: CREDS, url: 'http://nowhere.test/' })).code).toBe(97);
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    expect((await curlViaSocks({ proxyHost: '127.0.0.1', proxyPort: p.port, creds: CREDS, url: `http://127.0.0.1:${port}/` })).code).toBe(97);
    expect(p.stats.connectFailed).toBe(2);
  });

  it('moves 32 MiB intact (curl counts the bytes; the bare client checks a digest)', async () => {
    const p = await proxy();
    const size = 32 * 1024 * 1024;
    const r = await curlViaSocks({ proxyHost: '127.0.0.1', proxyPort: p.port, creds: CREDS, url: `${web.url()}bytes/${size}`, extra: ['-o', '/dev/null', '-w', '%{size_download}'], timeoutS: 60 });
    expect(r.code).toBe(0);
    expect(Number(r.stdout)).toBe(size);
    const expected = createHash('sha256');
    const chunk = patternChunk();
    for (let left = size; left > 0; left -= chunk.length) expected.update(left >= chunk.length ? chunk : chunk.subarray(0, left));
    const raw = await fetchRaw(p.port, size);
    expect(raw.length).toBe(size);
    expect(createHash('sha256').update(raw).digest('hex')).toBe(expected.digest('hex'));
  });
});

/** GET /bytes/N through the proxy with the bare client; returns the body. */
async function fetchRaw(proxyPort: number, size: number): Promise<Buffer> {
  const c = await RawSocks.connect(proxyPort);
  expect(await c.login(CREDS.login, CREDS.password)).toBe(0);
  expect(await c.connectIPv4('127.0.0.1', web.port)).toBe(0);
  c.send(Buffer.from(`GET /bytes/${size} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => {
    c.socket.removeAllListeners('data');
    c.socket.on('data', (d: Buffer) => chunks.push(d));
    c.socket.on('close', () => resolve());
  });
  const all = Buffer.concat(chunks);
  return all.subarray(all.indexOf('\r\n\r\n') + 4);
}

describe('SocksProxy protocol edges and limits', () => {
  it('refuses BIND/UDP ASSOCIATE (7) and IPv6 (8) after authentication', async () => {
    const p = await proxy();
    const bind = await RawSocks.connect(p.port);
    expect(await bind.login(CREDS.login, CREDS.password)).toBe(0);
    bind.send([5, 2, 0, 1, 127, 0, 0, 1, 0, 80]);
    expect((await bind.read(10))[1]).toBe(Reply.COMMAND_NOT_SUPPORTED);
    expect(await bind.waitClosed()).toBe(true);
    const v6 = await RawSocks.connect(p.port);
    expect(await v6.login(CREDS.login, CREDS.password)).toBe(0);
    v6.send([5, 1, 0, 4, ...new Array(15).fill(0), 1, 0, 80]);
    expect((await v6.read(10))[1]).toBe(Reply.ADDRESS_TYPE_NOT_SUPPORTED);
  });

  it('forwards bytes sent right behind the request, and keeps a half-closed client served', async () => {
    // A server that answers only once the client has finished sending (FIN).
    const echo = net.createServer({ allowHalfOpen: true }, (s) => {
      const got: Buffer[] = [];
      s.on('data', (d) => got.push(d));
      s.on('end', () => s.end(`got ${Buffer.concat(got).toString()}`));
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const port = (echo.address() as net.AddressInfo).port;
    const p = await proxy();
    const c = await RawSocks.connect(p.port);
    expect(await c.login(CREDS.login, CREDS.password)).toBe(0);
    const req = Buffer.alloc(10);
    req.set([5, 1, 0, 1, 127, 0, 0, 1], 0);
    req.writeUInt16BE(port, 8);
    c.send(Buffer.concat([req, Buffer.from('early')])); // optimistic data in the same segment
    expect((await c.read(10))[1]).toBe(0);
    c.send(Buffer.from('+late'));
    c.socket.end();
    expect((await c.read(14)).toString()).toBe('got early+late');
    await new Promise<void>((r) => echo.close(() => r()));
  });

  it('closes a silent relay after the idle timeout and a silent handshake after its deadline', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    const p = await proxy({ limits: { idleTimeoutMs: 300, handshakeTimeoutMs: 300 } });
    const c = await RawSocks.connect(p.port);
    expect(await c.login(CREDS.login, CREDS.password)).toBe(0);
    expect(await c.connectIPv4('127.0.0.1', port)).toBe(0);
    const t0 = Date.now();
    expect(await c.waitClosed(3000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    const mute = await RawSocks.connect(p.port);
    expect(await mute.waitClosed(3000)).toBe(true);
    silent.close();
  });

  it('drops connections over the per-proxy limit and over the shared budget', async () => {
    const p = await proxy({ limits: { maxConnections: 2 } });
    const a = await RawSocks.connect(p.port);
    const b = await RawSocks.connect(p.port);
    await new Promise((r) => setTimeout(r, 50));
    const c = await RawSocks.connect(p.port);
    expect(await c.waitClosed(2000)).toBe(true);
    expect(p.stats.refused).toBe(1);
    a.close();
    b.close();

    const budget = new ConnectionBudget(1);
    const q1 = await proxy({ budget });
    const q2 = await proxy({ budget });
    const x = await RawSocks.connect(q1.port);
    await new Promise((r) => setTimeout(r, 50));
    const y = await RawSocks.connect(q2.port);
    expect(await y.waitClosed(2000)).toBe(true);
    x.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(budget.active).toBe(0);
    const z = await RawSocks.connect(q2.port);
    expect(await z.login(CREDS.login, CREDS.password)).toBe(0);
    z.close();
  });

  it('close() cuts live sessions and frees the port', async () => {
    const p = await proxy();
    const c = await RawSocks.connect(p.port);
    expect(await c.login(CREDS.login, CREDS.password)).toBe(0);
    expect(await c.connectIPv4('127.0.0.1', web.port)).toBe(0);
    await p.close();
    expect(await c.waitClosed(2000)).toBe(true);
    const again = new SocksProxy({ bind: '127.0.0.1', port: p.port, credentials: CREDS, egress: () => '127.0.0.2' });
    await again.listen();
    await again.close();
  });
});

describe('SocksProxy host names', () => {
  /** CONNECT by name (ATYP 3); returns the reply code. */
  async function connectName(c: RawSocks, name: string, port: number): Promise<number> {
    const n = Buffer.from(name);
    const b = Buffer.concat([Buffer.from([5, 1, 0, 3, n.length]), n, Buffer.from([port >> 8, port & 0xff])]);
    c.send(b);
    return (await c.read(10))[1]!;
  }

  it('with resolveNames false a host name is refused without any lookup; addresses still work', async () => {
    const asked: string[] = [];
    const p = await proxy({ resolveNames: false, lookup: async (name) => (asked.push(name), '127.0.0.1') });
    const c = await RawSocks.connect(p.port);
    expect(await c.login(CREDS.login, CREDS.password)).toBe(0);
    expect(await connectName(c, 'web.test', web.port)).toBe(Reply.ADDRESS_TYPE_NOT_SUPPORTED);
    expect(asked).toEqual([]);
    const d = await RawSocks.connect(p.port);
    expect(await d.login(CREDS.login, CREDS.password)).toBe(0);
    expect(await d.connectIPv4('127.0.0.1', web.port)).toBe(0);
    d.close();
    // The default resolves names, with the lookup it is given (never a real DNS query here).
    const q = await proxy({ lookup: async (name) => (asked.push(name), '127.0.0.1') });
    const e = await RawSocks.connect(q.port);
    expect(await e.login(CREDS.login, CREDS.password)).toBe(0);
    expect(await connectName(e, 'web.test', web.port)).toBe(0);
    expect(asked).toEqual(['web.test']);
    e.close();
  });
});

describe('SocksProxy handshake deadline and unauthenticated connections', () => {
  const until = async (cond: () => boolean): Promise<void> => {
    while (!cond()) await new Promise((r) => setTimeout(r, 10));
  };

  it('a client trickling one byte at a time is cut at the handshake deadline, not kept alive', async () => {
    const p = await proxy({ limits: { handshakeTimeoutMs: 400 } });
    const c = await RawSocks.connect(p.port);
    // A greeting offering 255 methods: 257 bytes, one every 50 ms, each well inside 400 ms of the last.
    const greeting = [5, 255, ...Array.from({ length: 255 }, () => 2)];
    let sent = 0;
    while (!c.closed && sent < greeting.length) {
      c.send([greeting[sent++]!]);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(c.closed).toBe(true);
    expect(sent).toBeLessThan(greeting.length);
  });

  it('the deadline covers authentication and the request, and ends once the request is in', async () => {
    const p = await proxy({ limits: { handshakeTimeoutMs: 500, idleTimeoutMs: 60_000 } });
    const c = await RawSocks.connect(p.port);
    expect(await c.login(CREDS.login, CREDS.password)).toBe(0);
    // Logged in, then silent: still cut by the same deadline.
    expect(await c.waitClosed(5000)).toBe(true);
    // A full handshake inside the deadline leaves a relay that outlives it.
    const d = await RawSocks.connect(p.port);
    expect(await d.login(CREDS.login, CREDS.password)).toBe(0);
    expect(await d.connectIPv4('127.0.0.1', web.port)).toBe(0);
    await new Promise((r) => setTimeout(r, 800));
    expect(d.closed).toBe(false);
    d.close();
  });

  it('one address holds a few unauthenticated connections: a newer one cuts its oldest, others untouched', async () => {
    const p = await proxy({ limits: { maxUnauthenticatedPerAddress: 3, handshakeTimeoutMs: 30_000 } });
    const other = await RawSocks.connect(p.port, '127.0.0.1', '127.0.0.4');
    const idle: RawSocks[] = [];
    for (let i = 0; i < 6; i++) idle.push(await RawSocks.connect(p.port, '127.0.0.1', '127.0.0.3'));
    await until(() => p.stats.evicted === 3);
    for (const c of idle.slice(0, 3)) expect(await c.waitClosed(3000)).toBe(true);
    expect(idle.slice(3).map((c) => c.closed)).toEqual([false, false, false]);
    // The other address kept its connection and logs in on it.
    expect(await other.login(CREDS.login, CREDS.password)).toBe(0);
    for (const c of idle) c.close();
    other.close();
  });

  it('260 idle unauthenticated connections do not lock out a client with the right credentials', async () => {
    // Default limits (256 connections per proxy) but for a long handshake deadline.
    const p = await proxy({ limits: { handshakeTimeoutMs: 60_000 } });
    const idle: RawSocks[] = [];
    for (let i = 0; i < 260; i++) idle.push(await RawSocks.connect(p.port, '127.0.0.1', `127.0.1.${10 + (i % 40)}`));
    // Before the fix the 257th and later were dropped at accept, and so was the real client.
    await until(() => p.stats.accepted + p.stats.refused === 260);
    expect(p.stats.evicted).toBe(260 - DEFAULT_SOCKS_LIMITS.maxUnauthenticated);
    const c = await RawSocks.connect(p.port);
    expect(await c.login(CREDS.login, CREDS.password)).toBe(0);
    expect(await c.connectIPv4('127.0.0.1', web.port)).toBe(0);
    c.close();
    for (const s of idle) s.close();
  });
});

describe('SocksProxy relaying over time', () => {
  it('a slow, steady transfer longer than the idle timeout is not cut; a slow reader holds the destination (backpressure)', async () => {
    // 12 ticks 100 ms apart: 1.2 s in all, far past a 300 ms idle timeout, never idle that long.
    const ticker = net.createServer((s) => {
      let n = 0;
      const t = setInterval(() => {
        s.write(`tick ${n++}\n`);
        if (n === 12) {
          clearInterval(t);
          s.end();
        }
      }, 100);
      s.on('error', () => clearInterval(t));
    });
    await new Promise<void>((r) => ticker.listen(0, '127.0.0.1', r));
    const tickPort = (ticker.address() as net.AddressInfo).port;
    const p = await proxy({ limits: { idleTimeoutMs: 300 } });
    const c = await RawSocks.connect(p.port);
    expect(await c.login(CREDS.login, CREDS.password)).toBe(0);
    expect(await c.connectIPv4('127.0.0.1', tickPort)).toBe(0);
    const text = (await c.read('tick 0\n'.length * 10 + 'tick 10\ntick 11\n'.length, 5000)).toString();
    expect(text.trim().split('\n')).toHaveLength(12);
    expect(await c.waitClosed(2000)).toBe(true);
    ticker.close();

    // A destination that sends 64 MiB as fast as it can, to a client that does not read.
    let written = 0;
    const firehose = net.createServer((s) => {
      const chunk = Buffer.alloc(1024 * 1024);
      const pump = () => {
        while (written < 64 * 1024 * 1024) {
          written += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
      s.on('error', () => {});
    });
    await new Promise<void>((r) => firehose.listen(0, '127.0.0.1', r));
    const firePort = (firehose.address() as net.AddressInfo).port;
    const q = await RawSocks.connect(p.port);
    expect(await q.login(CREDS.login, CREDS.password)).toBe(0);
    q.socket.pause();
    q.send(Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, firePort >> 8, firePort & 255]));
    await new Promise((r) => setTimeout(r, 250));
    // Kernel buffers (both sockets) hold some megabytes; the proxy must not have swallowed all 64.
    expect(written).toBeLessThan(48 * 1024 * 1024);
    q.close();
    firehose.close();
  });
});
