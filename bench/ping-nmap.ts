/**
 * PPTP ping benchmark: Connexa's probe vs nmap's pptp-version script over the same simulated fleet.
 * Prints figures; never asserts on time.
 *
 *   node bench/ping-nmap.ts [--sizes 2336,15000] [--concurrency 500] [--timeout-ms 1500]
 *                              [--retries 1] [--nmap-max-s 600] [--no-nmap] [--first-address IP]
 *
 * For each size it starts the fleet in its own process (test/sim/cli.ts: 70 % good, 10 % closed,
 * 10 % silent, 5 % slow, 5 % garbage; its own 20,000 open-file budget), probes every address with
 * runPing(), then runs nmap over the same addresses twice:
 *   nmap (as given) the issue's reference command exactly, nmap's own timeouts:
 *                 nmap -Pn -n -p1723 --script pptp-version -iL targets -oX -
 *   nmap (plain)  the same plus our deadlines:
 *                 nmap -Pn -n -p1723 --script pptp-version --script-timeout T --host-timeout H -iL targets -oX -
 *   nmap (tuned)  the same plus --min-hostgroup min(N, 2048) --max-parallelism C (the same
 *                 concurrency as ours): what it takes for nmap's scripts to finish within the
 *                 script timeout (see NMAP_TUNED_HOSTGROUP).
 * Deadlines: --script-timeout = our per-attempt deadline (timeoutMs; nmap's script makes one attempt
 * with its own 5 s socket timeout, which this cuts), --host-timeout = our worst case per host,
 * (retries + 1) x timeoutMs + the retry pauses.
 * A host is PPTP to nmap when its port 1723 service is "pptp" with method="probed" and a product
 * (the script set it from a real reply); method="table" only means "1723 is the PPTP port".
 * Requires nmap (apt-get install -y nmap); GNU time (/usr/bin/time) for nmap's peak RSS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { probePptp, type PptpOutcome, type PptpProbeResult } from '../src/probes/pptp/probe.ts';
import type { SimBehaviour, SimServer } from '../test/sim/fleet.ts';
import { mapLimit } from '../test/sim/probe-all.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PPTP_PORT = 1723;
const MIX = 'good=0.7,closed=0.1,silent=0.1,slow=0.05,garbage=0.05';
const SLOW_DELAY_MS = 300;
const RETRY_DELAY_MS = 100;
/**
 * Host-group size of the tuned nmap run. Small groups (nmap's default ramps up from a few hosts)
 * leave NSE sockets queued behind --max-parallelism, and --script-timeout expires while queued;
 * one group of 15,000 makes --host-timeout cut ~1,300 hosts that wait on the group's port scan.
 * 2,048 found every PPTP server but a handful in both sizes on this machine.
 */
const NMAP_TUNED_HOSTGROUP = 2048;

// ---- the swappable ping ------------------------------------------------------------------------

export interface PingSettings {
  concurrency: number;
  timeoutMs: number;
  retries: number;
}

/**
 * Pings every address (port 1723) and returns one result per address, in order. Today it probes
 * directly; in the product this becomes the app's job pipeline (import -> ping job -> results).
 */
export type RunPing = (addresses: readonly string[], settings: PingSettings) => Promise<PptpProbeResult[]>;

export const directRunPing: RunPing = (addresses, s) =>
  mapLimit(addresses, s.concurrency, (host) =>
    probePptp({ host, port: PPTP_PORT }, { timeoutMs: s.timeoutMs, retries: s.retries, retryDelayMs: RETRY_DELAY_MS }),
  );

/** Responsiveness while the job runs: how long `stats` took through the dispatcher. */
export const statsLatencies: number[] = [];
/** When (ms into the job) the slowest `stats` calls happened. */
export const slowStats: Array<{ atMs: number; ms: number }> = [];
/** The largest heap in use and RSS seen by the sampler (RSS is also reported as the process high-water mark). */
export const memorySeen = { heapUsedMb: 0, rssMb: 0 };

/**
 * The product path: the addresses become nodes in a fresh store, and one ping job of the job runner
 * (leases, p-limit, deadlines, compare-and-set writes, progress) checks them. Meanwhile `stats` is
 * dispatched every 100 ms, as a user would, to measure how responsive the bot stays.
 */
