/**
 * Throughput measurement over plain node:http/https, with the socket bound to a chosen local
 * address (a tunnel's), so the figure is the tunnel's and not the host's default route.
 *
 * The clock starts at the first body chunk (download) or when the first chunk has been handed to
 * the kernel (upload), so connection set-up and server think-time do not count; the figure is the
 * bytes after that point over the seconds after it, in Mbit/s (10^6 bits). Every measurement has a
 * deadline, and a transfer that makes no progress for `stallMs` fails as stalled.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/** The speed server's answer header naming the caller (server.ts sets it); other servers may not. */
export const CLIENT_IP_HEADER = 'x-connexa-client-ip';

/** The caller address a response names, when it is an IP address (nothing else is recorded). */
function exitIpOf(res: http.IncomingMessage): string | null {
  const v = res.headers[CLIENT_IP_HEADER];
  return typeof v === 'string' && net.isIP(v.trim()) ? v.trim() : null;
}

export type SpeedFailureKind = 'bad_url' | 'connect_failed' | 'http_status' | 'stalled' | 'timeout' | 'reset' | 'too_short' | 'cancelled';

export interface Measurement {
  ok: true;
  direction: 'down' | 'up';
  mbps: number;
  /** Bytes the figure counts (after the first chunk). */
  bytes: number;
  /** Seconds the figure counts (from the first chunk to the last). */
  seconds: number;
  /** Everything transferred, first chunk included. */
  totalBytes: number;
  /** Milliseconds from the request to the first chunk. */
  firstChunkMs: number;
  /** True when the transfer was cut at maxSeconds rather than run to its end. */
  cutShort: boolean;
  /** The address the server saw the request come from (its `x-connexa-client-ip`), null if it did not say. */
  exitIp: string | null;
}

export interface MeasureFailure {
  ok: false;
  direction: 'down' | 'up';
  kind: SpeedFailureKind;
  reason: string;
  totalBytes: number;
  elapsedMs: number;
}

export type MeasureResult = Measurement | MeasureFailure;

export interface MeasureOptions {
  url: string;
  /** Bind the socket here (the tunnel's local address); omitted: the host's default source. */
  localAddress?: string;
  /** Download: read at most this many bytes; upload: send exactly this many. */
  bytes: number;
  /** Stop a download that is still running after this many seconds of measuring (figure so far). */
  maxSeconds?: number;
  /** Whole-measurement deadline, connection included. */
  timeoutMs: number;
  /** No progress for this long fails the transfer as stalled. */
  stallMs: number;
  /** A figure from fewer bytes than this is noise: fail as too_short. */
  minBytes?: number;
  signal?: AbortSignal;
}

const mbps = (bytes: number, seconds: number) => (seconds > 0 ? (bytes * 8) / seconds / 1e6 : 0);

function parseUrl(url: string): URL | string {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return `unsupported protocol ${u.protocol}`;
    return u;
  } catch {
    return 'not a URL';
  }
}

function describeError(err: NodeJS.ErrnoException): { kind: SpeedFailureKind; reason: string } {
  const code = err.code ?? '';
  if (['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return { kind: 'connect_failed', reason: `${code}: ${err.message}` };
  return { kind: 'reset', reason: code ? `${code}: ${err.message}` : err.message };
}

/** Shared skeleton: a deadline, a stall watchdog, cancellation, one settle. */
function session(direction: 'down' | 'up', o: MeasureOptions) {
  const t0 = performance.now();
  let settled = false;
  let totalBytes = 0;
  let stallTimer: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  let resolveFn!: (r: MeasureResult) => void;
  let cleanupFn: () => void = () => {};
  const done = new Promise<MeasureResult>((r) => (resolveFn = r));
  const finish = (r: MeasureResult) => {
    if (settled) return;
    settled = true;
    clearTimeout(stallTimer);
    clearTimeout(deadline);
    o.signal?.removeEventListener('abort', onAbort);
    cleanupFn();
    resolveFn(r);
  };
  const failWith = (kind: SpeedFailureKind, reason: string) => finish({ ok: false, direction, kind, reason, totalBytes, elapsedMs: Math.round(performance.now() - t0) });
  const onAbort = () => failWith('cancelled', 'cancelled');
  const kick = () => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => failWith('stalled', `no data for ${(o.stallMs / 1000).toFixed(1)} s after ${totalBytes.toLocaleString('en-US')} bytes`), o.stallMs);
  };
  deadline = setTimeout(() => failWith('timeout', `not finished within ${(o.timeoutMs / 1000).toFixed(1)} s (${totalBytes.toLocaleString('en-US')} bytes moved)`), o.timeoutMs);
  if (o.signal?.aborted) queueMicrotask(onAbort);
  else o.signal?.addEventListener('abort', onAbort, { once: true });
  kick();
  return {
    t0,
    done,
    finish,
    failWith,
    kick,
    isSettled: () => settled,
    addBytes: (n: number) => (totalBytes += n),
    totalBytes: () => totalBytes,
    onCleanup: (f: () => void) => (cleanupFn = f),
  };
}

