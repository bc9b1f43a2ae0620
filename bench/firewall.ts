/**
 * `npm run bench:firewall` (root; iproute2, nftables, iptables): what a node's firewall costs per
 * packet and per change, Connexa's nftables table (sets keyed by interface, node-firewall.ts) beside
 * the per-node iptables rules it replaced, in one run.
 *
 *   [src ns] 10.77.0.2 ── cxo40000 [rtr ns: the bot host's firewall] ppp900 ── 10.78.0.2 [dst ns]
 *
 * src plays a VPN client of one node (its traffic enters by the node's OpenVPN device), dst the far
 * side of that node's tunnel. rtr holds the rules of the measured node plus those of N other nodes
 * (10 or 2,000), in one of three layouts: none, nftables (this code), iptables (the old layout: 8
 * rules per node in shared linear chains, the measured node's last, as -I leaves the first started).
 * Per-packet cost: TCP bulk throughput and 64-byte UDP packets per second from src to dst. Change
 * latency: putting one more node in force with 2,000 present (one nft batch; 16 iptables processes,
 * what the old code ran). Figures only; medians of --runs runs. Only namespaces this bench creates
 * carry traffic; they are deleted at the end.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { NodeFirewall, nftRunner } from '../src/services/node-firewall.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, seconds: { type: 'string', default: '2' } } });
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);

for (const bin of ['ip', 'nft', 'iptables', 'iptables-restore']) {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) {
    console.error(`bench:firewall needs ${bin} (apt-get install -y iproute2 nftables iptables) and root`);
    process.exit(2);
  }
}

const tag = String(process.pid).slice(-5);
const NS = { src: `cxfw-src-${tag}`, rtr: `cxfw-rtr-${tag}`, dst: `cxfw-dst-${tag}` };
const sh = (ns: string, cmd: string, args: string[], input?: string) => execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', input });

function setUp(): void {
  for (const ns of Object.values(NS)) execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['link', 'add', 'cxfw-a', 'netns', NS.src, 'type', 'veth', 'peer', 'name', 'cxo40000', 'netns', NS.rtr]);
  execFileSync('ip', ['link', 'add', 'ppp900', 'netns', NS.rtr, 'type', 'veth', 'peer', 'name', 'cxfw-b', 'netns', NS.dst]);
  for (const [ns, dev, addr] of [
    [NS.src, 'cxfw-a', '10.77.0.2/24'],
    [NS.rtr, 'cxo40000', '10.77.0.1/24'],
    [NS.rtr, 'ppp900', '10.78.0.1/24'],
    [NS.dst, 'cxfw-b', '10.78.0.2/24'],
  ] as const) {
    sh(ns, 'ip', ['addr', 'add', addr, 'dev', dev]);
    sh(ns, 'ip', ['link', 'set', dev, 'up']);
  }
  for (const ns of Object.values(NS)) sh(ns, 'ip', ['link', 'set', 'lo', 'up']);
  sh(NS.src, 'ip', ['route', 'add', 'default', 'via', '10.77.0.1']);
  // Without SNAT (the "none" row) replies must find their way back too.
  sh(NS.dst, 'ip', ['route', 'add', '10.77.0.0/24', 'via', '10.78.0.1']);
  sh(NS.rtr, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
}

function tearDown(): void {
  for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'del', ns]);
}

/** nft inside the router namespace: what nftRunner() does on a real host. */
const rtrNft = nftRunner(['ip', 'netns', 'exec', NS.rtr, 'nft']);

const other = (i: number) => ({ tunnel: `ppp${1000 + i}`, dev: `cxo${20000 + i}`, subnet: `100.${64 + (i >> 8)}.${i & 255}.0/24`, local: `10.${100 + (i >> 8)}.${i & 255}.1` });

