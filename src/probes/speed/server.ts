/**
 * A small HTTP speed server: `GET /?bytes=N` sends N incompressible bytes with a Content-Length,
 * `POST /` reads the body and answers with how many bytes arrived. Every answer names the address
 * the request came from (header `x-connexa-client-ip`, and `ip` in the POST answer): through a
 * tunnel, that is where the node's traffic leaves for the internet. It is what the lab tests and the
 * VM lab measure against, and it can serve as SPEED_URL for a fleet (e.g. on a host the tunnels
 * reach): `SPEED_SERVER_TOKEN=… node src/probes/speed/server.ts --host 0.0.0.0 --port 8080`.
 *
 * Anything but a loopback address is reachable by strangers, so there it needs a token (sent as
 * `?token=…`, `Authorization: Bearer …`, or as the password of `http://x:TOKEN@host/`, which is
 * how SPEED_URL carries it), and it holds a connection limit and a per-request byte cap: an open
 * server that sends gigabytes per request to anyone is a traffic amplifier on the operator's bill.
 *
 * `stallAfterBytes` makes it stop sending mid-body without closing (a stalled transfer, for tests).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { CLIENT_IP_HEADER } from './measure.ts';

export interface SpeedServerOptions {
  host: string;
  port?: number;
  /** Size sent when the request names none. */
  defaultBytes?: number;
  /** Stop writing (but keep the connection open) after this many bytes of a download. */
  stallAfterBytes?: number;
  /** Required unless `host` is a loopback address (or `open` says the network is closed). */
  token?: string;
  /** A non-loopback address without a token: only for isolated test networks (VM lab). */
  open?: boolean;
  /** Simultaneous connections; more are dropped at accept (default 32). */
  maxConnections?: number;
  /** Largest download or upload of one request, in bytes (default 1 GiB). */
  maxBytes?: number;
  /** Called per finished request with the client's address, so a test can prove which path it took. */
  onRequest?: (info: { method: string; remoteAddress: string; bytes: number }) => void;
}

export interface SpeedServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** `::ffff:203.0.113.5` (an IPv4 caller on a dual-stack socket) as `203.0.113.5`. */
const callerAddress = (a: string): string => (a.startsWith('::ffff:') && net.isIPv4(a.slice(7)) ? a.slice(7) : a);

export const DEFAULT_MAX_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_MAX_CONNECTIONS = 32;

const isLoopback = (host: string): boolean => host === 'localhost' || (net.isIPv4(host) && host.startsWith('127.')) || host === '::1';
const sha256 = (v: string): Buffer => createHash('sha256').update(v).digest();

/** The token from `?token=`, a Bearer header or a Basic header's password. */
function presentedToken(req: http.IncomingMessage, url: URL): string | null {
  const q = url.searchParams.get('token');
  if (q !== null) return q;
  const h = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)$/i.exec(h);
  if (bearer) return bearer[1]!;
  const basic = /^Basic\s+(\S+)$/i.exec(h);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) return decoded.slice(colon + 1);
  }
  return null;
}
const BLOCK = (() => {
  const b = Buffer.alloc(64 * 1024);
  // A fixed pseudo-random pattern: incompressible enough for MPPE/HTTP, no cost per request.
  let x = 0x9e3779b9;
  for (let i = 0; i < b.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
})();

export function startSpeedServer(o: SpeedServerOptions): Promise<SpeedServer> {
  if (!o.token && !o.open && !isLoopback(o.host)) {
    return Promise.reject(new Error(`listening on ${o.host} (not loopback) needs a token: --token or SPEED_SERVER_TOKEN`));
  }
  const tokenDigest = o.token ? sha256(o.token) : null;
  const maxBytes = o.maxBytes ?? DEFAULT_MAX_BYTES;
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const remoteAddress = req.socket.remoteAddress ?? '';
    const caller = callerAddress(remoteAddress);
    // Set before the token check too: it tells the caller nothing it does not already know.
    res.setHeader(CLIENT_IP_HEADER, caller);
    const url = new URL(req.url ?? '/', 'http://x');
    if (tokenDigest) {
      const given = presentedToken(req, url);
      // Digests: the comparison time does not depend on where the first wrong byte is.
      if (given === null || !timingSafeEqual(sha256(given), tokenDigest)) {
        res.writeHead(401, { 'www-authenticate': 'Bearer', connection: 'close' }).end('a token is required (?token=…)\n');
        return;
      }
    }
    if (req.method === 'POST') {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > maxBytes) {
        res.writeHead(413, { connection: 'close' }).end(`at most ${maxBytes} bytes per request\n`);
        return;
      }
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        // A chunked body has no length up front: cut it where it passes the cap.
        if (n > maxBytes) req.socket.destroy();
      });
      req.on('end', () => {
        o.onRequest?.({ method: 'POST', remoteAddress, bytes: n });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes: n, ip: caller }));
      });
      return;
    }
    const asked = Number(url.searchParams.get('bytes') ?? o.defaultBytes ?? 100 * 1024 * 1024);
    if (!Number.isInteger(asked) || asked < 0 || asked > maxBytes) {
      res.writeHead(400).end(`bytes must be a whole number up to ${maxBytes}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(asked), 'cache-control': 'no-store' });
    let sent = 0;
    const limit = o.stallAfterBytes === undefined ? asked : Math.min(asked, o.stallAfterBytes);
    const pump = () => {
      while (sent < limit) {
        const n = Math.min(BLOCK.length, limit - sent);
        sent += n;
        if (!res.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      if (sent >= asked) res.end();
      // else: stalled on purpose — hold the connection open, send nothing more.
    };
    res.on('close', () => o.onRequest?.({ method: 'GET', remoteAddress, bytes: sent }));
    pump();
  });
  server.maxConnections = o.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host, () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}/`,
        port,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

// Run as a program (not when imported, nor when bundled into CommonJS where import.meta.url is empty).
if (process.argv[1] && import.meta.url && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const stall = arg('stall-after');
  const maxBytes = arg('max-bytes');
  const maxConnections = arg('max-connections');
  // The environment is the better place for the token: a command line is visible to every user (ps).
  const token = process.env.SPEED_SERVER_TOKEN || arg('token');
  startSpeedServer({
    host: arg('host') ?? '127.0.0.1',
    port: Number(arg('port') ?? 8080),
    ...(stall ? { stallAfterBytes: Number(stall) } : {}),
    ...(token ? { token } : {}),
    ...(maxBytes ? { maxBytes: Number(maxBytes) } : {}),
    ...(maxConnections ? { maxConnections: Number(maxConnections) } : {}),
  })
    .then((s) => {
      // One line a parent process can wait for.
      process.stdout.write(`speed server listening ${s.url}\n`);
      const stop = () => void s.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    })
    .catch((err: Error) => {
      process.stderr.write(`speed server: ${err.message}\n`);
      process.exit(1);
    });
}