export const pipelineRunPing: RunPing = async (addresses, s) => {
  const { compose } = await import('../src/compose.ts');
  const { parseConfig } = await import('../src/config.ts');
  const { createLogger } = await import('../src/log.ts');
  const { pingStage } = await import('../src/pipeline/stages/ping.ts');
  const { probePolicy } = await import('../src/probes/pptp/policy.ts');
  const { RecordingPort } = await import('../test/kit/recording-port.ts');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnx-bench-store-'));
  const app = await compose(parseConfig({ DATA_DIR: dataDir, PROBE_ALLOW: '127.0.0.0/8' }), { log: createLogger('error') });
  try {
    const nodes = app.app.store.addNodes(addresses.map((ip) => ({ ip, login: 'bench', password: 'bench' })), 'bench');
    const stage = pingStage({ concurrency: s.concurrency, timeoutMs: s.timeoutMs, retries: s.retries, policy: probePolicy('127.0.0.0/8') });
    const port = new RecordingPort();
    const actor = { platform: 'terminal' as const, id: 'bench', name: 'bench', roleIds: [] };
    statsLatencies.length = 0;
    memorySeen.heapUsedMb = memorySeen.rssMb = 0;
    let running = true;
    slowStats.length = 0;
    const jobStart = performance.now();
    const sampler = (async () => {
      while (running) {
        const t0 = performance.now();
        // The text only: this samples the event loop, not the picture's renderer.
        await app.dispatcher.dispatch(port, { text: 'stats chart=no', files: [], actor, where: { key: 'bench' } });
        statsLatencies.push(performance.now() - t0);
        slowStats.push({ atMs: t0 - jobStart, ms: performance.now() - t0 });
        const m = process.memoryUsage();
        memorySeen.heapUsedMb = Math.max(memorySeen.heapUsedMb, m.heapUsed / 2 ** 20);
        memorySeen.rssMb = Math.max(memorySeen.rssMb, m.rss / 2 ** 20);
        port.clear();
        await sleep(100);
      }
    })();
    await app.app.jobs.start({ stage, nodes, actor: 'bench', selection: 'bench' }).done;
    running = false;
    await sampler;
    return nodes.map((n) => {
      const p = app.app.store.get(n.id)!.pptp;
      return { ok: p?.ok ?? false, outcome: (p?.result ?? 'cancelled') as PptpOutcome, reason: p?.error ?? null, latencyMs: p?.latencyMs ?? null, vendor: p?.vendor ?? null, hostname: p?.hostname ?? null, firmware: p?.firmware ?? null, protocolVersion: null, resultCode: null, errorCode: null, maxChannels: null, framing: null, bearer: null, attempts: 0 };
    });
  } finally {
    await app.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
};

let runPing: RunPing = pipelineRunPing;

// ---- the fleet in its own process --------------------------------------------------------------

interface FleetProcess {
  servers: SimServer[];
  child: ChildProcess;
  output: () => string;
  stop(): Promise<string>;
}

async function startFleetProcess(count: number, firstAddress: string | undefined, dir: string): Promise<FleetProcess> {
  const manifest = path.join(dir, `fleet-${count}.json`);
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'test/sim/cli.ts'),
      '--count', String(count), '--seed', '1', '--mix', MIX, '--slow-delay-ms', String(SLOW_DELAY_MS),
      ...(firstAddress === undefined ? [] : ['--first-address', firstAddress]), '--manifest', manifest,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sim fleet did not start in 120 s:\n${out}`)), 120_000);
    const check = (): void => {
      if (out.includes('sim fleet ready')) {
        clearTimeout(timer);
        child.stdout!.removeListener('data', check);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sim fleet exited (${code}):\n${out}`));
    });
  });
  const servers = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { servers: SimServer[] }).servers;
  return {
    servers,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
      return out;
    },
  };
}

// ---- nmap --------------------------------------------------------------------------------------

interface NmapHost {
  state: string; // open | closed | filtered | (none)
  pptp: boolean;
  product: string | null;
  hostname: string | null;
  timedOut: boolean;
}

interface NmapRun {
  label: string;
  args: string[];
  finished: boolean;
  wallMs: number;
  peakRssKb: number | null;
  hosts: Map<string, NmapHost>;
  note: string;
}

function attr(tag: string, name: string): string | null {
  const m = new RegExp(`\\b${name}="([^"]*)"`).exec(tag);
  return m ? m[1]!.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&') : null;
}