/** The old layout's 8 rules of one node, as `iptables-restore` lines per table. */
function iptablesRules(n: { tunnel: string; dev: string; subnet: string; local: string }): Record<'filter' | 'nat' | 'mangle', string[]> {
  const notReply = '-m conntrack ! --ctstate ESTABLISHED,RELATED';
  return {
    filter: [
      `-A INPUT -i ${n.tunnel} ${notReply} -j DROP`,
      `-A INPUT -i ${n.dev} -j REJECT`,
      `-A FORWARD -i ${n.tunnel} ${notReply} -j DROP`,
      `-A FORWARD -i ${n.tunnel} ! -o cxo+ -j DROP`,
      `-A FORWARD -i ${n.dev} -o ${n.tunnel} -j ACCEPT`,
      `-A FORWARD -i ${n.tunnel} -o ${n.dev} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    ],
    nat: [`-A POSTROUTING -s ${n.subnet} -o ${n.tunnel} -j SNAT --to-source ${n.local}`],
    mangle: [`-A FORWARD -s ${n.subnet} -o ${n.tunnel} -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu`],
  };
}

const MEASURED = { tunnel: 'ppp900', dev: 'cxo40000', subnet: '10.77.0.0/24', local: '10.78.0.1' };

function loadIptables(others: number): void {
  const tables: Record<string, string[]> = { filter: [], nat: [], mangle: [] };
  for (let i = 0; i < others; i++) for (const [t, rules] of Object.entries(iptablesRules(other(i)))) tables[t]!.push(...rules);
  for (const [t, rules] of Object.entries(iptablesRules(MEASURED))) tables[t]!.push(...rules);
  const text = Object.entries(tables).map(([t, rules]) => `*${t}\n${rules.join('\n')}\nCOMMIT\n`).join('');
  sh(NS.rtr, 'iptables-restore', [], text);
}

function clearFirewall(): void {
  sh(NS.rtr, 'iptables-restore', [], '*filter\nCOMMIT\n*nat\nCOMMIT\n*mangle\nCOMMIT\n');
  spawnSync('ip', ['netns', 'exec', NS.rtr, 'nft', 'delete', 'table', 'inet', 'connexa']);
}

async function loadNft(others: number): Promise<NodeFirewall> {
  const fw = new NodeFirewall(rtrNft);
  const changes: Array<Promise<void>> = [];
  for (let i = 0; i < others; i++) {
    const n = other(i);
    changes.push(fw.addGuarded(n.tunnel), fw.addOvpnDevice(n.dev), fw.addEgress(n.dev, n.tunnel, n.local));
  }
  changes.push(fw.addGuarded(MEASURED.tunnel), fw.addOvpnDevice(MEASURED.dev), fw.addEgress(MEASURED.dev, MEASURED.tunnel, MEASURED.local));
  await Promise.all(changes);
  return fw;
}

const RECEIVER = `
const net = require('net'), dgram = require('dgram');
let bytes = 0, packets = 0;
net.createServer((s) => s.on('data', (d) => (bytes += d.length))).listen(5001, '10.78.0.2');
const u = dgram.createSocket('udp4'); u.on('message', () => packets++); u.bind(5002, '10.78.0.2');
process.stdin.on('data', (d) => { if (String(d).includes('reset')) { bytes = 0; packets = 0; } else process.stdout.write(JSON.stringify({ bytes, packets }) + '\\n'); });
setTimeout(() => console.log('ready'), 50);
`;
const TCP_SENDER = `
const s = require('net').connect(5001, '10.78.0.2'); const buf = Buffer.alloc(65536);
const end = Date.now() + ${SECONDS * 1000}; const pump = () => { while (Date.now() < end) { if (!s.write(buf)) return s.once('drain', pump); } s.end(); };
s.on('connect', pump); s.on('close', () => process.exit(0));
`;
const UDP_SENDER = `
const u = require('dgram').createSocket('udp4'); const buf = Buffer.alloc(64); let sent = 0;
const end = Date.now() + ${SECONDS * 1000}; const burst = () => { for (let i = 0; i < 200; i++) { u.send(buf, 5002, '10.78.0.2'); sent++; } if (Date.now() < end) setImmediate(burst); else setTimeout(() => { console.log(sent); process.exit(0); }, 200); };
burst();
`;

interface Receiver {
  read(): Promise<{ bytes: number; packets: number }>;
  reset(): void;
  stop(): void;
}

async function startReceiver(): Promise<Receiver> {
  const child = spawn('ip', ['netns', 'exec', NS.dst, process.execPath, '-e', RECEIVER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let waiting: ((l: string) => void) | null = null;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    for (const l of d.split('\n').filter(Boolean)) {
      if (waiting) {
        const w = waiting;
        waiting = null;
        w(l);
      } else lines.push(l);
    }
  });
  const next = () => new Promise<string>((r) => (lines.length ? r(lines.shift()!) : (waiting = r)));
  await next(); // ready
  return {
    read: async () => {
      child.stdin.write('read\n');
      return JSON.parse(await next()) as { bytes: number; packets: number };
    },
    reset: () => child.stdin.write('reset\n'),
    stop: () => child.kill(),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function throughput(rx: Receiver): Promise<{ mbit: number; kpps: number }> {
  const mbit: number[] = [];
  const kpps: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    rx.reset();
    execFileSync('ip', ['netns', 'exec', NS.src, process.execPath, '-e', TCP_SENDER]);
    mbit.push(((await rx.read()).bytes * 8) / SECONDS / 1e6);
    rx.reset();
    execFileSync('ip', ['netns', 'exec', NS.src, process.execPath, '-e', UDP_SENDER]);
    kpps.push((await rx.read()).packets / SECONDS / 1000);
  }
  return { mbit: median(mbit), kpps: median(kpps) };
}

async function changeLatency(layout: 'nft' | 'iptables', fw: NodeFirewall | null): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < 10; i++) {
    const n = other(3000 + i);
    const t0 = performance.now();
    if (layout === 'nft') await Promise.all([fw!.addGuarded(n.tunnel), fw!.addOvpnDevice(n.dev), fw!.addEgress(n.dev, n.tunnel, n.local)]);
    else {
      // The old code: for each of its rules a -D (a leftover of a crash) then an -I, one process each.
      for (const [t, rules] of Object.entries(iptablesRules(n))) {
        for (const r of rules) {
          const args = r.slice(3).split(' ');
          spawnSync('ip', ['netns', 'exec', NS.rtr, 'iptables', '-w', '-t', t, '-D', ...args]);
          execFileSync('ip', ['netns', 'exec', NS.rtr, 'iptables', '-w', '-t', t, '-I', ...args]);
        }
      }
    }
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

setUp();
let rx: Receiver | undefined;
try {
  rx = await startReceiver();
  console.log(`bench:firewall — ${RUNS} runs of ${SECONDS} s each, medians; src -> rtr (firewall) -> dst over veth, one node measured`);
  console.log('layout      other nodes   TCP Mbit/s   UDP 64 B kpps   rules in chains   one node in force (ms)');
  const row = (layout: string, others: number, t: { mbit: number; kpps: number }, rules: string, change: string) =>
    console.log(`${layout.padEnd(11)} ${String(others).padStart(11)}   ${t.mbit.toFixed(0).padStart(10)}   ${t.kpps.toFixed(1).padStart(13)}   ${rules.padStart(15)}   ${change.padStart(22)}`);
  clearFirewall();
  row('none', 0, await throughput(rx), '0', '-');
  for (const others of [10, 2000]) {
    clearFirewall();
    const fw = await loadNft(others);
    const t = await throughput(rx);
    row('nftables', others, t, '6', others === 2000 ? (await changeLatency('nft', fw)).toFixed(1) : '-');
    await fw.close();
    clearFirewall();
    loadIptables(others);
    const rules = (others + 1) * 8;
    const ti = await throughput(rx);
    row('iptables', others, ti, String(rules), others === 2000 ? (await changeLatency('iptables', null)).toFixed(1) : '-');
  }
} finally {
  rx?.stop();
  tearDown();
}
