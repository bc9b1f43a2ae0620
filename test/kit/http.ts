/**
 * HTTP on loopback for tests and benches: a server with its URL and a close that drops open
 * connections, and the one way a test server sends N bytes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestHttpServer {
  port: number;
  /** `http://host:port/path`. */
  url(path?: string, host?: string): string;
  close(): Promise<void>;
}

export async function startHttp(handler: http.RequestListener, host = '127.0.0.1', port = 0): Promise<TestHttpServer> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: (path = '/', h = host) => `http://${h}:${bound}${path}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let pattern: Buffer | null = null;
/** A fixed 64 KiB pattern, so that a receiver can check what arrived. */
export function patternChunk(): Buffer {
  if (!pattern) {
    pattern = Buffer.alloc(64 * 1024);
    for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 31 + 7) & 255;
  }
  return pattern;
}

/** The N of a `GET /bytes/N` request, or null. */
export function bytesAsked(req: http.IncomingMessage): number | null {
  const m = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
  return m ? Number(m[1]) : null;
}

/** Answers `total` bytes of `chunk` repeated, with a Content-Length, minding back-pressure. */
export function sendBytes(res: http.ServerResponse, total: number, chunk = patternChunk()): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
  let left = total;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}
