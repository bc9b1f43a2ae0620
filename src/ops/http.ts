import { createServer, type Server } from 'node:http';
import type { Logger } from '../log.ts';
import { health, readiness, type HealthSources } from './health.ts';
import { createMetrics, type MetricsSources } from './metrics.ts';

export interface OpsServer {
  /** The address it listens on (the port is the real one when 0 was asked). */
  address: { host: string; port: number };
  close(): Promise<void>;
}

/**
 * The operations endpoint (METRICS_PORT, on METRICS_BIND): GET /metrics (Prometheus text format),
 * /healthz and /readyz (200 `ok`, or 503 with one reason a line). Nothing else is served, nothing
 * is written: it needs no authentication beyond where it is bound (loopback by default).
 */
export async function startOpsServer(opts: { host: string; port: number; log: Logger; metrics: MetricsSources; health: HealthSources }): Promise<OpsServer> {
  const metrics = createMetrics(opts.metrics);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: Error) => {
          opts.log.error('metrics: a collector failed', { error: err.message });
          res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n');
        },
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const report = path === '/healthz' ? health(opts.health) : readiness(opts.health);
      res.writeHead(report.ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(report.ok ? 'ok\n' : `${report.reasons.join('\n')}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /metrics, /healthz, /readyz\n');
  });
  // A scraper that stalls must not keep sockets forever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    address: { host: opts.host, port },
    close: () =>
      new Promise<void>((resolve) => {
        metrics.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
