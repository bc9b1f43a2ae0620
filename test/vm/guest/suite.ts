/**
 * The VM lab's in-guest suite, bundled by esbuild into one CommonJS file with the project's real
 * tunnel driver, speed probe and speed stage, and run by the guest's init with the host's node.
 *
 * Roles (argv):
 *   OUT               main: builds the lab (namespaces srv/cli, pptpd, speed servers), runs the
 *                     client role inside the cli namespace, collects logs into OUT;
 *   --client OUT      the scenarios, run inside the cli namespace, writing OUT/results.json;
 *   --server H P LOG  a speed server on H:P inside the srv namespace, logging requests to LOG.
 *
 * The guest records facts (kinds, reasons, addresses, timings, leftovers); the host-side test
 * (test/vm/vm-lab.vm.ts) asserts on them.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { speedStage } from '../../../src/pipeline/stages/speed.ts';
import { measureDownload, type MeasureResult } from '../../../src/probes/speed/measure.ts';
import { startSpeedServer } from '../../../src/probes/speed/server.ts';
import { PppdDriver } from '../../../src/probes/tunnel/pppd.ts';
import { RULE_PREF, TABLE_BASE } from '../../../src/probes/tunnel/routes.ts';
import type { OpenResult, Tunnel } from '../../../src/probes/tunnel/types.ts';
import type { FleetNode } from '../../../src/fleet/node.ts';
import { parseConfig } from '../../../src/config.ts';
import { createLogger } from '../../../src/log.ts';
import { createGateways } from '../../../src/gateway/index.ts';
import { measureNodeSpeed } from '../../../src/services/speed-test.ts';
import { Leases } from '../../../src/pipeline/leases.ts';
import { Store } from '../../../src/store/store.ts';
import { LAB, UNICODE_LOGIN, WEIRD } from './lab-constants.ts';

const NODE = process.execPath;
const SELF = process.argv[1]!;

function sh(cmd: string, args: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (opts.allowFail) return '';
    const e = err as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}
const inNs = (ns: string, cmd: string, args: string[], opts?: { allowFail?: boolean }) => sh('ip', ['netns', 'exec', ns, cmd, ...args], opts);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** chap-secrets quoting written independently of the driver's quotePppdWord (raw UTF-8, not \xHH). */
function chapWord(v: string): string {
  return `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The form in which a pppd SERVER looks a peer's name up in chap-secrets: it "cleans" the name it
 * received with its %v format (bytes >= 0x80 become "M-" + the low 7 bits, control characters
 * "^X"). The bytes on the wire are the client's; only the server's lookup key changes.
 */
function pppdVisible(v: string): string {
  let out = '';
  for (let c of Buffer.from(v, 'utf8')) {
    if (c >= 0x80) {
      out += 'M-';
      c -= 0x80;
    }
    if (c < 0x20 || c === 0x7f) out += c === 0x09 ? '\t' : `^${String.fromCharCode(c ^ 0x40)}`;
    else out += String.fromCharCode(c);
  }
  return out;
}

// ---------------------------------------------------------------- main (root namespace)
async function main(out: string): Promise<number> {
  const log = (l: string) => fs.appendFileSync(path.join(out, 'main.log'), `${(performance.now() / 1000).toFixed(2)} ${l}\n`);
  const lab = '/tmp/lab';
  fs.mkdirSync(lab, { recursive: true });
  const children: ChildProcess[] = [];
  try {
    log('setting up namespaces');
    sh('ip', ['netns', 'add', 'srv']);
    sh('ip', ['netns', 'add', 'cli']);
    sh('ip', ['link', 'add', 'vs', 'type', 'veth', 'peer', 'name', 'vc']);
    sh('ip', ['link', 'set', 'vs', 'netns', 'srv']);
    sh('ip', ['link', 'set', 'vc', 'netns', 'cli']);
    for (const ns of ['srv', 'cli']) inNs(ns, 'ip', ['link', 'set', 'lo', 'up']);
    inNs('srv', 'ip', ['addr', 'add', `${LAB.server}/24`, 'dev', 'vs']);
    inNs('srv', 'ip', ['addr', 'add', `${LAB.refusing}/24`, 'dev', 'vs']);
    inNs('srv', 'ip', ['addr', 'add', `${LAB.server2}/24`, 'dev', 'vs']);
    inNs('srv', 'ip', ['link', 'set', 'vs', 'up']);
    inNs('cli', 'ip', ['addr', 'add', `${LAB.client}/24`, 'dev', 'vc']);
    inNs('cli', 'ip', ['link', 'set', 'vc', 'up']);
    // Reachable only through a tunnel (server side: its lo; client side: no route but the policy table).
    inNs('srv', 'ip', ['addr', 'add', `${LAB.behindTunnel}/32`, 'dev', 'lo']);
    // The speed server binds the tunnel's remote address before any tunnel exists.
    inNs('srv', 'sysctl', ['-q', '-w', 'net.ipv4.ip_nonlocal_bind=1']);
    inNs('srv', 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);

    fs.writeFileSync(`${lab}/pptpd-options`, ['name pptpd', 'require-mschap-v2', 'require-mppe-128', 'refuse-pap', 'refuse-chap', 'refuse-mschap', 'nodefaultroute', 'nobsdcomp', 'nodeflate', 'novj', 'lcp-echo-interval 2', 'lcp-echo-failure 3', 'debug', `logfile ${out}/server-pppd.log`, ''].join('\n'));
    fs.writeFileSync(`${lab}/pptpd.conf`, [`option ${lab}/pptpd-options`, `localip ${LAB.tunnelRemote}`, `remoteip ${LAB.tunnelPool}`, ''].join('\n'));
    fs.writeFileSync(`${lab}/pptpd2.conf`, [`option ${lab}/pptpd-options`, `localip ${LAB.tunnelRemote2}`, `remoteip ${LAB.tunnelPool2}`, ''].join('\n'));
    fs.mkdirSync('/etc/ppp', { recursive: true });
    fs.writeFileSync('/etc/ppp/chap-secrets', [`${LAB.login} pptpd ${LAB.password} *`, `${chapWord(WEIRD.login)} pptpd ${chapWord(WEIRD.password)} *`, `${chapWord(pppdVisible(UNICODE_LOGIN.login))} pptpd ${chapWord(UNICODE_LOGIN.password)} *`, ''].join('\n'), { mode: 0o600 });
    for (const [conf, addr] of [['pptpd', LAB.server], ['pptpd2', LAB.server2]] as const) {
      children.push(spawn('ip', ['netns', 'exec', 'srv', 'pptpd', '-f', '-c', `${lab}/${conf}.conf`, '-p', `${lab}/${conf}.pid`, '-l', addr], { stdio: 'ignore' }));
    }
    // One node process (slow to start under emulation) serves every speed-server address.
    const pairs = [`${LAB.tunnelRemote}=${out}/speed-remote.jsonl`, `${LAB.tunnelRemote2}=${out}/speed-remote2.jsonl`, `${LAB.behindTunnel}=${out}/speed-behind.jsonl`];
    const srv = spawn('ip', ['netns', 'exec', 'srv', NODE, SELF, '--server', pairs.join(','), String(LAB.speedPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(srv);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the speed servers did not start')), 30_000);
      let seen = '';
      srv.stdout!.on('data', (c: Buffer) => {
        seen += c.toString();
        if (seen.split('listening').length > pairs.length) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    for (let i = 0; i < 100 && inNs('srv', 'ss', ['-Hltn', 'sport = :1723']).trim().split('\n').length < 2; i++) await sleep(100);
    log('lab ready; running the client in the cli namespace');
    const client = spawn('ip', ['netns', 'exec', 'cli', NODE, SELF, '--client', out], { stdio: ['ignore', 'inherit', 'inherit'] });
    const code = await new Promise<number>((r) => client.once('exit', (c) => r(c ?? 1)));
    log(`client exited ${code}`);
    return code;
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await sleep(300);
    fs.writeFileSync(path.join(out, 'ps.txt'), sh('ps', ['-eo', 'pid,ppid,pgid,comm,args'], { allowFail: true }));
  }
}

// ---------------------------------------------------------------- speed server (srv namespace)
async function server(pairs: string, port: number): Promise<void> {
  for (const pair of pairs.split(',')) {
    const [host, logFile] = pair.split('=') as [string, string];
    // open: the VM's private namespaces, which nothing outside reaches.
    const s = await startSpeedServer({ host, port, open: true, maxBytes: 4 * 1024 * 1024 * 1024, onRequest: (i) => fs.appendFileSync(logFile, `${JSON.stringify(i)}\n`) });
    process.stdout.write(`speed server listening ${s.url}\n`);
  }
  process.once('SIGTERM', () => process.exit(0));
}

// ---------------------------------------------------------------- client (cli namespace)
interface Leftovers {
  processes: string[];
  rules: string[];
  routes: string[];
  pppIfaces: string[];
  runFiles: string[];
}

interface ScenarioResult {
  name: string;
  ms: number;
  facts: Record<string, unknown>;
  leftovers?: Leftovers;
  error?: string;
}

const RUN_DIR = '/tmp/connexa-data/run';

function pppdProcessesHere(): Array<{ pid: number; comm: string; cmdline: string }> {
  // Processes in this network namespace only (the server's pppd lives in srv).
  const myNs = fs.readlinkSync('/proc/self/ns/net');
  const found: Array<{ pid: number; comm: string; cmdline: string }> = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (fs.readlinkSync(`/proc/${e}/ns/net`) !== myNs) continue;
      const comm = fs.readFileSync(`/proc/${e}/comm`, 'utf8').trim();
      if (comm === 'pppd' || comm === 'pptp') found.push({ pid: Number(e), comm, cmdline: fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

async function leftovers(): Promise<Leftovers> {
  // Give pptp's call manager a moment to finish: it must be gone, not merely dying.
  let l: Leftovers;
  for (let i = 0; ; i++) {
    l = {
      processes: pppdProcessesHere().map((p) => `${p.pid} ${p.comm}`),
      rules: sh('ip', ['-4', 'rule', 'show']).split('\n').filter((r) => r.startsWith(`${RULE_PREF}:`)),
      // Our tables are TABLE_BASE + unit (17000-17099 here); any route through a ppp device counts too.
      routes: sh('ip', ['-4', 'route', 'show', 'table', 'all']).split('\n').filter((r) => /\btable 170\d\d\b/.test(r) || /dev ppp/.test(r)),
      pppIfaces: fs.readdirSync('/sys/class/net').filter((n) => n.startsWith('ppp')),
      runFiles: fs.existsSync(RUN_DIR) ? fs.readdirSync(RUN_DIR) : [],
    };
    const clean = Object.values(l).every((v) => v.length === 0);
    if (clean || i >= 30) return l;
    await sleep(100);
  }
}

function serverRequests(file: string): Array<{ method: string; remoteAddress: string; bytes: number }> {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { method: string; remoteAddress: string; bytes: number });
}

const rxBytes = (iface: string) => Number(fs.readFileSync(`/sys/class/net/${iface}/statistics/rx_bytes`, 'utf8'));

function openFacts(r: OpenResult): Record<string, unknown> {
  return r.ok ? { ok: true, iface: r.tunnel.iface, localAddress: r.tunnel.localAddress, remoteAddress: r.tunnel.remoteAddress, setupMs: r.tunnel.setupMs } : { ok: false, kind: r.kind, reason: r.reason, elapsedMs: r.elapsedMs };
}

function measureFacts(m: MeasureResult): Record<string, unknown> {
  return m.ok ? { ok: true, mbps: m.mbps, bytes: m.bytes, seconds: m.seconds, totalBytes: m.totalBytes } : { ok: false, kind: m.kind, reason: m.reason, totalBytes: m.totalBytes };
}

function fakeNode(login: string, password: string, ip: string = LAB.server): FleetNode {
  const now = new Date().toISOString();
  return { id: 'n1', ip, port: 1723, login, password, provider: null, country: null, state: null, city: null, zip: null, comment: null, geo: null, status: 'ping_ok', createdAt: now, updatedAt: now, importedFrom: null, pptp: null, speed: null, socks: null, ovpn: null, monitor: null, history: [] };
}

async function client(out: string): Promise<number> {
  const results: ScenarioResult[] = [];
  const pppdLines: string[] = [];
  const driver = new PppdDriver({ runDir: RUN_DIR, killGraceMs: 2000, onLine: (l) => pppdLines.push(`${(performance.now() / 1000).toFixed(2)} ${l}`) });
  const remoteUrl = `http://${LAB.tunnelRemote}:${LAB.speedPort}/?bytes=${LAB.downloadBytes}`;
  const write = () => fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify({ results, pppdLines, node: process.version }, null, 1));

  const scenario = async (name: string, body: (facts: Record<string, unknown>) => Promise<void>, checkLeftovers = true) => {
    const t0 = performance.now();
    const facts: Record<string, unknown> = {};
    const r: ScenarioResult = { name, ms: 0, facts };
    pppdLines.push(`--- ${name}`);
    try {
      await body(facts);
    } catch (err) {
      r.error = (err as Error).stack ?? String(err);
    }
    if (checkLeftovers) r.leftovers = await leftovers();
    r.ms = Math.round(performance.now() - t0);
    results.push(r);
    write();
  };

  await scenario('good', async (f) => {
    const before = { unbound: await measureDownload({ url: `http://${LAB.tunnelRemote}:${LAB.speedPort}/?bytes=1024`, bytes: 1024, timeoutMs: 3000, stallMs: 3000 }) };
    // Before the tunnel the server's address is not reachable from here at all.
    f.beforeTunnel = measureFacts(before.unbound);
    const r = await driver.open({ ip: LAB.server, port: 1723, login: LAB.login, password: LAB.password }, { timeoutMs: 30_000 });
    f.open = openFacts(r);
    if (!r.ok) return;
    const t = r.tunnel;
    const procs = pppdProcessesHere();
    f.pppdArgv = procs.filter((p) => p.comm === 'pppd').map((p) => p.cmdline);
    f.argvHasPassword = procs.some((p) => p.cmdline.includes(LAB.password));
    f.runFilesWhileUp = fs.readdirSync(RUN_DIR);
    f.rules = sh('ip', ['-4', 'rule', 'show']).split('\n').filter((l) => l.startsWith(`${RULE_PREF}:`));
    f.tableRoutes = sh('ip', ['-4', 'route', 'show', 'table', String(TABLE_BASE + Number(t.iface.slice(3)))]).trim();
    const rx0 = rxBytes(t.iface);
    const m = await measureDownload({ url: remoteUrl, localAddress: t.localAddress, bytes: LAB.downloadBytes, maxSeconds: 8, timeoutMs: 30_000, stallMs: 5000 });
    f.download = measureFacts(m);
    f.rxDelta = rxBytes(t.iface) - rx0;
    // Only the policy route leads to this address: proof that bound traffic takes the tunnel.
    f.behindUnbound = measureFacts(await measureDownload({ url: `http://${LAB.behindTunnel}:${LAB.speedPort}/?bytes=65536`, bytes: 65536, timeoutMs: 3000, stallMs: 3000 }));
    f.behindBound = measureFacts(await measureDownload({ url: `http://${LAB.behindTunnel}:${LAB.speedPort}/?bytes=262144`, localAddress: t.localAddress, bytes: 262144, timeoutMs: 15_000, stallMs: 5000 }));
    f.serverSaw = serverRequests(`${out}/speed-remote.jsonl`).map((q) => q.remoteAddress);
    f.behindServerSaw = serverRequests(`${out}/speed-behind.jsonl`).map((q) => q.remoteAddress);
    const tc = performance.now();
    await t.close();
    f.closeMs = Math.round(performance.now() - tc);
    f.closedWhy = (await t.closed).why;
  });

  await scenario('wrong_password', async (f) => {
    f.open = openFacts(await driver.open({ ip: LAB.server, port: 1723, login: LAB.login, password: 'not-the-password' }, { timeoutMs: 20_000 }));
  });

  await scenario('refused', async (f) => {
    f.open = openFacts(await driver.open({ ip: LAB.refusing, port: 1723, login: LAB.login, password: LAB.password }, { timeoutMs: 20_000 }));
  });

  await scenario('no_such_host', async (f) => {
    f.open = openFacts(await driver.open({ ip: LAB.absent, port: 1723, login: LAB.login, password: LAB.password }, { timeoutMs: 20_000 }));
  });

  await scenario('host_name', async (f) => {
    f.open = openFacts(await driver.open({ ip: 'pptp.example.com', port: 1723, login: LAB.login, password: LAB.password }, { timeoutMs: 5_000 }));
  });

  await scenario('weird_credentials', async (f) => {
    const r = await driver.open({ ip: LAB.server, port: 1723, login: WEIRD.login, password: WEIRD.password }, { timeoutMs: 30_000 });
    f.open = openFacts(r);
    if (!r.ok) return;
    f.argvHasPassword = pppdProcessesHere().some((p) => p.cmdline.includes(WEIRD.password));
    await r.tunnel.close();
  });

  await scenario('unicode_login', async (f) => {
    f.open = openFacts(await driver.open({ ip: LAB.server, port: 1723, login: UNICODE_LOGIN.login, password: UNICODE_LOGIN.password }, { timeoutMs: 20_000 }));
  });

  await scenario('deadline', async (f) => {
    f.open = openFacts(await driver.open({ ip: LAB.server, port: 1723, login: LAB.login, password: LAB.password }, { timeoutMs: 700 }));
  });

  await scenario('cancel', async (f) => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 1200);
    f.open = openFacts(await driver.open({ ip: LAB.server, port: 1723, login: LAB.login, password: LAB.password }, { timeoutMs: 30_000, signal: ac.signal }));
  });

  // The guest gets one bundled file, not node_modules: no IP database to locate the exit address
  // with (the exit here is a private lab address, which the database has no place for anyway).
  const noDatabase = () => ({ country: null, region: null, city: null, source: 'no IP database in the VM guest' });
  const stage = (bytes: number, stallMs: number, minMbps = 0.1) =>
    speedStage({ gateways: [{ name: 'local', local: true, speedTest: (req, signal) => measureNodeSpeed(driver, req, signal, noDatabase) }], perGateway: 1, url: `http://${LAB.tunnelRemote}:${LAB.speedPort}/?bytes=${bytes}`, minMbps, openTimeoutMs: 30_000, downloadBytes: bytes, maxSeconds: 6, uploadBytes: 1024 * 1024, stallMs });

  await scenario('stage_ok', async (f) => {
    const out1 = await stage(LAB.downloadBytes, 5000).run(fakeNode(LAB.login, LAB.password), new AbortController().signal);
    f.outcome = { result: out1.result, outcome: out1.outcome, reason: out1.reason, speed: out1.patch.speed ?? null };
  });

  await scenario('stage_auth_failed', async (f) => {
    const out1 = await stage(LAB.downloadBytes, 5000).run(fakeNode(LAB.login, 'wrong'), new AbortController().signal);
    f.outcome = { result: out1.result, outcome: out1.outcome, reason: out1.reason, speed: out1.patch.speed ?? null };
  });

  await scenario('stage_slow', async (f) => {
    const out1 = await stage(LAB.downloadBytes, 5000, 100_000).run(fakeNode(LAB.login, LAB.password), new AbortController().signal);
    f.outcome = { result: out1.result, outcome: out1.outcome, reason: out1.reason, speed: out1.patch.speed ?? null };
  });

  await scenario('tunnel_drops_mid_transfer', async (f) => {
    // A download far larger than the window; once bytes flow, the server side's pppd is killed.
    const st = stage(2 * 1024 * 1024 * 1024, 4000);
    const killer = (async () => {
      for (let i = 0; i < 300; i++) {
        await sleep(100);
        const got = serverRequests(`${out}/speed-remote.jsonl`).length;
        const ifaces = fs.readdirSync('/sys/class/net').filter((n) => n.startsWith('ppp'));
        if (ifaces.length && rxBytes(ifaces[0]!) > 512 * 1024) {
          const pids = sh('ip', ['netns', 'pids', 'srv']).split(/\s+/).filter(Boolean);
          const victims = pids.filter((p) => {
            try {
              return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'pppd';
            } catch {
              return false;
            }
          });
          for (const v of victims) process.kill(Number(v), 'SIGKILL');
          return { killed: victims.length, afterRx: rxBytes(ifaces[0]!), requestsBefore: got };
        }
      }
      return { killed: 0 };
    })();
    const out1 = await st.run(fakeNode(LAB.login, LAB.password), new AbortController().signal);
    f.killer = await killer;
    f.outcome = { result: out1.result, outcome: out1.outcome, reason: out1.reason, speed: out1.patch.speed ?? null };
  });

  await scenario('two_servers_at_once', async (f) => {
    const [a, b] = await Promise.all([
      driver.open({ ip: LAB.server, port: 1723, login: LAB.login, password: LAB.password }, { timeoutMs: 30_000 }),
      driver.open({ ip: LAB.server2, port: 1723, login: WEIRD.login, password: WEIRD.password }, { timeoutMs: 30_000 }),
    ]);
    f.a = openFacts(a);
    f.b = openFacts(b);
    const tunnels = [a, b].filter((r): r is { ok: true; tunnel: Tunnel } => r.ok).map((r) => r.tunnel);
    f.rules = sh('ip', ['-4', 'rule', 'show']).split('\n').filter((l) => l.startsWith(`${RULE_PREF}:`));
    const ms = await Promise.all(tunnels.map((t) => measureDownload({ url: `http://${t.remoteAddress}:${LAB.speedPort}/?bytes=1048576`, localAddress: t.localAddress, bytes: 1048576, timeoutMs: 30_000, stallMs: 5000 })));
    f.downloads = ms.map(measureFacts);
    f.server2Saw = serverRequests(`${out}/speed-remote2.jsonl`).map((q) => q.remoteAddress);
    await Promise.all(tunnels.map((t) => t.close()));
  });

  await scenario('same_server_queued', async (f) => {
    // Two accounts on one server address: the second waits for the first instead of failing.
    const a = await driver.open({ ip: LAB.server, port: 1723, login: LAB.login, password: LAB.password }, { timeoutMs: 30_000 });
    f.a = openFacts(a);
    if (!a.ok) return;
    const busy = await driver.open({ ip: LAB.server, port: 1723, login: WEIRD.login, password: WEIRD.password }, { timeoutMs: 800 });
    f.busy = openFacts(busy);
    const t0 = performance.now();
    const bPromise = driver.open({ ip: LAB.server, port: 1723, login: WEIRD.login, password: WEIRD.password }, { timeoutMs: 30_000 });
    await sleep(1500);
    await a.tunnel.close();
    f.heldMs = Math.round(performance.now() - t0);
    const b = await bPromise;
    f.b = openFacts(b);
    if (b.ok) {
      f.bDownload = measureFacts(await measureDownload({ url: `http://${b.tunnel.remoteAddress}:${LAB.speedPort}/?bytes=262144`, localAddress: b.tunnel.localAddress, bytes: 262144, timeoutMs: 20_000, stallMs: 5000 }));
      await b.tunnel.close();
    }
  });

  await scenario('services_socks_through_tunnel', async (f) => {
    // `start` end to end through a real PPTP tunnel: the local gateway opens the node's tunnel with
    // the pppd driver and starts its SOCKS proxy; curl through the proxy must leave via ppp0.
    const dir = fs.mkdtempSync('/tmp/connexa-services-');
    const store = await Store.open(dir);
    const [node] = store.addNodes([{ ip: LAB.server, port: 1723, login: LAB.login, password: LAB.password }], 'vm');
    for (const [from, to] of [['not_tested', 'ping_ok'], ['ping_ok', 'speed_ok']] as const) store.transition({ id: node!.id, from, to, reason: 'vm lab', actor: 'vm' });
    const services = createGateways({
      config: parseConfig({ DATA_DIR: dir, SOCKS_BIND: '127.0.0.1', SOCKS_PORT_RANGE: '20000-20009' }),
      store,
      leases: new Leases(),
      log: createLogger('error', () => {}),
      tunnels: { driver, capability: () => ({ ok: true }) },
    });
    try {
      const r = await services.start(store.get(node!.id)!);
      if (!r.ok) throw new Error(r.reason);
      const started = { ...r.services, tunnel: r.services.tunnel! };
      f.started = { iface: started.tunnel.iface, localAddress: started.tunnel.localAddress, socksPort: started.socks.port, ovpnServer: started.ovpnServer, startMs: started.startMs };
      const proxy = `socks5h://${encodeURIComponent(started.socks.login)}:${encodeURIComponent(started.socks.password)}@127.0.0.1:${started.socks.port}`;
      const tx0 = Number(fs.readFileSync(`/sys/class/net/${started.tunnel.iface}/statistics/tx_bytes`, 'utf8'));
      // curl runs asynchronously: the proxy it talks to lives in this very process.
      const curl = (args: string[], config = '') =>
        new Promise<{ exit: number; out: string }>((resolve) => {
          const child = spawn('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', '--max-time', '30', '-K', '-', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d));
          child.stderr.on('data', (d: Buffer) => (out += d));
          child.on('error', (err) => resolve({ exit: -1, out: err.message }));
          child.on('close', (code) => resolve({ exit: code ?? -1, out }));
          child.stdin.end(config);
        });
      // An address that only the tunnel's policy route reaches (not even the peer route pppd adds):
      // reaching it proves the proxy's connection left from the tunnel's address, through ppp0.
      const url = `http://${LAB.behindTunnel}:${LAB.speedPort}/?bytes=262144`;
      // The proxy URL carries the password: it reaches curl through its config on stdin, never argv.
      f.viaProxy = await curl([url], `proxy = "${proxy}"\n`);
      f.txDelta = Number(fs.readFileSync(`/sys/class/net/${started.tunnel.iface}/statistics/tx_bytes`, 'utf8')) - tx0;
      f.serverSaw = serverRequests(`${out}/speed-behind.jsonl`).map((q) => q.remoteAddress).slice(-1);
      const wrong = `socks5h://${encodeURIComponent(started.socks.login)}:wrong-password@127.0.0.1:${started.socks.port}`;
      f.wrongPassword = (await curl([url], `proxy = "${wrong}"\n`)).exit;
      f.noProxy = (await curl(['--max-time', '5', url])).exit;
      await services.stop({ ...store.get(node!.id)!, ...r.patch });
      f.pppAfterStop = fs.readdirSync('/sys/class/net').filter((i) => i.startsWith('ppp'));
    } finally {
      await services.close();
      await store.close();
    }
  });

  write();
  return 0;
}

const [a1, a2, a3] = process.argv.slice(2);
const run = a1 === '--server' ? server(a2!, Number(a3)).then(() => null) : a1 === '--client' ? client(a2!) : main(a1 ?? '/mnt/share/out');
run.then(
  (code) => {
    if (code !== null) process.exit(code);
  },
  (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
