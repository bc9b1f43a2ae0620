/**
 * probePptp against real sockets on loopback (no mocks). Hand-written servers listen on
 * 127.0.0.1 with an ephemeral port; the behaviour fleet takes a loopback block of its own
 * (test/kit/loopback.ts) so it never meets another test's fleet.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSccrp, SCCRQ_LENGTH } from '../../src/probes/pptp/codec.ts';
import { probePolicy } from '../../src/probes/pptp/policy.ts';
import { probePptp, toStoredPptp, type PptpProbeResult } from '../../src/probes/pptp/probe.ts';
import { pptpResultSchema } from '../../src/fleet/node.ts';
import type { SimBehaviour } from '../sim/fleet.ts';
import { useSimFleet } from '../kit/sim-fleet.ts';

/** The servers here listen on loopback, which the probe refuses unless told (PROBE_ALLOW). */
const LOOPBACK = probePolicy('127.0.0.0/8');

interface TestServer {
  port: number;
  connections: number;
  /** Resolves when a connection closes on the server side; with how many bytes the server wrote. */
  closed: Array<Promise<void>>;
  close(): Promise<void>;
}

/** A one-off server on 127.0.0.1:<ephemeral>; `onConnection` gets each socket and its index. */
async function serve(onConnection: (socket: net.Socket, index: number) => void): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const state: TestServer = {
    port: 0,
    connections: 0,
    closed: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => {});
    sockets.add(socket);
    state.closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
    socket.once('close', () => sockets.delete(socket));
    onConnection(socket, state.connections++);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

