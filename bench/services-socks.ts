/**
 * Services benchmark: prints figures, never fails on time.
 *
 *   node bench/services-socks.ts [--gb 1] [--htb-mb 20] [--cps-seconds 3] [--idle 1000] [--ovpn 10]
 *
 * 1. Throughput, `--gb` GB per transfer (curl -o /dev/null), on loopback: direct, Connexa's proxy,
 *    microsocks, dante — each proxy in its own process, the HTTP source in another.
 * 2. (root) Through a started node: the node's tunnel is a veth into a namespace with policy
 *    routing (test/lab/veth-tunnel.ts, what the pppd driver sets up for ppp0); every proxy binds its
 *    outbound side to the node's egress address (microsocks -b, dante `external:`). Then the same
 *    through a 20 Mbit/s HTB link on that tunnel (`--htb-mb` MB per transfer).
 * 3. Connections per second: SOCKS5 handshake + auth + CONNECT + close, 32 at a time.
 * 4. Memory per idle proxy: `--idle` nodes started through the local gateway in one process.
 * 5. (root, openvpn) OpenVPN: handshake time of the Debian client against a server the manager
 *    started, and the start time of one node (tunnel + proxy + certificate + OpenVPN server).
 * Needs curl; microsocks and dante-server for their rows; root for 2 and 5.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { Leases } from '../src/pipeline/leases.ts';
import { randomString } from '../src/services/random.ts';

const execFileP = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHILD = path.join(ROOT, 'bench', 'services-socks-child.ts');
const { values: args } = parseArgs({
  options: { gb: { type: 'string', default: '1' }, 'htb-mb': { type: 'string', default: '20' }, 'cps-seconds': { type: 'string', default: '3' }, idle: { type: 'string', default: '1000' }, ovpn: { type: 'string', default: '10' } },
});
const BYTES = Math.round(Number(args.gb) * 1024 ** 3);
const HTB_BYTES = Math.round(Number(args['htb-mb']) * 1024 ** 2);
const CREDS = { login: `cx${randomString(10).toLowerCase()}`, password: randomString(24) };
const isRoot = process.getuid?.() === 0;
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

function which(bin: string): string | null {
  for (const d of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin']) {
    try {
      fs.accessSync(path.join(d, bin), fs.constants.X_OK);
      return path.join(d, bin);
    } catch {
      // next
    }
  }
  return null;
}

async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** Starts a child of ours (node runs the TypeScript) with a JSON config on stdin; resolves at "ready" (or the first line). */
async function child(config: object, netns?: string, nodeFlags: string[] = []): Promise<{ proc: ChildProcess; firstLine: string }> {
  const argv = [...nodeFlags, CHILD];
  const proc = netns ? spawn('ip', ['netns', 'exec', netns, process.execPath, ...argv], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] }) : spawn(process.execPath, argv, { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(proc);
  proc.stdin!.write(`${JSON.stringify(config)}\n`);
  const firstLine = await new Promise<string>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) resolve(buf.slice(0, i));
    });
    proc.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
  return { proc, firstLine };
}

async function waitListening(port: number, host = '127.0.0.1', netns?: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = netns
      ? (await execFileP('ip', ['netns', 'exec', netns, 'ss', '-Hltn', `sport = :${port}`])).stdout.trim() !== ''
      : await new Promise<boolean>((resolve) => {
          const s = net.connect({ port, host }, () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${host}:${port}`);
}

interface Transfer {
  mbps: number;
  seconds: number;
}

/** curl -o /dev/null; the proxy and its credentials come in a config on stdin. */
function curl(url: string, o: { proxy?: { port: number }; iface?: string; timeoutS?: number }): Promise<Transfer> {
  const config = [`url = "${url}"`, 'silent', 'show-error', 'output = "/dev/null"', 'write-out = "%{size_download} %{time_total}"', `max-time = ${o.timeoutS ?? 300}`];
  if (o.proxy) config.push(`socks5-hostname = "${CREDS.login}:${CREDS.password}@127.0.0.1:${o.proxy.port}"`);
  if (o.iface) config.push(`interface = "${o.iface}"`);
  return new Promise((resolve, reject) => {
    const p = spawn('curl', ['-K', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl exit ${code}: ${err.trim()}`));
      const [size, secs] = out.trim().split(' ').map(Number);
      resolve({ mbps: (size! * 8) / secs! / 1e6, seconds: secs! });
    });
    p.stdin.end(`${config.join('\n')}\n`);
  });
}