export function parseNmapXml(xml: string): Map<string, NmapHost> {
  const hosts = new Map<string, NmapHost>();
  for (const m of xml.matchAll(/<host\b([^>]*)>([\s\S]*?)<\/host>/g)) {
    const head = m[1]!;
    const body = m[2]!;
    const addr = /<address addr="([^"]+)" addrtype="ipv4"/.exec(body)?.[1];
    if (!addr) continue;
    const port = /<port protocol="tcp" portid="1723">([\s\S]*?)<\/port>/.exec(body)?.[1] ?? '';
    const state = /<state state="([^"]+)"/.exec(port)?.[1] ?? '';
    const service = /<service\b[^>]*>/.exec(port)?.[0] ?? '';
    const product = service ? attr(service, 'product') : null;
    const pptp = attr(service, 'name') === 'pptp' && attr(service, 'method') === 'probed' && product !== null;
    hosts.set(addr, { state, pptp, product, hostname: service ? attr(service, 'hostname') : null, timedOut: /timedout="true"/.test(head) });
  }
  return hosts;
}

async function runNmap(label: string, addresses: readonly string[], extra: string[], s: PingSettings, dir: string, maxSeconds: number, withDeadlines = true): Promise<NmapRun> {
  const targets = path.join(dir, `targets-${addresses.length}.txt`);
  fs.writeFileSync(targets, addresses.join('\n') + '\n');
  const hostTimeoutMs = (s.retries + 1) * s.timeoutMs + s.retries * RETRY_DELAY_MS;
  const deadlines = withDeadlines ? ['--script-timeout', `${s.timeoutMs}ms`, '--host-timeout', `${hostTimeoutMs}ms`] : [];
  const args = ['-Pn', '-n', '-p1723', '--script', 'pptp-version', ...deadlines, ...extra, '-iL', targets, '-oX', '-'];
  const timeFile = path.join(dir, `nmap-time-${label.replace(/\W+/g, '')}-${addresses.length}.txt`);
  const haveTime = fs.existsSync('/usr/bin/time');
  const [cmd, cmdArgs] = haveTime ? ['/usr/bin/time', ['-f', '%M', '-o', timeFile, 'nmap', ...args]] : ['nmap', args];
  const t0 = performance.now();
  const child = spawn(cmd, cmdArgs as string[], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let xml = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (xml += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    try {
      process.kill(-child.pid!, 'SIGKILL'); // the process group we started: time + nmap
    } catch {
      // gone
    }
  }, maxSeconds * 1000);
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('exit', (c) => resolve(c));
  });
  clearTimeout(timer);
  const wallMs = performance.now() - t0;
  let peakRssKb: number | null = null;
  if (haveTime && fs.existsSync(timeFile)) {
    const n = Number(fs.readFileSync(timeFile, 'utf8').trim().split(/\s+/).pop());
    if (Number.isFinite(n) && n > 0) peakRssKb = n;
  }
  const finished = !killed && code === 0;
  const note = killed ? `killed after ${maxSeconds} s` : code !== 0 ? `exit ${code}: ${err.trim().split('\n').slice(-2).join(' ')}` : '';
  return { label, args: ['nmap', ...args], finished, wallMs, peakRssKb, hosts: parseNmapXml(xml), note };
}

// ---- reporting ---------------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mb = (kb: number | null): string => (kb === null ? 'n/a' : `${fmt(kb / 1024, 0)} MB`);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ')).join('\n');
}

const EXPECTED: Record<SimBehaviour, PptpOutcome> = {
  good: 'ok', slow: 'ok', silent: 'timeout_reply', rejecting: 'rejected', garbage: 'not_pptp', closed: 'refused',
};

interface OursRun {
  results: PptpProbeResult[];
  wallMs: number;
  peakRssKb: number;
  baselineRssKb: number;
}

function nmapCategory(h: NmapHost | undefined): string {
  if (!h) return 'no result';
  if (h.timedOut) return 'host timeout';
  if (h.pptp) return 'pptp';
  if (h.state === 'open') return 'open, not identified';
  return h.state || 'no port result';
}

