/**
 * `npm run bench:gateways` (root; iproute2, nftables, openvpn, redis-server, curl): gateways on this
 * machine, network namespaces as hosts (test/lab/gateway-lab.ts: each `connexa gateway` process in
 * a namespace of its own with the lab's veth tunnel driver, redis-server on the host with a password
 * and AOF, the bot in THIS process with REDIS_URL set, a simulated PPTP fleet in a process of its own).
 *
 *   1. 600 nodes (`--nodes`) put online by `start status:speed_ok` through the bot's dispatcher, on
 *      1 gateway, then (everything stopped in between: `stop`, SIGTERM, leftovers checked) on 3;
 *      wall time from the command to the job's end, nodes/s, per-node start latency p50/p99 (the
 *      bot's GatewayControl.start, certificate included; and the gateway's own figure from its log),
 *      CPU seconds per node of the bot, Redis, each gateway and its OpenVPN servers.
 *   2. Command round trip bot -> gateway -> bot through RemoteGateway against the gateway running the
 *      600: `describe` and `check` one at a time (p50/p99); then the transport alone (gateways-rtt.ts).
 *   3. Bot RSS: this process (the bot; the lab's bookkeeping is small, the sim fleet is elsewhere),
 *      after a GC, with 0 and with the nodes online.
 *   4. PSS per online node on a gateway: Pss of every process in its namespace (the gateway and its
 *      OpenVPN servers), with 0 nodes and with its nodes online.
 *   5. kill -9 of a gateway with the default GATEWAY_DEAD_AFTER (30 s): time until the bot calls it
 *      down, and until its nodes are offline in the store (the monitor run's share).
 *   6. Proxied throughput through one node's SOCKS proxy (curl in the client namespace, a large body
 *      from the web namespace) beside the direct path, with the gateway's CPU per GB; then a model of
 *      gateways on separate hosts from the per-node and per-byte costs measured.
 * Figures only: it never fails because the machine is slow. Everything it started is stopped by pid
 * and every namespace deleted at the end. Scheduled monitor runs are off (MONITOR_CRON once a year)
 * so only the run a dead gateway sets off is timed.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { Actor } from '../src/chat/types.ts';
import { compose, type Composed } from '../src/compose.ts';
import { parseConfig } from '../src/config.ts';
import { START_CONCURRENCY } from '../src/gateway/stages.ts';
import { createLogger } from '../src/log.ts';
import { confirmed } from '../test/kit/confirmed.ts';
import { RecordingPort } from '../test/kit/recording-port.ts';
import { speedOkNodes } from '../test/kit/services-app.ts';
import { startSimProcess, type SimProcess } from '../test/kit/sim-process.ts';
import { createGatewayLab, type GatewayLab, type LabGateway } from '../test/lab/gateway-lab.ts';
import { NODE_HOST_TOOLS, requireLab } from '../test/lab/netns.ts';

const execFileP = promisify(execFile);
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '600' },
    describes: { type: 'string', default: '2000' },
    checks: { type: 'string', default: '500' },
    mb: { type: 'string', default: '512' },
    'skip-kill': { type: 'boolean', default: false },
  },
});
const NODES = Number(values.nodes);
const NAMES = ['gw1', 'gw2', 'gw3'];
const ADMIN: Actor = { platform: 'slack', id: 'UADMIN', name: 'ada', roleIds: [] };
const BIG_PORT = 8081;
const TICK = 100; // USER_HZ: /proc/PID/stat counts CPU time in 1/100 s here
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

requireLab([...NODE_HOST_TOOLS, { bin: 'openvpn', pkg: 'openvpn' }, { bin: 'redis-server', pkg: 'redis-server' }]);

// ---- small measuring helpers ----

const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN;
};
const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const mb = (bytes: number) => bytes / 1024 / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds of one process: its own, and its reaped children's (the `ip`, `nft`, `openssl` it ran). */
function cpuSplit(pid: number): { own: number; children: number } {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime are fields 14-17 (1-based); fields[0] is field 3.
    return { own: (Number(fields[11]) + Number(fields[12])) / TICK, children: (Number(fields[13]) + Number(fields[14])) / TICK };
  } catch {
    return { own: 0, children: 0 };
  }
}
const cpuOf = (pid: number) => {
  const c = cpuSplit(pid);
  return c.own + c.children;
};
const comm = (pid: number) => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};
function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
function nsPids(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  return (r.stdout ?? '').split(/\s+/).filter(Boolean).map(Number);
}
/** Pss and CPU of a gateway's namespace: its `connexa gateway` process and its OpenVPN servers. */
function gatewayFootprint(g: LabGateway): { pssKb: number; gatewayCpu: number; childCpu: number; ovpnCpu: number; ovpn: number } {
  let pss = 0;
  let gatewayCpu = 0;
  let childCpu = 0;
  let ovpnCpu = 0;
  let ovpn = 0;
  for (const pid of nsPids(g.ns.ns)) {
    pss += pssKb(pid);
    if (comm(pid) === 'openvpn') {
      ovpn++;
      ovpnCpu += cpuOf(pid);
    } else {
      const c = cpuSplit(pid);
      gatewayCpu += c.own + c.children;
      childCpu += c.children;
    }
  }
  return { pssKb: pss, gatewayCpu, childCpu, ovpnCpu, ovpn };
}
const selfCpu = () => cpuOf(process.pid);