// ---- the proxies under test ----

interface ProxyUnderTest {
  name: string;
  port: number;
  stop(): Promise<void>;
}

async function ours(egress: string, anyDest: boolean): Promise<ProxyUnderTest> {
  const port = await freePort();
  const { proc } = await child({ mode: 'proxy', bind: '127.0.0.1', port, ...CREDS, egress, anyDestination: anyDest });
  return { name: 'connexa', port, stop: async () => void proc.kill('SIGKILL') };
}

async function microsocks(egress: string | null): Promise<ProxyUnderTest | null> {
  const bin = which('microsocks');
  if (!bin) return null;
  const port = await freePort();
  const proc = spawn(bin, ['-i', '127.0.0.1', '-p', String(port), '-u', CREDS.login, '-P', CREDS.password, ...(egress ? ['-b', egress] : [])], { stdio: 'ignore' });
  children.push(proc);
  await waitListening(port);
  return { name: 'microsocks', port, stop: async () => void proc.kill('SIGKILL') };
}

/** danted checks system accounts: a private mount namespace with copies of passwd/shadow holding a bench user. */
async function dante(egress: string): Promise<ProxyUnderTest | null> {
  const bin = which('danted');
  if (!bin || !isRoot || !which('unshare')) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnx-dante-'));
  const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: CREDS.password, encoding: 'utf8' }).trim();
  fs.writeFileSync(path.join(dir, 'passwd'), `${fs.readFileSync('/etc/passwd', 'utf8')}${CREDS.login}:x:60123:65534::/nonexistent:/usr/sbin/nologin\n`);
  fs.writeFileSync(path.join(dir, 'shadow'), `${fs.readFileSync('/etc/shadow', 'utf8')}${CREDS.login}:${hash}:19000:0:99999:7:::\n`, { mode: 0o600 });
  const port = await freePort();
  const conf = path.join(dir, 'danted.conf');
  fs.writeFileSync(conf, [`logoutput: ${path.join(dir, 'danted.log')}`, `internal: 127.0.0.1 port = ${port}`, `external: ${egress}`, 'socksmethod: username', 'clientmethod: none', 'user.privileged: root', 'user.unprivileged: nobody', 'client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }', 'socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 command: connect }', ''].join('\n'));
  const script = `mount --bind ${dir}/passwd /etc/passwd && mount --bind ${dir}/shadow /etc/shadow && exec ${bin} -f ${conf} -p ${dir}/danted.pid`;
  const proc = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { stdio: 'ignore' });
  children.push(proc);
  try {
    await waitListening(port);
  } catch {
    return null;
  }
  return {
    name: 'dante',
    port,
    stop: async () => {
      proc.kill('SIGTERM');
      // Never kill(0): an empty pid file must not take down our own process group.
      const pid = Number(fs.readFileSync(path.join(dir, 'danted.pid'), { encoding: 'utf8', flag: 'a+' }).trim());
      if (Number.isInteger(pid) && pid > 1) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- measurements ----

/**
 * Every path is measured once per round, rounds interleaved, so a burst of load from elsewhere on the
 * machine hits all paths alike; the table shows medians (the ratio is the median of per-round ratios).
 */
async function throughput(title: string, url: string, egress: string, anyDest: boolean, bytes: number, direct: () => Promise<Transfer>, rounds = 3): Promise<void> {
  const proxies: ProxyUnderTest[] = [];
  for (const make of [() => ours(egress, anyDest), () => microsocks(egress === '127.0.0.1' ? null : egress), () => dante(egress)]) {
    const p = await make();
    if (p) proxies.push(p);
  }
  const paths: Array<{ name: string; go: () => Promise<Transfer> }> = [{ name: 'direct', go: direct }, ...proxies.map((p) => ({ name: p.name, go: () => curl(url, { proxy: p }) }))];
  const got = new Map<string, Array<Transfer | null>>(paths.map((p) => [p.name, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const p of paths) got.get(p.name)!.push(await p.go().catch(() => null));
    }
  } finally {
    for (const p of proxies) await p.stop();
  }
  const median = (a: number[]) => {
    const s = [...a].sort((x, y) => x - y);
    return s.length ? s[Math.floor(s.length / 2)]! : NaN;
  };
  const base = got.get('direct')!;
  const rows = paths.map((p) => {
    const runs = got.get(p.name)!;
    const ok = runs.filter((t): t is Transfer => t !== null);
    const ratios = runs.flatMap((t, i) => (t && base[i] ? [t.mbps / base[i]!.mbps] : []));
    return [p.name, median(ok.map((t) => t.mbps)).toFixed(0), median(ok.map((t) => t.seconds)).toFixed(2), p.name === 'direct' ? '1.00' : median(ratios).toFixed(2), `${ok.length}/${runs.length}`];
  });
  printTable(`${title} — ${(bytes / 1024 ** 2).toFixed(0)} MiB per transfer, median of ${rounds} interleaved rounds`, ['path', 'Mbit/s', 's', 'ratio to direct', 'ok'], rows);
}

/** SOCKS5 connections per second: greeting, auth, CONNECT to a port that accepts and closes. */
async function connectionsPerSecond(p: ProxyUnderTest, target: { host: string; port: number }, seconds: number): Promise<number> {
  const until = Date.now() + seconds * 1000;
  let done = 0;
  const req = Buffer.alloc(10);
  req.set([5, 1, 0, 1, ...target.host.split('.').map(Number)], 0);
  req.writeUInt16BE(target.port, 8);
  const u = Buffer.from(CREDS.login);
  const pw = Buffer.from(CREDS.password);
  const auth = Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([pw.length]), pw]);
  const one = () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect({ port: p.port, host: '127.0.0.1' });
      let stage = 0;
      let buf = Buffer.alloc(0);
      s.on('connect', () => s.write(Buffer.from([5, 1, 2])));
      s.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        if (stage === 0 && buf.length >= 2) {
          buf = buf.subarray(2);
          stage = 1;
          s.write(auth);
        }
        if (stage === 1 && buf.length >= 2) {
          buf = buf.subarray(2);
          stage = 2;
          s.write(req);
        }
        if (stage === 2 && buf.length >= 10) {
          stage = 3;
          const ok = buf[1] === 0;
          s.destroy();
          resolve(ok);
        }
      });
      s.on('error', () => resolve(false));
      s.on('close', () => resolve(stage === 3));
    });
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (Date.now() < until) if (await one()) done++;
    }),
  );
  return done / seconds;
}

