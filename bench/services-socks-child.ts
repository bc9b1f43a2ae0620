/**
 * A child process for bench/services-socks.ts, so each thing measured has its own process (and
 * core time), as it would in production. Reads one JSON line on stdin (credentials never in argv):
 *
 *   {"mode":"proxy", bind, port, login, password, egress, anyDestination}
 *       one SocksProxy, as a gateway host configures it; prints `ready`
 *   {"mode":"source", host, port}
 *       an HTTP server: GET /bytes/N answers N bytes; a plain TCP accept on port+1 closes at once
 *   {"mode":"memory", count, from, dataDir}
 *       starts `count` nodes through the gateway control and the local gateway (loopback test tunnels, no OpenVPN server),
 *       then prints {"rssBefore","rssAfter","heapBefore","heapAfter","ms"} after a GC
 * and runs until stdin closes.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import { createLogger } from '../src/log.ts';
import { anyDestination } from '../src/services/socks/destinations.ts';
import { SocksProxy } from '../src/services/socks/server.ts';
import { bytesAsked, sendBytes, startHttp } from '../test/kit/http.ts';

const gc = (globalThis as { gc?: () => void }).gc;

async function proxy(c: { bind: string; port: number; login: string; password: string; egress: string; anyDestination?: boolean }): Promise<void> {
  const p = new SocksProxy({ bind: c.bind, port: c.port, credentials: { login: c.login, password: c.password }, egress: () => c.egress, ...(c.anyDestination ? { allowDestination: anyDestination } : {}) });
  await p.listen();
}

async function source(c: { host: string; port: number }): Promise<void> {
  const block = Buffer.alloc(1024 * 1024, 0x5a);
  await startHttp((req, res) => sendBytes(res, bytesAsked(req) ?? 0, block), c.host, c.port);
  const closer = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => closer.listen(c.port + 1, c.host, r));
}

async function memory(c: { count: number; from: number; dataDir: string }): Promise<void> {
  const { Store } = await import('../src/store/store.ts');
  const { createGateways } = await import('../src/gateway/index.ts');
  const { parseConfig } = await import('../src/config.ts');
  const { Leases } = await import('../src/pipeline/leases.ts');
  const { LoopbackTunnelDriver } = await import('../test/services/loopback-tunnel.ts');
  const store = await Store.open(c.dataDir);
  const nodes = store.addNodes(Array.from({ length: c.count }, (_, i) => ({ ip: `198.51.${Math.floor(i / 250)}.${(i % 250) + 1}`, login: `u${i}`, password: 'p' })), 'bench');
  const log = createLogger('error');
  const config = parseConfig({ DATA_DIR: c.dataDir, TUNNEL_DRIVER: 'pppd', SOCKS_BIND: '127.0.0.1', SOCKS_PORT_RANGE: `${c.from}-${c.from + c.count + 99}`, OVPN_PORT_RANGE: `${c.from + c.count + 100}-${c.from + 2 * c.count + 199}` });
  const services = createGateways(
    { config, store, leases: new Leases(), log, tunnels: { driver: new LoopbackTunnelDriver(), capability: () => ({ ok: true }) } },
    { local: { ovpnHost: () => ({ capability: { ok: false, missing: ['bench'], message: 'bench' }, openvpn: null, ip: null, nft: null }) } },
  );
  await services.capacity(); // init, PKI not yet
  // Warm up the code paths (and create the PKI) with one node, so the baseline holds the code.
  await services.start(nodes[0]!);
  gc?.();
  const before = process.memoryUsage();
  const t0 = Date.now();
  for (const n of nodes.slice(1)) await services.start(n);
  const ms = Date.now() - t0;
  gc?.();
  await new Promise((r) => setTimeout(r, 200));
  gc?.();
  const after = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ count: c.count - 1, rssBefore: before.rss, rssAfter: after.rss, heapBefore: before.heapUsed, heapAfter: after.heapUsed, ms })}\n`);
}

const rl = createInterface({ input: process.stdin });
rl.once('line', (line) => {
  type Config = { mode: string } & Parameters<typeof proxy>[0] & Parameters<typeof source>[0] & Parameters<typeof memory>[0];
  const c = JSON.parse(line) as Config;
  const go = c.mode === 'proxy' ? proxy(c) : c.mode === 'source' ? source(c) : c.mode === 'memory' ? memory(c) : Promise.reject(new Error(`unknown mode ${c.mode}`));
  go.then(
    () => c.mode !== 'memory' && process.stdout.write('ready\n'),
    (err: Error) => {
      process.stderr.write(`${err.stack}\n`);
      process.exit(1);
    },
  );
});
rl.on('close', () => process.exit(0));