/** Downloads up to `bytes` from `url` and measures the rate after the first chunk. */
export function measureDownload(o: MeasureOptions): Promise<MeasureResult> {
  const s = session('down', o);
  const u = parseUrl(o.url);
  if (typeof u === 'string') {
    s.failWith('bad_url', `SPEED_URL ${u}`);
    return s.done;
  }
  let firstAt = 0;
  let firstBytes = 0;
  let lastAt = 0;
  let exitIp: string | null = null;
  const mod = u.protocol === 'https:' ? https : http;
  // agent: false — a fresh connection per measurement, bound to the given address, never pooled.
  const req = mod.get(u, { agent: false, localAddress: o.localAddress, headers: { 'accept-encoding': 'identity', 'cache-control': 'no-cache', connection: 'close' } });
  s.onCleanup(() => req.destroy());
  const settleOk = (cutShort: boolean) => {
    const bytes = s.totalBytes() - firstBytes;
    const seconds = (lastAt - firstAt) / 1000;
    if (firstAt === 0 || bytes < (o.minBytes ?? 1) || seconds <= 0) {
      s.failWith('too_short', `only ${s.totalBytes().toLocaleString('en-US')} bytes arrived: too few to measure`);
      return;
    }
    s.finish({ ok: true, direction: 'down', mbps: mbps(bytes, seconds), bytes, seconds, totalBytes: s.totalBytes(), firstChunkMs: Math.round(firstAt - s.t0), cutShort, exitIp });
  };
  req.on('response', (res) => {
    if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) {
      s.failWith('http_status', `HTTP ${res.statusCode} from the speed server`);
      res.resume();
      return;
    }
    exitIp = exitIpOf(res);
    res.on('data', (chunk: Buffer) => {
      if (s.isSettled()) return;
      const now = performance.now();
      s.kick();
      if (firstAt === 0) {
        firstAt = now;
        firstBytes = chunk.length;
      }
      lastAt = now;
      s.addBytes(chunk.length);
      if (s.totalBytes() >= o.bytes) settleOk(false);
      else if (o.maxSeconds !== undefined && (now - firstAt) / 1000 >= o.maxSeconds) settleOk(true);
    });
    res.on('end', () => {
      if (!s.isSettled()) settleOk(false);
    });
    res.on('aborted', () => s.failWith('reset', `the connection closed after ${s.totalBytes().toLocaleString('en-US')} bytes`));
    res.on('error', (err: NodeJS.ErrnoException) => {
      const d = describeError(err);
      s.failWith(d.kind, `${d.reason} after ${s.totalBytes().toLocaleString('en-US')} bytes`);
    });
  });
  req.on('error', (err: NodeJS.ErrnoException) => {
    const d = describeError(err);
    s.failWith(d.kind, s.totalBytes() > 0 ? `${d.reason} after ${s.totalBytes().toLocaleString('en-US')} bytes` : d.reason);
  });
  return s.done;
}

/**
 * POSTs `bytes` bytes to `url` and measures the rate from the moment the first chunk left until
 * the server's response (which a speed server sends only after it has read the whole body).
 */
export function measureUpload(o: MeasureOptions): Promise<MeasureResult> {
  const s = session('up', o);
  const u = parseUrl(o.url);
  if (typeof u === 'string') {
    s.failWith('bad_url', `SPEED_URL ${u}`);
    return s.done;
  }
  const CHUNK = 64 * 1024;
  // Incompressible content: MPPE compression or a middlebox must not flatter the figure.
  const block = Buffer.alloc(CHUNK);
  for (let i = 0; i < CHUNK; i++) block[i] = (i * 2654435761) >>> 24;
  const mod = u.protocol === 'https:' ? https : http;
  const req = mod.request(u, {
    method: 'POST',
    agent: false,
    localAddress: o.localAddress,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(o.bytes), connection: 'close' },
  });
  s.onCleanup(() => req.destroy());
  let firstAt = 0;
  let firstBytes = 0;
  let sent = 0;
  const pump = () => {
    while (sent < o.bytes && !s.isSettled()) {
      const n = Math.min(CHUNK, o.bytes - sent);
      const first = sent === 0;
      sent += n;
      const more = req.write(n === CHUNK ? block : block.subarray(0, n), () => {
        if (s.isSettled()) return;
        s.kick();
        s.addBytes(n);
        if (first) {
          firstAt = performance.now();
          firstBytes = n;
        }
      });
      if (!more) {
        req.once('drain', pump);
        return;
      }
    }
    if (sent >= o.bytes) req.end();
  };
  req.on('response', (res) => {
    res.resume();
    const now = performance.now();
    if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) return s.failWith('http_status', `HTTP ${res.statusCode} from the speed server`);
    const bytes = o.bytes - firstBytes;
    const seconds = (now - firstAt) / 1000;
    if (firstAt === 0 || bytes < (o.minBytes ?? 1) || seconds <= 0) return s.failWith('too_short', `only ${o.bytes} bytes sent: too few to measure`);
    s.finish({ ok: true, direction: 'up', mbps: mbps(bytes, seconds), bytes, seconds, totalBytes: o.bytes, firstChunkMs: Math.round(firstAt - s.t0), cutShort: false, exitIp: exitIpOf(res) });
  });
  req.on('error', (err: NodeJS.ErrnoException) => {
    const d = describeError(err);
    s.failWith(d.kind, s.totalBytes() > 0 ? `${d.reason} after ${s.totalBytes().toLocaleString('en-US')} bytes` : d.reason);
  });
  req.on('socket', (sock) => (sock.connecting ? sock.once('connect', pump) : pump()));
  return s.done;
}

/** `18.93 Mbit/s (11,796,480 bytes in 4.98 s)` */
export function describeMeasurement(m: Measurement): string {
  return `${m.mbps.toFixed(2)} Mbit/s (${m.bytes.toLocaleString('en-US')} bytes in ${m.seconds.toFixed(2)} s)`;
}

/** Per-transfer deadline of a speed test: the measuring window, plus room to connect and to stall once. */
export function transferTimeoutMs(s: { maxSeconds: number; stallMs: number }): number {
  return s.maxSeconds * 1000 + s.stallMs + 5_000;
}
