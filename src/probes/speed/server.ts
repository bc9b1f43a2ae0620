/**
 * A small HTTP speed server: `GET /?bytes=N` sends N incompressible bytes with a Content-Length,
 * `POST /` reads the body and answers with how many bytes arrived. It is what the lab tests and the
 * VM lab measure against, and it can serve as SPEED_URL for a fleet (e.g. on a host the tunnels
 * reach): `node src/probes/speed/server.ts --host 0.0.0.0 --port 8080`.
 *
 * `stallAfterBytes` makes it stop sending mid-body without closing (a stalled transfer, for tests).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface SpeedServerOptions {
  host: string;
  port?: number;
  /** Size sent when the request names none. */
  defaultBytes?: number;
  /** Stop writing (but keep the connection open) after this many bytes of a download. */
  stallAfterBytes?: number;
  /** Called per finished request with the client's address, so a test can prove which path it took. */
  onRequest?: (info: { method: string; remoteAddress: string; bytes: number }) => void;
}

export interface SpeedServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BYTES = 10 * 1024 * 1024 * 1024;
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
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const remoteAddress = req.socket.remoteAddress ?? '';
    if (req.method === 'POST') {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => {
        o.onRequest?.({ method: 'POST', remoteAddress, bytes: n });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes: n }));
      });
      return;
    }
    const asked = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('bytes') ?? o.defaultBytes ?? 100 * 1024 * 1024);
    if (!Number.isInteger(asked) || asked < 0 || asked > MAX_BYTES) {
      res.writeHead(400).end('bytes must be a whole number up to 10 GiB\n');
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
  startSpeedServer({ host: arg('host') ?? '127.0.0.1', port: Number(arg('port') ?? 8080), ...(stall ? { stallAfterBytes: Number(stall) } : {}) })
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