// ---- the lab, the fleet, the bot ----

const labDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnx-gwbench-'));
let lab: GatewayLab | null = null;
let sim: SimProcess | null = null;
let app: Composed | null = null;
const rows: Array<[string, string]> = [];
const row = (what: string, value: string) => {
  rows.push([what, value]);
  console.log(`  ${what.padEnd(58)} ${value}`);
};

// The ports each gateway gives its nodes: room for all of them on one.
const range = (base: number) => `${base}-${base + Math.max(NODES, 1) + 49}`;

async function waitFor(cond: () => boolean, timeoutMs: number, what: string, stepMs = 50): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

try {
  const tTotal = performance.now();
  console.log(`bench:gateways — ${NODES} nodes; ${os.cpus().length} cores shared by the bot, Redis, the gateways and the sim fleet`);
  lab = await createGatewayLab({ names: NAMES, dir: labDir, redisAof: true, env: { SOCKS_PORT_RANGE: range(40000), OVPN_PORT_RANGE: range(42000), LOG_LEVEL: 'info' } });
  const L = lab;
  sim = await startSimProcess({ count: NODES, seed: 16, mix: 'good=1', dir: labDir });
  const config = parseConfig({
    DATA_DIR: path.join(labDir, 'bot'),
    CONNEXA_ADMINS: 'slack:UADMIN',
    PROBE_ALLOW: '127.0.0.0/8',
    REDIS_URL: L.botRedisUrl,
    MONITOR_CRON: '0 0 1 1 *',
    MONITOR_FAILS: '3',
    PING_TIMEOUT_MS: '1000',
    PING_RETRIES: '0',
    SOCKS_PORT_RANGE: range(40000),
    OVPN_PORT_RANGE: range(42000),
  });
  // The bot's log is dropped (not kept in memory): its RSS is the bot's own.
  app = await compose(config, { log: createLogger('warn', () => {}) });
  const A = app;
  const port = new RecordingPort();
  A.app.alerts.register(port);
  const run = (text: string) => A.dispatcher.dispatch(port, { text, files: [], actor: ADMIN, where: { key: 'C1' } });
  const store = A.app.store;
  const control = A.app.gateways;
  const directory = control.directory!;
  const up = () => directory.list().filter((g) => !g.local && g.up && g.description).map((g) => g.name).sort();

  // Per-node start latency as the bot sees it (GatewayControl.start: the BullMQ round trip, the
  // gateway's work and the certificate), timed around the real method.
  let startMs: number[] = [];
  const realStart = control.start.bind(control);
  control.start = async (...a: Parameters<typeof control.start>) => {
    const t0 = performance.now();
    const r = await realStart(...a);
    if (r.ok) startMs.push(performance.now() - t0);
    return r;
  };

  gc();
  const memEmpty = process.memoryUsage();
  const rssEmpty = memEmpty.rss;
  speedOkNodes(store, sim.servers.map((s) => ({ ip: s.ip })));

  const gatewayLogMs = (g: LabGateway, from: number) =>
    g
      .log()
      .slice(from)
      .split('\n')
      .flatMap((l) => {
        const m = l.includes('"msg":"node services started"') ? /"ms":(\d+)/.exec(l) : null;
        return m ? [Number(m[1])] : [];
      });

  const redisPid = L.redis.pid;
  interface StartFigures {
    seconds: number;
    perNodeBot: number[];
    perNodeGw: number[];
    cpu: { bot: number; redis: number; gateways: number; gatewayChildren: number; ovpn: number };
    online: number;
  }
  async function startAll(gws: LabGateway[]): Promise<StartFigures> {
    const logFrom = new Map(gws.map((g) => [g.name, g.log().length]));
    const before = { bot: selfCpu(), redis: cpuOf(redisPid), fp: gws.map(gatewayFootprint) };
    startMs = [];
    const jobsBefore = store.jobs().length;
    const t0 = performance.now();
    const r = await run('start status:speed_ok');
    if (r.kind !== 'ok') throw new Error(`start: ${JSON.stringify(r).slice(0, 300)}`);
    await waitFor(() => store.jobs().length > jobsBefore && store.jobs().at(-1)!.state !== 'running', 600_000, 'the start job');
    const seconds = (performance.now() - t0) / 1000;
    const job = store.jobs().at(-1)!;
    if (job.state !== 'done') console.log(`  (the start job ended ${job.state}: ${JSON.stringify(job.counts)})`);
    const after = { bot: selfCpu(), redis: cpuOf(redisPid), fp: gws.map(gatewayFootprint) };
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    return {
      seconds,
      perNodeBot: startMs,
      perNodeGw: gws.flatMap((g) => gatewayLogMs(g, logFrom.get(g.name)!)),
      cpu: {
        bot: after.bot - before.bot,
        redis: after.redis - before.redis,
        gateways: sum(after.fp.map((x) => x.gatewayCpu)) - sum(before.fp.map((x) => x.gatewayCpu)),
        gatewayChildren: sum(after.fp.map((x) => x.childCpu)) - sum(before.fp.map((x) => x.childCpu)),
        ovpn: sum(after.fp.map((x) => x.ovpnCpu)) - sum(before.fp.map((x) => x.ovpnCpu)),
      },
      online: store.nodes().filter((n) => n.status === 'online').length,
    };
  }
  function printStart(label: string, s: StartFigures): void {
    row(`${label}: online / asked`, `${s.online} / ${NODES}`);
    row(`${label}: command -> job end`, `${f(s.seconds)} s (${f(s.online / s.seconds)} nodes/s; target 600 in 120 s)`);
    row(`${label}: per-node start, bot side p50 / p99`, `${f(q(s.perNodeBot, 0.5), 0)} / ${f(q(s.perNodeBot, 0.99), 0)} ms (${s.perNodeBot.length} starts, ${START_CONCURRENCY} at a time per gateway)`);
    row(`${label}: per-node start, gateway log p50 / p99`, `${f(q(s.perNodeGw, 0.5), 0)} / ${f(q(s.perNodeGw, 0.99), 0)} ms`);
    const per = (x: number) => f((x / Math.max(1, s.online)) * 1000, 1);
    row(`${label}: CPU ms per node: bot / redis / gateway / openvpn`, `${per(s.cpu.bot)} / ${per(s.cpu.redis)} / ${per(s.cpu.gateways)} / ${per(s.cpu.ovpn)}`);
    row(`${label}:   the gateway's: node process / commands it ran (ip, nft, openssl)`, `${per(s.cpu.gateways - s.cpu.gatewayChildren)} / ${per(s.cpu.gatewayChildren)} ms`);
  }

  async function stopEverything(gws: LabGateway[]): Promise<void> {
    const jobsBefore = store.jobs().length;
    const t0 = performance.now();
    const r = await confirmed((text) => run(text), 'stop status:online', ADMIN);
    if (r.kind !== 'ok') throw new Error(`stop: ${JSON.stringify(r).slice(0, 300)}`);
    await waitFor(() => store.jobs().length > jobsBefore && store.jobs().at(-1)!.state !== 'running', 600_000, 'the stop job');
    row(`  stop of ${NODES} (revoke + services down)`, `${f((performance.now() - t0) / 1000)} s`);
    const codes = await Promise.all(gws.map((g) => g.stop()));
    const left = (await Promise.all(gws.map((g) => g.leftovers()))).flat();
    row('  gateways SIGTERM: exit codes; leftovers', `${codes.join(',')}; ${left.length ? left.slice(0, 5).join('; ') : 'none'}`);
  }

  const gw1 = L.gateways[0]!;
  // ---- 1 gateway ----
  console.log('\n1 gateway');
  await gw1.start();
  await waitFor(() => up().includes('gw1'), 30_000, 'gw1 up');
  await sleep(1000);
  const base = gatewayFootprint(gw1);
  row('gw1 PSS with 0 nodes (gateway process)', `${f(base.pssKb / 1024)} MB`);
  const one = await startAll([gw1]);
  printStart('1 gw', one);
  await sleep(1000);
  const full = gatewayFootprint(gw1);
  row(`gw1 PSS with ${one.online} online (gateway + ${full.ovpn} openvpn)`, `${f(full.pssKb / 1024)} MB`);
  row('  PSS per online node: total / above the 0-node baseline', `${f(full.pssKb / 1024 / Math.max(1, one.online), 2)} / ${f((full.pssKb - base.pssKb) / 1024 / Math.max(1, one.online), 2)} MB (target < 2 MB)`);
  port.calls.length = 0; // the recorded zips are not the bot's
  gc();
  const memOne = process.memoryUsage();
  row('bot RSS (this process, after GC): 0 nodes / 1 gw, all online', `${f(mb(rssEmpty))} / ${f(mb(memOne.rss))} MB (JS heap used ${f(mb(memEmpty.heapUsed))} / ${f(mb(memOne.heapUsed))} MB)`);

  // ---- round trips against the loaded gateway ----
  const remote = control.port('gw1')!;
  const online = store.nodes().filter((n) => n.status === 'online' && n.gateway === 'gw1');
  for (let i = 0; i < 100; i++) await remote.describe(); // warm-up
  const describeMs: number[] = [];
  for (let i = 0; i < Number(values.describes); i++) {
    const t0 = performance.now();
    await remote.describe();
    describeMs.push(performance.now() - t0);
  }
  const checkMs: number[] = [];
  let checkFailed = 0;
  for (let i = 0; i < Number(values.checks); i++) {
    const t0 = performance.now();
    const c = await remote.check(online[i % online.length]!.id);
    checkMs.push(performance.now() - t0);
    if (!c.ok) checkFailed++;
  }
  row(`describe round trip x${describeMs.length}, ${online.length} online: p50 / p99 / max`, `${f(q(describeMs, 0.5), 2)} / ${f(q(describeMs, 0.99), 2)} / ${f(q(describeMs, 1), 2)} ms (target p99 < 50)`);
  row(`check round trip x${checkMs.length}: p50 / p99 / max`, `${f(q(checkMs, 0.5), 2)} / ${f(q(checkMs, 0.99), 2)} / ${f(q(checkMs, 1), 2)} ms${checkFailed ? ` (${checkFailed} not ok)` : ''}`);

  // ---- proxied throughput through one node of gw1 ----
  const bytes = Number(values.mb) * 1024 * 1024;
  const BIG = `const b=Buffer.alloc(1<<20);require('http').createServer((q,s)=>{let n=${Number(values.mb)};s.writeHead(200,{'content-length':String(${bytes})});const w=()=>{while(n>0){n--;if(!s.write(b))return s.once('drain',w);}s.end();};w();}).listen(${BIG_PORT},'0.0.0.0',()=>console.log('listening'))`;
  L.web.spawn(process.execPath, ['-e', BIG]);
  // The lab's web namespace answers only its tunnels; the direct row needs a way back to the client.
  await L.web.exec('ip', ['route', 'add', `${L.client.nsAddr}/32`, 'via', L.web.hostAddr]);
  await L.web.waitForListener(BIG_PORT);
  const curl = async (socks: { host: string; port: number; login: string; password: string } | null) => {
    const args = ['netns', 'exec', L.client.ns, 'curl', '-s', '-o', '/dev/null', '-w', '%{speed_download} %{size_download}', '--max-time', '60', '-K', '-', `http://${L.webAddr}:${BIG_PORT}/`];
    // Credentials on stdin (curl -K -), never in argv.
    const input = socks ? `socks5 = "${socks.host}:${socks.port}"\nproxy-user = "${socks.login}:${socks.password}"\n` : '';
    const child = execFileP('ip', args, { encoding: 'utf8' });
    child.child.stdin!.end(input);
    const out = await child.catch((err: { stdout?: string; code?: number }) => {
      console.log(`  (curl ended with exit code ${err.code})`);
      return { stdout: err.stdout ?? '0 0' };
    });
    const [speed, size] = out.stdout.trim().split(' ').map(Number);
    return { mbit: (speed! * 8) / 1e6, size: size! };
  };
  const direct = await curl(null);
  const n0 = online[0]!;
  const cpu0 = gatewayFootprint(gw1).gatewayCpu;
  const t0 = performance.now();
  const proxied = await curl(n0.socks!);
  const proxSec = (performance.now() - t0) / 1000;
  const gwCpuPerGb = (gatewayFootprint(gw1).gatewayCpu - cpu0) / (proxied.size / 1e9);
  row(`curl ${values.mb} MB client ns -> web ns: direct / via a gw1 SOCKS proxy`, `${f(direct.mbit, 0)} / ${f(proxied.mbit, 0)} Mbit/s (ratio ${f(proxied.mbit / direct.mbit, 2)}; ${proxied.size === bytes ? 'complete' : `${proxied.size} bytes`})`);
  row('  gw1 CPU per proxied GB (gateway process)', `${f(gwCpuPerGb, 2)} s (${f(proxSec, 1)} s transfer)`);

  // ---- everything stopped between the runs ----
  await stopEverything([gw1]);

  // ---- 3 gateways ----
  console.log('\n3 gateways');
  await Promise.all(L.gateways.map((g) => g.start()));
  await waitFor(() => up().join(',') === NAMES.join(','), 30_000, 'three gateways up');
  await sleep(1000);
  const base3 = L.gateways.map(gatewayFootprint);
  const three = await startAll(L.gateways);
  printStart('3 gw', three);
  await sleep(1000);
  const full3 = L.gateways.map(gatewayFootprint);
  const on = (name: string) => store.nodes().filter((n) => n.status === 'online' && n.gateway === name).length;
  for (const [i, g] of L.gateways.entries()) {
    const k = on(g.name);
    row(`${g.name}: online; PSS 0 nodes -> online; per node (total / above base)`, `${k}; ${f(base3[i]!.pssKb / 1024)} -> ${f(full3[i]!.pssKb / 1024)} MB; ${f(full3[i]!.pssKb / 1024 / Math.max(1, k), 2)} / ${f((full3[i]!.pssKb - base3[i]!.pssKb) / 1024 / Math.max(1, k), 2)} MB`);
  }
  port.calls.length = 0;
  gc();
  const memThree = process.memoryUsage();
  row('bot RSS (this process, after GC): 3 gw, all online', `${f(mb(memThree.rss))} MB (JS heap used ${f(mb(memThree.heapUsed))} MB; RSS keeps the 1-gw run's peak)`);

  // ---- kill -9 of one gateway, default GATEWAY_DEAD_AFTER ----
  let kill: { downMs: number; offlineMs: number; nodes: number; lastBeatAgoMs: number } | null = null;
  if (!values['skip-kill']) {
    const victim = L.gateways[1]!;
    const mine = store.nodes().filter((n) => n.gateway === victim.name && n.status === 'online').map((n) => n.id);
    let downAt = 0;
    const onState = (m: unknown) => {
      const s = m as { gateway: string; up: boolean };
      if (s.gateway === victim.name && !s.up && !downAt) downAt = performance.now();
    };
    subscribe('connexa:gateway.state', onState);
    const lastBeat = directory.list().find((g) => g.name === victim.name)?.lastHeartbeatAt;
    const k0 = performance.now();
    const lastBeatAgoMs = lastBeat ? Date.now() - lastBeat : NaN;
    await victim.kill9();
    await waitFor(() => mine.every((id) => store.get(id)!.status === 'offline'), 180_000, 'the nodes offline', 20);
    const offlineMs = performance.now() - k0;
    kill = { downMs: downAt - k0, offlineMs, nodes: mine.length, lastBeatAgoMs };
    row(`kill -9 ${victim.name} (${mine.length} nodes): -> seen down / -> all offline in store`, `${f(kill.downMs / 1000, 2)} / ${f(offlineMs / 1000, 2)} s (GATEWAY_DEAD_AFTER ${config.GATEWAY_DEAD_AFTER / 1000} s)`);
    row('  monitor run share (down -> offline)', `${f((offlineMs - kill.downMs) / 1000, 2)} s; last heartbeat ${f(lastBeatAgoMs / 1000, 1)} s before the kill`);
  }

  // ---- the transport alone (stand-in gateway, loopback Redis) ----
  console.log('\ntransport alone (bench/gateways-rtt.ts: a stand-in port, no tunnels)');
  const rtt = spawnSync(process.execPath, [path.join(import.meta.dirname, 'gateways-rtt.ts'), '--calls', values.describes!], { encoding: 'utf8' });
  for (const l of (rtt.stdout + rtt.stderr).trim().split('\n')) console.log(`  ${l}`);

  // ---- the model ----
  const cores = os.cpus().length;
  const perNode = (x: number) => x / Math.max(1, one.online);
  const cGw = perNode(one.cpu.gateways + one.cpu.ovpn);
  const cBot = perNode(one.cpu.bot);
  const cRedis = perNode(one.cpu.redis);
  const lat = q(one.perNodeBot, 0.5) / 1000;
  console.log(`\nmodel: gateways on separate hosts (per-node costs from the 1-gateway run; ${cores} cores here shared by everything)`);
  console.log(`  per node start: gateway + openvpn ${f(cGw * 1000)} ms CPU, bot ${f(cBot * 1000)} ms, redis ${f(cRedis * 1000)} ms; latency p50 ${f(lat * 1000, 0)} ms, ${START_CONCURRENCY} in flight per gateway`);
  const latencyBound = (NODES * lat) / START_CONCURRENCY;
  const cpuBoundHere = (NODES * (cGw + cBot + cRedis)) / cores;
  console.log(`  here: 1 gw is latency-bound (${NODES} x p50 / ${START_CONCURRENCY} = ${f(latencyBound)} s, measured ${f(one.seconds)} s);`);
  console.log(`        3 gw is CPU-bound (${NODES} x all CPU per node / ${cores} cores = ${f(cpuBoundHere)} s, measured ${f(three.seconds)} s)`);
  console.log('  assumptions: each gateway on a host of its own with 2 cores and a 1 Gbit/s NIC; bot and Redis on a 2-core host;');
  console.log('  the per-node CPU and latency measured here (latency under contention for 2 cores: an upper bound; the veth driver');
  console.log(`  stands in for pppd, whose tunnel costs more); ${START_CONCURRENCY} starts in flight per gateway. A gateway starts its share in`);
  console.log('  (nodes/N) x max(CPU per node / 2 cores, p50 / in flight); the bot and Redis, in nodes x their CPU per node / 2 cores.');
  console.log('  Bandwidth: every proxied byte crosses the host that runs its node twice (in from the tunnel, out to the client);');
  console.log('  a 1 Gbit/s NIC carries 1 Gbit/s of it when full duplex, 0.5 Gbit/s when in and out are metered together.');
  console.log('  With one host for everything (the bot\'s) that is the ceiling of the whole fleet; with N gateways the bot\'s host');
  console.log('  carries no proxied byte (only commands over Redis) and each gateway carries 1/N, capped by its CPU per byte.');
  const gwBytesPerSec = gwCpuPerGb > 0 ? (2 * 1e9) / gwCpuPerGb : NaN; // 2 cores of a gateway host
  const cpuCapGbit = (gwBytesPerSec * 8) / 1e9;
  console.log(`  A gateway's 2 cores proxy ~${f(cpuCapGbit, 1)} Gbit/s by its process CPU per GB above (kernel forwarding not counted).`);
  console.log('  N gw   600 nodes online   6,000 nodes online   proxied bandwidth, full duplex / in+out metered');
  for (const n of [1, 2, 3, 5, 10]) {
    const est = (nodes: number) => Math.max((nodes / n) * Math.max(cGw / 2, lat / START_CONCURRENCY), (nodes * (cBot + cRedis)) / 2);
    console.log(`  ${String(n).padStart(4)}   ${f(est(600)).padStart(14)} s   ${f(est(6000)).padStart(16)} s   ${f(Math.min(1, cpuCapGbit) * n, 1)} / ${f(Math.min(0.5, cpuCapGbit) * n, 1)} Gbit/s`);
  }
  console.log(`  (the bot's own floor: ${f(2 / (cBot + cRedis), 0)} nodes/s on 2 cores; one host for everything: ${f(Math.min(1, cpuCapGbit), 1)} / ${f(Math.min(0.5, cpuCapGbit), 1)} Gbit/s)`);
  console.log(`\ntotal bench time ${f((performance.now() - tTotal) / 1000, 0)} s`);
} finally {
  await app?.close().catch(() => {});
  for (const g of lab?.gateways ?? []) await g.stop().catch(() => {});
  await sim?.stop().catch(() => {});
  await lab?.cleanup().catch(() => {});
  fs.rmSync(labDir, { recursive: true, force: true });
}