function printTable(title: string, head: string[], rows: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `  ${r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('   ')}`;
  process.stdout.write(`\n${title}\n${line(head)}\n  ${w.map((n) => '-'.repeat(n)).join('   ')}\n${rows.map(line).join('\n')}\n`);
}

async function main(): Promise<void> {
  process.stdout.write(`Connexa services bench — ${os.cpus().length} cores, Node ${process.version}, ${isRoot ? 'root' : 'not root (no namespaces: parts 2 and 5 skipped)'}\n`);

  // 1. loopback
  const srcPort = await freePort();
  await child({ mode: 'source', host: '127.0.0.1', port: srcPort });
  const url = `http://127.0.0.1:${srcPort}/bytes/${BYTES}`;
  await throughput('1. Loopback', url, '127.0.0.1', true, BYTES, () => curl(url, {}));

  // 3. connections per second (loopback)
  const cpsRows: string[][] = [];
  for (const make of [() => ours('127.0.0.1', true), () => microsocks(null), () => dante('127.0.0.1')]) {
    const p = await make();
    if (!p) continue;
    try {
      cpsRows.push([p.name, (await connectionsPerSecond(p, { host: '127.0.0.1', port: srcPort + 1 }, Number(args['cps-seconds']))).toFixed(0)]);
    } finally {
      await p.stop();
    }
  }

  // 2 and 5 need namespaces
  if (isRoot) await throughNode(cpsRows);
  printTable('3. Connections per second (handshake + auth + CONNECT + close, 32 at a time, loopback)', ['proxy', 'conn/s'], cpsRows);

  // 4. memory
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnx-bench-mem-'));
  const idle = Number(args.idle);
  const { proc: memChild, firstLine } = await child({ mode: 'memory', count: idle + 1, from: 22000, dataDir }, undefined, ['--expose-gc']);
  const memExit = new Promise((r) => memChild.once('exit', r));
  memChild.stdin!.end(); // it exits (closing its proxies and its store) before its data is removed
  await memExit;
  const m = JSON.parse(firstLine) as { count: number; rssBefore: number; rssAfter: number; heapBefore: number; heapAfter: number; ms: number };
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  printTable(`4. Memory: ${m.count} idle nodes started through the local gateway in one process (SOCKS up, certificate issued, no OpenVPN server)`, ['figure', 'value'], [
    ['RSS before / after', `${mb(m.rssBefore)} / ${mb(m.rssAfter)} MB`],
    ['RSS per idle proxy', `${((m.rssAfter - m.rssBefore) / m.count / 1024).toFixed(1)} KB`],
    ['heap per idle proxy', `${((m.heapAfter - m.heapBefore) / m.count / 1024).toFixed(1)} KB`],
    [`RSS for ${m.count} proxies`, `${mb(m.rssAfter - m.rssBefore)} MB (target: under 200 MB)`],
    ['start time per node (no tunnel, in-process)', `${(m.ms / m.count).toFixed(1)} ms`],
  ]);
  fs.rmSync(dataDir, { recursive: true, force: true });
}