function report(servers: SimServer[], s: PingSettings, ours: OursRun, nmaps: NmapRun[]): void {
  const n = servers.length;
  const okCount = ours.results.filter((r) => r.ok).length;
  const counts = new Map<string, number>();
  for (const r of ours.results) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
  const lat = ours.results.filter((r) => r.ok && r.latencyMs !== null).map((r) => r.latencyMs!).sort((a, b) => a - b);
  const mismatched = servers.filter((sv, i) => ours.results[i]!.outcome !== EXPECTED[sv.behaviour]);

  const header = ['', 'connexa', ...nmaps.map((m) => m.label), ...nmaps.map((m) => `${m.label}/connexa`)];
  const ratio = (a: number, b: number): string => (b > 0 && Number.isFinite(a) ? fmt(a / b, 2) : '-');
  const rows: string[][] = [header];
  const oursRate = n / (ours.wallMs / 1000);
  rows.push(['wall time', `${fmt(ours.wallMs / 1000, 2)} s`, ...nmaps.map((m) => `${fmt(m.wallMs / 1000, 2)} s${m.finished ? '' : ' (killed)'}`), ...nmaps.map((m) => ratio(m.wallMs, ours.wallMs))]);
  rows.push(['servers/s', fmt(oursRate), ...nmaps.map((m) => fmt(n / (m.wallMs / 1000))), ...nmaps.map((m) => ratio(n / (m.wallMs / 1000), oursRate))]);
  rows.push(['peak RSS', mb(ours.peakRssKb), ...nmaps.map((m) => mb(m.peakRssKb)), ...nmaps.map((m) => (m.peakRssKb === null ? '-' : ratio(m.peakRssKb, ours.peakRssKb)))]);
  const nmapPptp = nmaps.map((m) => servers.filter((sv) => m.hosts.get(sv.ip)?.pptp).length);
  rows.push(['PPTP servers found', fmt(okCount), ...nmapPptp.map((c) => fmt(c)), ...nmapPptp.map((c) => ratio(c, okCount))]);
  const agreements = nmaps.map((m) => servers.filter((sv, i) => (m.hosts.get(sv.ip)?.pptp ?? false) === ours.results[i]!.ok).length);
  rows.push(['agree with connexa', '-', ...agreements.map((a) => `${fmt(a)}/${fmt(n)}`), ...nmaps.map(() => '')]);
  console.log(table(rows));

  console.log(`\nconnexa outcomes: ${[...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}`);
  console.log(`connexa handshake latency of ok servers: p50 ${fmt(percentile(lat, 50), 1)} ms, p90 ${fmt(percentile(lat, 90), 1)} ms, p99 ${fmt(percentile(lat, 99), 1)} ms`);
  console.log(`connexa RSS: ${mb(ours.baselineRssKb)} before the run, peak ${mb(ours.peakRssKb)} (process high-water mark)`);
  if (statsLatencies.length) {
    const st = [...statsLatencies].sort((a, b) => a - b);
    console.log(`\`stats\` while the job ran (${st.length} calls through the dispatcher): p50 ${fmt(percentile(st, 50), 1)} ms, p99 ${fmt(percentile(st, 99), 1)} ms, max ${fmt(st[st.length - 1]!, 1)} ms`);
    const worst = [...slowStats].sort((a, b) => b.ms - a.ms).slice(0, 3);
    console.log(`slowest \`stats\` calls: ${worst.map((w) => `${fmt(w.ms, 1)} ms at ${fmt(w.atMs)} ms into the job`).join(', ')}`);
    console.log(`memory sampled while the job ran: heap used up to ${fmt(memorySeen.heapUsedMb)} MB, RSS up to ${fmt(memorySeen.rssMb)} MB`);
  }
  console.log(`connexa vs the seeded behaviours: ${mismatched.length === 0 ? 'every outcome as expected' : `${mismatched.length} unexpected`}`);
  for (const sv of mismatched.slice(0, 10)) {
    const r = ours.results[servers.indexOf(sv)]!;
    console.log(`  ${sv.ip} ${sv.behaviour}: ${r.outcome} — ${r.reason}`);
  }
  for (const m of nmaps) {
    const cats = new Map<string, number>();
    for (const sv of servers) {
      const c = nmapCategory(m.hosts.get(sv.ip));
      cats.set(c, (cats.get(c) ?? 0) + 1);
    }
    console.log(`\n${m.label}: ${m.args.join(' ').replace(/\S+targets-\d+\.txt/, 'targets.txt')}`);
    if (m.note) console.log(`  ${m.note}`);
    console.log(`  outcomes: ${[...cats].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}`);
    const dis = servers
      .map((sv, i) => ({ sv, r: ours.results[i]!, h: m.hosts.get(sv.ip) }))
      .filter(({ r, h }) => (h?.pptp ?? false) !== r.ok);
    console.log(`  disagreements: ${fmt(dis.length)}`);
    const byKind = new Map<string, number>();
    for (const d of dis) {
      const k = `${d.sv.behaviour}: connexa ${d.r.outcome}, nmap ${nmapCategory(d.h)}`;
      byKind.set(k, (byKind.get(k) ?? 0) + 1);
    }
    for (const [k, v] of [...byKind].sort((a, b) => b[1] - a[1])) console.log(`    ${fmt(v)} x ${k}`);
    for (const d of dis.slice(0, 8)) {
      console.log(`    e.g. ${d.sv.ip} (${d.sv.behaviour}): connexa ${d.r.outcome}${d.r.reason ? ` (${d.r.reason})` : ''}; nmap ${nmapCategory(d.h)}${d.h?.product ? ` product "${d.h.product}"` : ''}`);
    }
  }
}