/** Waits for the client's 156-byte request before calling `then`. */
function afterRequest(socket: net.Socket, then: () => void): void {
  let got = 0;
  const onData = (chunk: Buffer): void => {
    got += chunk.length;
    if (got >= SCCRQ_LENGTH) {
      socket.removeListener('data', onData);
      socket.resume();
      then();
    }
  };
  socket.on('data', onData);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const local = (port: number) => ({ host: '127.0.0.1', port });

describe('probePptp against each simulated behaviour', () => {
  const fleet = useSimFleet({ count: 6, seed: 7, mix: { good: 1, slow: 1, silent: 1, rejecting: 1, garbage: 1, closed: 1 }, slowDelayMs: 150 });
  const results = new Map<SimBehaviour, PptpProbeResult>();
  const server = (b: SimBehaviour) => fleet.servers.find((s) => s.behaviour === b)!;

  beforeAll(async () => {
    await Promise.all(
      fleet.servers.map(async (s) => {
        results.set(s.behaviour, await probePptp({ host: s.ip, port: s.port }, { policy: LOOPBACK, timeoutMs: 600, retries: 1 }));
      }),
    );
  });

  it('good: ok with the server\'s own fields and a latency', () => {
    const s = server('good');
    const r = results.get('good')!;
    expect(r).toMatchObject({
      ok: true,
      outcome: 'ok',
      reason: null,
      vendor: s.vendor,
      hostname: s.hostname,
      firmware: s.firmware,
      protocolVersion: 0x0100,
      resultCode: 1,
      errorCode: 0,
      maxChannels: s.maxChannels,
      framing: 3,
      bearer: 3,
      attempts: 1,
    });
    expect(r.latencyMs).toBeGreaterThan(0);
    expect(r.latencyMs).toBeLessThan(600);
  });

  it('slow: ok, and the latency includes the delay', () => {
    const r = results.get('slow')!;
    expect(r.outcome).toBe('ok');
    expect(r.latencyMs).toBeGreaterThanOrEqual(140);
  });

  it('silent: timeout_reply after every attempt', () => {
    const r = results.get('silent')!;
    expect(r).toMatchObject({ ok: false, outcome: 'timeout_reply', attempts: 2, latencyMs: null });
    expect(r.reason).toBe('accepted the connection but sent no Start-Control-Connection-Reply within 600 ms (after 2 attempts)');
  });

  it('rejecting: rejected, with the decoded reply and the result code explained', () => {
    const s = server('rejecting');
    const r = results.get('rejecting')!;
    expect(r).toMatchObject({ ok: false, outcome: 'rejected', resultCode: s.resultCode, errorCode: s.errorCode, vendor: s.vendor, attempts: 1 });
    expect(r.reason).toMatch(s.resultCode === 4 ? /result code 4 \(requester is not authorized/ : /result code 2 \(general error\), error code 4 \(no resource/);
    expect(r.latencyMs).not.toBeNull();
  });

  it('garbage: not_pptp, saying what came back', () => {
    const s = server('garbage');
    const r = results.get('garbage')!;
    expect(r.outcome).toBe('not_pptp');
    expect(r.attempts).toBe(1);
    expect(r.reason).toMatch(s.garbage === 'ssh' ? /^not PPTP: magic cookie .*starts like an SSH banner$/ : /^not PPTP: magic cookie .*starts like HTTP$/);
  });

  it('closed: refused, not retried', () => {
    const s = server('closed');
    const r = results.get('closed')!;
    expect(r).toMatchObject({ outcome: 'refused', attempts: 1 });
    expect(r.reason).toBe(`connection refused: nothing listens on ${s.ip}:${s.port} (or a firewall rejects it)`);
  });

  it('maps to the stored node record', () => {
    const now = '2025-01-02T03:04:05.000Z';
    const ok = toStoredPptp(results.get('good')!, now);
    expect(pptpResultSchema.parse(ok)).toEqual(ok);
    expect(ok).toMatchObject({ ok: true, result: 'ok', error: null, checkedAt: now, vendor: server('good').vendor });
    const bad = toStoredPptp(results.get('closed')!, new Date(now));
    expect(bad).toMatchObject({ ok: false, result: 'refused', latencyMs: null, vendor: null, checkedAt: now });
    expect(bad.error).toMatch(/connection refused/);
  });
});

describe('probePptp against odd servers', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });
  const track = async (s: Promise<TestServer>): Promise<TestServer> => {
    const t = await s;
    servers.push(t);
    return t;
  };

  it('a reply shorter than 156 bytes, then close: closed, saying how much came', async () => {
    const srv = await track(serve((socket) => afterRequest(socket, () => socket.end(encodeSccrp().subarray(0, 40)))));
    const r = await probePptp(local(srv.port), { policy: LOOPBACK, timeoutMs: 1000, retries: 2, retryDelayMs: 10 });
    expect(r).toMatchObject({ outcome: 'closed', attempts: 3, ok: false });
    expect(r.reason).toContain('the server closed the connection after sending 40 of the 156 bytes of a Start-Control-Connection-Reply');
  });

  it('a reply split across many TCP segments (one byte every 2 ms)', async () => {
    const reply = encodeSccrp({ vendor: 'slowpoke', hostname: 'drip', firmware: 3 });
    const srv = await track(
      serve((socket) =>
        afterRequest(socket, () => {
          void (async () => {
            for (let i = 0; i < reply.length && !socket.destroyed; i++) {
              socket.write(reply.subarray(i, i + 1));
              await sleep(2);
            }
          })();
        }),
      ),
    );
    const r = await probePptp(local(srv.port), { policy: LOOPBACK, timeoutMs: 5000, retries: 0 });
    expect(r).toMatchObject({ outcome: 'ok', vendor: 'slowpoke', hostname: 'drip', firmware: 3 });
    expect(r.latencyMs).toBeGreaterThan(150 * 1); // at least ~155 segments x 1 ms
  });

  it('a wrong magic cookie: not_pptp with the cookie it got', async () => {
    const bad = encodeSccrp();
    bad.writeUInt32BE(0xcafebabe, 4);
    const srv = await track(serve((socket) => afterRequest(socket, () => socket.write(bad))));
    const r = await probePptp(local(srv.port), { policy: LOOPBACK, timeoutMs: 1000, retries: 1 });
    expect(r.outcome).toBe('not_pptp');
    expect(r.attempts).toBe(1);
    expect(r.reason).toMatch(/^not PPTP: magic cookie 0xCAFEBABE \(expected 0x1A2B3C4D\)/);
  });

  it('an HTTP server: not_pptp, looks like HTTP', async () => {
    const srv = await track(serve((socket) => socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'))));
    const r = await probePptp(local(srv.port), { policy: LOOPBACK, timeoutMs: 1000, retries: 1 });
    expect(r.outcome).toBe('not_pptp');
    expect(r.reason).toMatch(/; it sent \d+ bytes, starts like HTTP$/);
  });

  it('an endless stream of bytes: decided at once, connection closed, nothing buffered', async () => {
    let written = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    const srv = await track(
      serve((socket) => {
        const pump = (): void => {
          while (!socket.destroyed && socket.write(chunk)) written += chunk.length;
          if (!socket.destroyed) socket.once('drain', pump);
        };
        pump();
      }),
    );
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    const r = await probePptp(local(srv.port), { policy: LOOPBACK, timeoutMs: 3000, retries: 1 });
    expect(r.outcome).toBe('not_pptp');
    expect(r.reason).toMatch(/^not PPTP: magic cookie 0x5A5A5A5A/);
    expect(performance.now() - t0).toBeLessThan(1000);
    await Promise.race([srv.closed[0], sleep(2000).then(() => Promise.reject(new Error('the prober kept the endless stream open')))]);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('an endless stream that starts like a valid reply: ok at byte 156, then closed', async () => {
    const srv = await track(
      serve((socket) =>
        afterRequest(socket, () => {
          socket.write(encodeSccrp({ vendor: 'chatty' }));
          const filler = Buffer.alloc(64 * 1024, 0x41);
          const pump = (): void => {
            while (!socket.destroyed && socket.write(filler)) {
              /* keep writing */
            }
            if (!socket.destroyed) socket.once('drain', pump);
          };
          pump();
        }),
      ),
    );
    const r = await probePptp(local(srv.port), { policy: LOOPBACK, timeoutMs: 3000, retries: 0, stopGraceMs: 100 });
    expect(r).toMatchObject({ outcome: 'ok', vendor: 'chatty' });
    await Promise.race([srv.closed[0], sleep(2000).then(() => Promise.reject(new Error('socket not closed after the grace')))]);
  });

  it('accept and close at once: closed, retried (a busy pptpd does this), then reported', async () => {
    const srv = await track(serve((socket) => socket.end()));
    const r = await probePptp(local(srv.port), { policy: LOOPBACK, timeoutMs: 1000, retries: 2, retryDelayMs: 10 });
    expect(r).toMatchObject({ outcome: 'closed', attempts: 3 });
    expect(r.reason).toContain('the server accepted the connection and closed it without replying');
    const once = await probePptp(local(srv.port), { policy: LOOPBACK, timeoutMs: 1000, retries: 2, retryOn: ['timeout_connect', 'timeout_reply', 'reset'] });
    expect(once).toMatchObject({ outcome: 'closed', attempts: 1 });
  });

  it('accept and reset: reset, retried', async () => {
    const srv = await track(serve((socket) => socket.resetAndDestroy()));
    const r = await probePptp(local(srv.port), { policy: LOOPBACK, timeoutMs: 1000, retries: 2, retryDelayMs: 10 });
    expect(r).toMatchObject({ outcome: 'reset', attempts: 3 });
    expect(r.reason).toMatch(/reset .*\(ECONNRESET\) \(after 3 attempts\)$/);
    expect(srv.connections).toBe(3);
  });

  it('host names and vendors with non-UTF-8 bytes and control characters', async () => {
    const hostname = Uint8Array.from([0x67, 0x77, 0xe9, 0x01, 0x0a, 0x2d, 0x31]); // "gw\xe9\x01\n-1"
    const vendor = Buffer.concat([Buffer.from('Маршрутизатор', 'utf8'), Buffer.from([0x1b, 0x5b, 0x33, 0x31, 0x6d])]); // + ESC[31m
    const srv = await track(serve((socket) => afterRequest(socket, () => socket.write(encodeSccrp({ hostname, vendor })))));
    const r = await probePptp(local(srv.port), { policy: LOOPBACK, timeoutMs: 1000, retries: 0 });
    expect(r.outcome).toBe('ok');
    expect(r.hostname).toBe('gwé-1');
    expect(r.vendor).toBe('Маршрутизатор[31m');
  });

  it('an invalid port or address: invalid_target without connecting', async () => {
    for (const port of [0, 65536, Number.NaN, -1, 1.5]) {
      const r = await probePptp({ host: '127.0.0.1', port }, { policy: LOOPBACK, timeoutMs: 1000, retries: 1 });
      expect(r).toMatchObject({ ok: false, outcome: 'invalid_target', attempts: 0, latencyMs: null });
      expect(r.reason).toMatch(/is not a TCP port \(1-65535\)/);
    }
    const h = await probePptp({ host: 'pptp.example.com', port: 1723 }, { policy: LOOPBACK, timeoutMs: 1000, retries: 1 });
    expect(h).toMatchObject({ outcome: 'invalid_target', attempts: 0 });
    expect(h.reason).toBe('"pptp.example.com" is not an IP address');
  });

  it('retries a timeout: silent for the first connection, then good', async () => {
    const srv = await track(
      serve((socket, i) => {
        if (i === 0) socket.resume(); // silent
        else afterRequest(socket, () => socket.write(encodeSccrp({ vendor: 'second-time' })));
      }),
    );
    const t0 = performance.now();
    const r = await probePptp(local(srv.port), { policy: LOOPBACK, timeoutMs: 300, retries: 1, retryDelayMs: 10 });
    expect(r).toMatchObject({ ok: true, outcome: 'ok', vendor: 'second-time', attempts: 2, reason: null });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(300);
    expect(r.latencyMs).toBeLessThan(300); // the latency of the attempt that answered
    expect(srv.connections).toBe(2);
  });

  it('sends a Stop-Control-Connection-Request after a good reply, then closes', async () => {
    const received: Buffer[] = [];
    const srv = await track(
      serve((socket) => {
        socket.on('data', (c: Buffer) => received.push(c));
        afterRequest(socket, () => socket.write(encodeSccrp()));
      }),
    );
    const r = await probePptp(local(srv.port), { policy: LOOPBACK, timeoutMs: 1000, retries: 0 });
    expect(r.outcome).toBe('ok');
    await srv.closed[0];
    const all = Buffer.concat(received);
    expect(all.length).toBe(156 + 16);
    expect(all.readUInt16BE(156 + 8)).toBe(3); // Stop-Control-Connection-Request
  });

  it('cancel: before the start and during an attempt', async () => {
    const pre = new AbortController();
    pre.abort();
    expect(await probePptp(local(1), { policy: LOOPBACK, timeoutMs: 1000, retries: 0, signal: pre.signal })).toMatchObject({ outcome: 'cancelled', attempts: 0 });

    const srv = await track(serve((socket) => socket.resume()));
    const ac = new AbortController();
    const t0 = performance.now();
    const p = probePptp(local(srv.port), { policy: LOOPBACK, timeoutMs: 5000, retries: 3, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const r = await p;
    expect(r).toMatchObject({ outcome: 'cancelled', attempts: 1 });
    expect(performance.now() - t0).toBeLessThan(1000);
    await srv.closed[0];
  });

  it('one shared signal across many probes causes no listener warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on('warning', onWarning);
    const srv = await track(serve((socket) => afterRequest(socket, () => socket.write(encodeSccrp()))));
    const ac = new AbortController();
    const rs = await Promise.all(Array.from({ length: 50 }, () => probePptp(local(srv.port), { policy: LOOPBACK, timeoutMs: 2000, retries: 0, signal: ac.signal })));
    await sleep(10);
    process.off('warning', onWarning);
    expect(rs.every((r) => r.ok)).toBe(true);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });
});