/** Part 2 (through a node's veth tunnel, plain and HTB 20 Mbit/s) and part 5 (OpenVPN, start time). */
async function throughNode(cpsRows: string[][]): Promise<void> {
  const { createNamespacePair } = await import('../test/lab/netns.ts');
  const { VethTunnelDriver } = await import('../test/lab/veth-tunnel.ts');
  const web = await createNamespacePair({ prefix: 'cnxbench' });
  cleanups.push(() => web.cleanup());
  const webAddr = web.routedAddress(1);
  await web.exec('ip', ['addr', 'add', `${webAddr}/32`, 'dev', 'lo']);
  const port = 8080;
  await child({ mode: 'source', host: '0.0.0.0', port }, web.ns);
  await waitListening(port, webAddr, web.ns);
  const driver = new VethTunnelDriver(web.ns);
  cleanups.push(() => driver.closeAll());
  const opened = await driver.open({ ip: '203.0.113.1', port: 1723, login: 'bench', password: 'x' }, { timeoutMs: 10_000 });
  if (!opened.ok) throw new Error(opened.reason);
  const egress = opened.tunnel.localAddress;
  const url = `http://${webAddr}:${port}/bytes/${BYTES}`;
  await throughput("2a. Through a started node's tunnel (veth + policy routing, egress-bound)", url, egress, false, BYTES, () => curl(url, { iface: egress }));

  // HTB 20 Mbit/s on the "server" side of the tunnel: the download direction.
  const peer = `${opened.tunnel.iface}p`;
  await web.exec('tc', ['qdisc', 'add', 'dev', peer, 'root', 'handle', '1:', 'htb', 'default', '10']);
  await web.exec('tc', ['class', 'add', 'dev', peer, 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '20mbit', 'ceil', '20mbit']);
  const htbUrl = `http://${webAddr}:${port}/bytes/${HTB_BYTES}`;
  await throughput("2b. Through a started node's tunnel shaped to 20 Mbit/s (HTB)", htbUrl, egress, false, HTB_BYTES, () => curl(htbUrl, { iface: egress }), 1);
  await web.exec('tc', ['qdisc', 'del', 'dev', peer, 'root']);

  // connections per second through the node path, ours only (the loopback table compares tools)
  const p = await ours(egress, false);
  try {
    cpsRows.push(['connexa (through a node tunnel)', (await connectionsPerSecond(p, { host: webAddr, port: port + 1 }, Number(args['cps-seconds']))).toFixed(0)]);
  } finally {
    await p.stop();
  }
  await opened.tunnel.close();
  if (which('openvpn')) await ovpnFigures(web, driver);
}