// ---- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '2336,15000' },
      concurrency: { type: 'string', default: '500' },
      'timeout-ms': { type: 'string', default: '1500' },
      retries: { type: 'string', default: '1' },
      'nmap-max-s': { type: 'string', default: '600' },
      'no-nmap': { type: 'boolean', default: false },
      /** Default: the fleet takes a free loopback block (test/kit/loopback.ts). */
      'first-address': { type: 'string' },
      direct: { type: 'boolean', default: false },
    },
  });
  if (values.direct) runPing = directRunPing;
  const sizes = values.sizes!.split(',').map((x) => Number(x.trim())).filter((x) => x > 0);
  const settings: PingSettings = { concurrency: Number(values.concurrency), timeoutMs: Number(values['timeout-ms']), retries: Number(values.retries) };
  const nmapMaxS = Number(values['nmap-max-s']);
  const haveNmap = !values['no-nmap'] && fs.existsSync('/usr/bin/nmap');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnx-bench-'));
  console.log(`PPTP ping benchmark — node ${process.version}, ${os.cpus().length} CPUs, ${fmt(os.totalmem() / 2 ** 30, 1)} GB`);
  console.log(`connexa: ${values.direct ? 'probePptp directly' : 'a ping job of the job runner (store, leases, compare-and-set writes)'}, concurrency ${settings.concurrency}, timeout ${settings.timeoutMs} ms per attempt, retries ${settings.retries} (timeouts, resets, closed)`);
  console.log(`fleet: ${MIX}, slow servers reply after ${SLOW_DELAY_MS} ms, from ${values['first-address'] ?? 'a free loopback block'} port ${PPTP_PORT}, in its own process`);
  if (!haveNmap) console.log(values['no-nmap'] ? 'nmap: skipped (--no-nmap)' : 'nmap: not installed (apt-get install -y nmap) — connexa figures only');

  let fleet: FleetProcess | null = null;
  const onSignal = (): void => {
    void fleet?.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (const size of sizes) {
      console.log(`\n=== ${fmt(size)} servers ===`);
      fleet = await startFleetProcess(size, values['first-address'], dir);
      console.log(fleet.output().trim().split('\n').map((l) => `  ${l}`).join('\n'));
      const addresses = fleet.servers.map((sv) => sv.ip);
      await sleep(200);

      const baselineRssKb = Math.round(process.memoryUsage().rss / 1024);
      const t0 = performance.now();
      const results = await runPing(addresses, settings);
      const wallMs = performance.now() - t0;
      const ours: OursRun = { results, wallMs, peakRssKb: process.resourceUsage().maxRSS, baselineRssKb };
      await sleep(500); // let the goodbyes finish before nmap starts

      const nmaps: NmapRun[] = [];
      if (haveNmap) {
        // Exactly the issue's reference command: no deadlines, nmap's own defaults.
        nmaps.push(await runNmap('nmap (as given)', addresses, [], settings, dir, nmapMaxS, false));
        nmaps.push(await runNmap('nmap (plain)', addresses, [], settings, dir, nmapMaxS));
        const group = String(Math.min(size, NMAP_TUNED_HOSTGROUP));
        nmaps.push(await runNmap('nmap (tuned)', addresses, ['--min-hostgroup', group, '--max-parallelism', String(settings.concurrency)], settings, dir, nmapMaxS));
      }
      console.log('');
      report(fleet.servers, settings, ours, nmaps);
      const out = await fleet.stop();
      const last = out.trim().split('\n').pop() ?? '';
      console.log(`\nfleet: ${last}`);
      fleet = null;
    }
  } finally {
    await fleet?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  });
}
