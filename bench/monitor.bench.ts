// `npm run bench:monitor`: one monitor run over 2,000 online simulated nodes (10 % of them down),
// then a second run (nothing new: no alert). Prints time and alerts; never fails on time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compose } from '../src/compose.ts';
import { parseConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { RecordingPort } from '../test/kit/recording-port.ts';
import { startSimFleet } from '../test/sim/fleet.ts';

const COUNT = Number(process.env.BENCH_MONITOR_NODES ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'cnx-bench-monitor-'));
const fleet = await startSimFleet({ count: COUNT, seed: 9, mix: { good: 0.85, slow: 0.05, closed: 0.05, silent: 0.05 }, slowDelayMs: 300 });
const app = await compose(parseConfig({ DATA_DIR: join(dir, 'data'), PROBE_ALLOW: '127.0.0.0/8', MONITOR_FAILS: '1', PING_TIMEOUT_MS: '1500', PING_RETRIES: '1', PING_CONCURRENCY: '200' }), { log: createLogger('error') });
try {
  const port = new RecordingPort();
  app.app.alerts.register(port);
  // The simulated nodes are put online by hand and have no services: only the handshake is checked.
  app.app.monitor.checks.length = 0;
  const nodes = app.app.store.addNodes(fleet.servers.map((s) => ({ ip: s.ip, login: s.login, password: s.password })), 'bench');
  for (const n of nodes) {
    for (const [from, to] of [['not_tested', 'ping_ok'], ['ping_ok', 'speed_ok'], ['speed_ok', 'online']] as const) {
      app.app.store.transition({ id: n.id, from, to, reason: 'bench setup', actor: 'bench' });
    }
  }
  console.log(`monitor benchmark (PPTP handshake checks): ${COUNT} online nodes (${fleet.servers.filter((s) => s.behaviour === 'closed' || s.behaviour === 'silent').length} down: closed or silent), MONITOR_FAILS=1, timeout 1500 ms, 1 retry, concurrency 200`);
  for (const round of [1, 2]) {
    const before = port.calls.filter((c) => c.verb === 'postAlert').length;
    const t0 = performance.now();
    const run = await app.app.monitor.run(`bench round ${round}`);
    const ms = performance.now() - t0;
    const alerts = port.calls.filter((c) => c.verb === 'postAlert').length - before;
    console.log(`run ${round}: ${ms.toFixed(0)} ms, ${run.checked} checked (${(run.checked / (ms / 1000)).toFixed(0)} nodes/s), went offline ${run.wentOffline}, came back ${run.cameBack}, alert messages ${alerts}`);
  }
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
} finally {
  await app.close();
  await fleet.close();
  rmSync(dir, { recursive: true, force: true });
}