async function ovpnFigures(web: Awaited<ReturnType<typeof import('../test/lab/netns.ts')['createNamespacePair']>>, driver: InstanceType<typeof import('../test/lab/veth-tunnel.ts')['VethTunnelDriver']>): Promise<void> {
  const { createNamespacePair } = await import('../test/lab/netns.ts');
  const { runOvpnClient } = await import('../test/services/ovpn-client.ts');
  const { Store } = await import('../src/store/store.ts');
  const { createGateways } = await import('../src/gateway/index.ts');
  const { parseConfig } = await import('../src/config.ts');
  const { createLogger } = await import('../src/log.ts');
  void web;
  const client = await createNamespacePair({ prefix: 'cnxbcli' });
  cleanups.push(() => client.cleanup());
  const forwarding = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  cleanups.push(() => fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', `${forwarding}\n`));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnx-bench-ovpn-'));
  cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const store = await Store.open(dataDir);
  const n = Number(args.ovpn);
  const nodes = store.addNodes(Array.from({ length: n }, (_, i) => ({ ip: `203.0.113.${i + 1}`, login: `u${i}`, password: 'p' })), 'bench');
  const config = parseConfig({ DATA_DIR: dataDir, TUNNEL_DRIVER: 'pppd', SOCKS_BIND: '127.0.0.1', OVPN_PUBLIC_HOST: client.hostAddr, SOCKS_PORT_RANGE: '25000-25099', OVPN_PORT_RANGE: '25100-25199' });
  const services = createGateways({ config, store, leases: new Leases(), log: createLogger('error'), tunnels: { driver, capability: () => ({ ok: true }) } });
  cleanups.unshift(() => services.close());
  const startMs: number[] = [];
  const tunnelMs: number[] = [];
  const started = [];
  for (const node of nodes) {
    const s = await services.start(node);
    if (!s.ok) throw new Error(s.reason);
    startMs.push(s.services.startMs);
    tunnelMs.push(s.services.tunnel!.setupMs);
    store.patchNode(node.id, s.patch);
    started.push(store.get(node.id)!);
  }
  const { nodes: bundle } = await services.bundle(started.map((s) => ({ ...s, status: 'online' as const })));
  const hs: number[] = [];
  for (const b of bundle) {
    const r = await runOvpnClient({ profile: b.profile!, netns: client.ns, handshakeOnly: true });
    await r.stop();
    if (r.connected) hs.push(r.ms);
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;
  printTable(`5. OpenVPN and start (${n} nodes; veth tunnels; OpenVPN 2.6 UDP, EC P-256, tls-crypt)`, ['figure', 'median', 'min', 'max'], [
    ['client handshake to "Initialization Sequence Completed" (ms)', String(med(hs)), String(Math.min(...hs)), String(Math.max(...hs))],
    ['start per node: tunnel + SOCKS + cert + OpenVPN server ready (ms)', String(med(startMs)), String(Math.min(...startMs)), String(Math.max(...startMs))],
    ['  of which the (veth) tunnel set-up (ms)', String(med(tunnelMs)), String(Math.min(...tunnelMs)), String(Math.max(...tunnelMs))],
    ['handshakes completed', `${hs.length} of ${bundle.length}`, '', ''],
  ]);
}

async function cleanup(): Promise<void> {
  for (const c of cleanups) await Promise.resolve(c()).catch(() => {});
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
}

// Interrupted (Ctrl-C, timeout): namespaces, links, rules and children must not outlive us.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`\n${sig}: cleaning up\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

main()
  .then(cleanup, async (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
    await cleanup();
    process.exitCode = 1;
  })
  .finally(() => setTimeout(() => process.exit(), 200).unref());
