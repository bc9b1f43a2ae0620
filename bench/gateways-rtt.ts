/**
 * `node bench/gateways-rtt.ts [-- --calls 2000 --parallel 32]`: the round trip of a command
 * bot -> gateway -> bot over BullMQ on a real redis-server (loopback, with a password, no
 * persistence; then again with AOF fsync always, the set-up that survives a Redis crash).
 *
 * The gateway runs in a process of its own (this file with --serve), serving the test stand-in port
 * (test/gateway/stand-in-gateway.ts: no tunnels, so what is measured is the transport): `describe`
 * is sent one at a time (p50/p99/max), then `parallel` at a time (calls per second).
 * Figures only: it never fails because a machine is slow.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { connectGateways } from '../src/gateway/remote/control.ts';
import { serveGateway } from '../src/gateway/remote/serve.ts';
import { createLogger } from '../src/log.ts';
import { startRedis } from '../test/kit/redis.ts';
import { StandInGateway } from '../test/gateway/stand-in-gateway.ts';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    parallel: { type: 'string', default: '32' },
    serve: { type: 'string' },
  },
});
const log = createLogger('warn');

if (values.serve) {
  // The gateway process: the URL comes on stdin, not argv (a password is not for `ps` to show).
  const url = await new Promise<string>((resolve) => process.stdin.once('data', (d) => resolve(d.toString().trim())));
  const served = await serveGateway({ name: values.serve, redisUrl: url, port: new StandInGateway(values.serve), log, heartbeatMs: 5000 });
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => void served.close().then(() => process.exit(0)));
} else {
  const calls = Number(values.calls);
  const parallel = Number(values.parallel);
  for (const aof of [false, true]) {
    const redis = await startRedis({ aof });
    const gw = spawn(process.execPath, [new URL(import.meta.url).pathname, '--serve', 'bench-gw'], { stdio: ['pipe', 'pipe', 'inherit'] });
    gw.stdin!.write(`${redis.url}\n`);
    await ready(gw);
    const bot = await connectGateways({ redisUrl: redis.url, log, onHeartbeat: () => {}, signCsr: () => Promise.reject(new Error('unused')) });
    const port = bot.port('bench-gw');
    for (let i = 0; i < 200; i++) await port.describe(); // warm-up
    const ms: number[] = [];
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      await port.describe();
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!.toFixed(2);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next++ < calls) await port.describe();
      }),
    );
    const rate = calls / ((performance.now() - t0) / 1000);
    console.log(
      `describe round trip (${aof ? 'AOF fsync always' : 'no persistence'}): ${calls} calls one at a time: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${ms.at(-1)!.toFixed(2)} ms; ${parallel} in flight: ${Math.round(rate)} calls/s`,
    );
    await bot.close();
    await stopChild(gw);
    await redis.stop();
  }
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`gateway process exited (${code})`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
