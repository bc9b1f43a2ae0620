/**
 * A simulated PPTP fleet on loopback: one process, one net listener per server, each on its own
 * 127.x.y.z address (port 1723 by default), with seeded, deterministic behaviours:
 *
 *   good       replies a correct Start-Control-Connection-Reply with its own vendor/host name,
 *              answers Stop-Control-Connection-Request (then closes) and Echo-Request
 *   slow       the same, but the reply comes after slowDelayMs
 *   silent     accepts the connection and never says anything
 *   rejecting  replies with result code 2 (general error, error 4 "no resource") or 4 (not authorized)
 *   garbage    speaks another protocol: an SSH banner on connect, or an HTTP 400 to any request
 *   closed     no listener at all: the kernel refuses the connection
 *
 * File-descriptor budget. The open-file limit here is 20,000 and cannot be raised; every listener
 * and every accepted connection costs one descriptor in THIS process (and, when the prober runs in
 * the same process, every client socket costs one more). At start-up the fleet reads the limit
 * (/proc/self/limits) and the descriptors already open (/proc/self/fd) and allows
 *
 *   maxConnections = limit - already open - listeners - 256 (reserve for files, pipes, the runtime)
 *
 * simultaneous accepted connections (15,000 listeners in a fresh process: ~4,700). A connection
 * beyond that is accepted and destroyed at once and counted in stats().shedConnections, so a test
 * can assert that the fleet never had to shed. Silent servers hold a connection until the client
 * gives up, and every connection is dropped after idleTimeoutMs (default 30 s) of silence.
 * Run big fleets (thousands) in their own process (test/sim/cli.ts) so the prober has its own
 * budget; a test that probes a fleet in-process must keep listeners + 2 x concurrency well below
 * the limit.
 *
 * Two fleets must not share addresses (a "closed" server is only refused while nobody else listens
 * on its address): without a firstAddress, startSimFleet takes a block of its own from
 * test/kit/loopback.ts and gives it back on close.
 */
import fs from 'node:fs';
import net from 'node:net';
import {
  ControlType,
  encodeEchoReply,
  encodeSccrp,
  encodeStopCcrp,
  PPTP_MAGIC_COOKIE,
} from '../../src/probes/pptp/codec.ts';
import { loopbackRange, PROBED_SIZE, type LoopbackBlock } from '../kit/loopback.ts';
import { seededRandom } from '../kit/random.ts';

export { seededRandom };

export const SIM_BEHAVIOURS = ['good', 'slow', 'silent', 'rejecting', 'garbage', 'closed'] as const;
export type SimBehaviour = (typeof SIM_BEHAVIOURS)[number];
export type SimMix = Partial<Record<SimBehaviour, number>>;

export interface SimServer {
  ip: string;
  port: number;
  behaviour: SimBehaviour;
  login: string;
  password: string;
  /** What the server puts in its reply (good, slow, rejecting); informative for the others. */
  vendor: string;
  hostname: string;
  firmware: number;
  maxChannels: number;
  /** Result code of its Start-Control-Connection-Reply: 1 for good/slow, 2 or 4 for rejecting, null otherwise. */
  resultCode: number | null;
  errorCode: number | null;
  /** For garbage servers: what they speak instead. */
  garbage: 'http' | 'ssh' | null;
}

export interface SimFleetOptions {
  count: number;
  seed: number;
  /** Fractions per behaviour; normalised to their sum; missing ones are 0. */
  mix: SimMix;
  /** Reply delay of slow servers (default 500 ms). */
  slowDelayMs?: number;
  basePort?: number;
  /** Default: planSimFleet 127.0.1.1; startSimFleet a block of its own (test/kit/loopback.ts). */
  firstAddress?: string;
  /** Listeners bound at a time (default 64). */
  bindConcurrency?: number;
  /** Cap on simultaneous accepted connections; default from the file-descriptor budget above. */
  maxConnections?: number;
  /** A connection silent for this long is dropped (default 30,000 ms). */
  idleTimeoutMs?: number;
}

export interface SimFleetStats {
  listeners: number;
  openConnections: number;
  peakConnections: number;
  acceptedConnections: number;
  shedConnections: number;
  maxConnections: number;
  fdLimit: number;
  bindMs: number;
}

export interface SimFleet {
  servers: SimServer[];
  /** An import file (format 7, `ip:login:password`, one server a line, `#` header comment). */
  importText(): string;
  stats(): SimFleetStats;
  close(): Promise<void>;
}

// ---- deterministic planning ------------------------------------------------------------------


function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`not an IPv4 address: ${ip}`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

function intToIp(n: number): string {
  return `${Math.floor(n / 16777216) % 256}.${Math.floor(n / 65536) % 256}.${Math.floor(n / 256) % 256}.${n % 256}`;
}

/** `count` loopback addresses from `first`, skipping any whose last octet is 0 or 255. */
export function loopbackAddresses(first: string, count: number): string[] {
  let n = ipToInt(first);
  const end = ipToInt('127.255.255.254');
  if (n < ipToInt('127.0.0.1') || n > end) throw new Error(`firstAddress ${first} is not inside 127.0.0.0/8`);
  const out: string[] = [];
  while (out.length < count) {
    if (n > end) throw new Error(`${count} addresses from ${first} do not fit in 127.0.0.0/8`);
    const last = n % 256;
    if (last !== 0 && last !== 255) out.push(intToIp(n));
    n++;
  }
  return out;
}

/** Exact behaviour counts for `count` servers (largest remainder, so they add up). */
export function behaviourCounts(count: number, mix: SimMix): Record<SimBehaviour, number> {
  const weights = SIM_BEHAVIOURS.map((b) => {
    const w = mix[b] ?? 0;
    if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`mix.${b} must be a fraction >= 0, got ${w}`);
    return w;
  });
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) throw new Error('mix must give at least one behaviour a positive fraction');
  const exact = weights.map((w) => (w / sum) * count);
  const counts = exact.map(Math.floor);
  let left = count - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) counts[order[k]!.i]!++;
  const out = {} as Record<SimBehaviour, number>;
  SIM_BEHAVIOURS.forEach((b, i) => (out[b] = counts[i]!));
  return out;
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const PASS_CHARS = ALNUM + '_.!@';
const VENDORS = ['linux', 'MikroTik', 'Microsoft', 'Cisco Systems', 'DrayTek', 'ZyXEL', 'YAMAHA Corporation', 'Juniper'];

function randomString(rnd: () => number, chars: string, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += chars[Math.floor(rnd() * chars.length)];
  return s;
}

/** The servers a fleet with these options would run, without binding anything (pure, seeded). */
export function planSimFleet(opts: Pick<SimFleetOptions, 'count' | 'seed' | 'mix' | 'basePort' | 'firstAddress'>): SimServer[] {
  const count = opts.count;
  if (!Number.isInteger(count) || count < 0) throw new Error(`count must be a whole number >= 0, got ${count}`);
  const port = opts.basePort ?? 1723;
  const rnd = seededRandom(opts.seed);
  const counts = behaviourCounts(count, opts.mix);
  const behaviours: SimBehaviour[] = [];
  for (const b of SIM_BEHAVIOURS) for (let i = 0; i < counts[b]; i++) behaviours.push(b);
  for (let i = behaviours.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [behaviours[i], behaviours[j]] = [behaviours[j]!, behaviours[i]!];
  }
  const ips = loopbackAddresses(opts.firstAddress ?? '127.0.1.1', count);
  return ips.map((ip, i) => {
    const behaviour = behaviours[i]!;
    const login = 'u' + randomString(rnd, ALNUM, 7);
    const password = randomString(rnd, PASS_CHARS, 12);
    const vendor = VENDORS[Math.floor(rnd() * VENDORS.length)]!;
    const hostname = 'pptp-' + randomString(rnd, 'abcdefghijklmnopqrstuvwxyz0123456789', 6);
    const firmware = 1 + Math.floor(rnd() * 4000);
    const maxChannels = 1 + Math.floor(rnd() * 256);
    const rejectWith4 = rnd() < 0.5;
    const http = rnd() < 0.5;
    let resultCode: number | null = null;
    let errorCode: number | null = null;
    if (behaviour === 'good' || behaviour === 'slow') {
      resultCode = 1;
      errorCode = 0;
    } else if (behaviour === 'rejecting') {
      resultCode = rejectWith4 ? 4 : 2;
      errorCode = rejectWith4 ? 0 : 4;
    }
    return {
      ip,
      port,
      behaviour,
      login,
      password,
      vendor,
      hostname,
      firmware,
      maxChannels,
      resultCode,
      errorCode,
      garbage: behaviour === 'garbage' ? (http ? 'http' : 'ssh') : null,
    };
  });
}

/** Format 7 import text for a list of servers. */
export function simImportText(servers: SimServer[], header?: string): string {
  const lines: string[] = [];
  if (header) lines.push(`# ${header}`);
  const ports = new Set(servers.map((s) => s.port));
  if (ports.size > 0 && !(ports.size === 1 && ports.has(1723))) {
    lines.push(`# NOTE: these servers listen on port(s) ${[...ports].join(', ')}, format 7 carries no port`);
  }
  for (const s of servers) lines.push(`${s.ip}:${s.login}:${s.password}`);
  return lines.join('\n') + '\n';
}

// ---- file-descriptor budget --------------------------------------------------------------------

export function openFileLimit(): number {
  try {
    const text = fs.readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (m) return m[1] === 'unlimited' ? 1_000_000 : Number(m[1]);
  } catch {
    // not Linux
  }
  return 20_000;
}

export function openFileCount(): number {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return 64;
  }
}

const FD_RESERVE = 256;

// ---- serving ---------------------------------------------------------------------------------

const SSH_BANNER = Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n');
const SSH_INVALID = Buffer.from('Invalid SSH identification string.\r\n');
const HTTP_400 = Buffer.from(
  'HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
);
const MAX_CONTROL_MESSAGE = 1024;

function noop(): void {}

/** Serves PPTP control messages (good, slow, rejecting servers). */
function servePptp(socket: net.Socket, server: SimServer, slowDelayMs: number, timers: Set<NodeJS.Timeout>): void {
  let pending: Buffer | null = null;
  let closed = false;
  socket.once('close', () => {
    closed = true;
  });
  const replyStart = (): void => {
    if (closed) return;
    socket.write(
      encodeSccrp({
        resultCode: server.resultCode ?? 1,
        errorCode: server.errorCode ?? 0,
        framing: 0x3,
        bearer: 0x3,
        maxChannels: server.maxChannels,
        firmware: server.firmware,
        hostname: server.hostname,
        vendor: server.vendor,
      }),
    );
    if (server.behaviour === 'rejecting') socket.end();
  };
  socket.on('data', (chunk: Buffer) => {
    pending = pending === null ? chunk : Buffer.concat([pending, chunk]);
    while (pending !== null && pending.length >= 10) {
      const len = pending.readUInt16BE(0);
      if (len < 12 || len > MAX_CONTROL_MESSAGE || pending.readUInt32BE(4) !== PPTP_MAGIC_COOKIE) {
        socket.destroy(); // a real pptpd drops a client whose first packet is not PPTP
        return;
      }
      if (pending.length < len) break;
      const msg = pending.subarray(0, len);
      pending = pending.length === len ? null : pending.subarray(len);
      switch (msg.readUInt16BE(8)) {
        case ControlType.StartControlConnectionRequest:
          if (server.behaviour === 'slow') {
            const t = setTimeout(() => {
              timers.delete(t);
              replyStart();
            }, slowDelayMs);
            timers.add(t);
            socket.once('close', () => {
              clearTimeout(t);
              timers.delete(t);
            });
          } else {
            replyStart();
          }
          break;
        case ControlType.StopControlConnectionRequest:
          socket.end(encodeStopCcrp(1, 0));
          return;
        case ControlType.EchoRequest:
          socket.write(encodeEchoReply(len >= 16 ? msg.readUInt32BE(12) : 0, 1, 0));
          break;
        default:
          break; // ignore what the simulator does not model
      }
    }
    if (pending !== null && pending.length > MAX_CONTROL_MESSAGE) socket.destroy();
  });
}

function serveGarbage(socket: net.Socket, server: SimServer): void {
  if (server.garbage === 'ssh') {
    socket.write(SSH_BANNER);
    socket.once('data', () => socket.end(SSH_INVALID));
  } else {
    socket.once('data', () => socket.end(HTTP_400));
  }
  socket.on('data', noop);
}

/** Starts a simulated fleet: listeners for every server except the "closed" ones. */
export async function startSimFleet(opts: SimFleetOptions): Promise<SimFleet> {
  if (opts.firstAddress !== undefined) return startFleetOn(opts, null);
  // The allocator checked only the addresses a fleet of PROBED_SIZE uses.
  if (opts.count > PROBED_SIZE) throw new Error(`sim fleet: ${opts.count} servers need a firstAddress of their own (an allocated block holds ${PROBED_SIZE})`);
  const block = await loopbackRange();
  try {
    return await startFleetOn({ ...opts, firstAddress: block.first }, block);
  } catch (err) {
    await block.release();
    throw err;
  }
}

async function startFleetOn(opts: SimFleetOptions, block: LoopbackBlock | null): Promise<SimFleet> {
  const servers = planSimFleet(opts);
  const slowDelayMs = opts.slowDelayMs ?? 500;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
  const toBind = servers.filter((s) => s.behaviour !== 'closed');
  const fdLimit = openFileLimit();
  const budget = fdLimit - openFileCount() - toBind.length - FD_RESERVE;
  const maxConnections = opts.maxConnections ?? budget;
  if (opts.maxConnections === undefined ? budget < 16 : !(opts.maxConnections >= 1)) {
    throw new Error(
      `sim fleet: ${toBind.length} listeners do not fit the open-file limit ${fdLimit} ` +
        `(${openFileCount()} already open, ${FD_RESERVE} reserved): use fewer servers or another process`,
    );
  }

  const listeners: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const stats: SimFleetStats = {
    listeners: 0,
    openConnections: 0,
    peakConnections: 0,
    acceptedConnections: 0,
    shedConnections: 0,
    maxConnections,
    fdLimit,
    bindMs: 0,
  };

  const onConnection = (server: SimServer) => (socket: net.Socket) => {
    socket.on('error', noop);
    if (stats.openConnections >= maxConnections) {
      stats.shedConnections++;
      socket.destroy();
      return;
    }
    stats.acceptedConnections++;
    stats.openConnections++;
    if (stats.openConnections > stats.peakConnections) stats.peakConnections = stats.openConnections;
    sockets.add(socket);
    socket.once('close', () => {
      stats.openConnections--;
      sockets.delete(socket);
    });
    socket.setTimeout(idleTimeoutMs, () => socket.destroy());
    switch (server.behaviour) {
      case 'good':
      case 'slow':
      case 'rejecting':
        servePptp(socket, server, slowDelayMs, timers);
        break;
      case 'garbage':
        serveGarbage(socket, server);
        break;
      case 'silent':
      default:
        socket.resume(); // read and discard, never answer
        break;
    }
  };

  const close = async (): Promise<void> => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    const closing = listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve())));
    for (const s of sockets) s.destroy();
    sockets.clear();
    await Promise.all(closing);
    listeners.length = 0;
    stats.listeners = 0;
    await block?.release();
  };

  const started = performance.now();
  const concurrency = Math.max(1, opts.bindConcurrency ?? 64);
  let next = 0;
  let failure: Error | null = null;
  const bindOne = (server: SimServer): Promise<void> =>
    new Promise((resolve, reject) => {
      const l = net.createServer({ noDelay: true }, onConnection(server));
      const onError = (err: NodeJS.ErrnoException): void => {
        const hint = err.code === 'EADDRINUSE' ? ' (another sim fleet or server uses it: pick another firstAddress/basePort)' : '';
        reject(new Error(`sim fleet: cannot listen on ${server.ip}:${server.port}: ${err.code ?? err.message}${hint}`));
      };
      l.once('error', onError);
      l.listen({ host: server.ip, port: server.port, backlog: 511, exclusive: true }, () => {
        l.removeListener('error', onError);
        l.on('error', noop);
        listeners.push(l);
        stats.listeners++;
        resolve();
      });
    });
  const worker = async (): Promise<void> => {
    while (failure === null && next < toBind.length) {
      const s = toBind[next++]!;
      try {
        await bindOne(s);
      } catch (err) {
        failure ??= err as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, toBind.length) }, worker));
  stats.bindMs = Math.round(performance.now() - started);
  if (failure !== null) {
    await close();
    throw failure;
  }

  return {
    servers,
    importText: () =>
      simImportText(servers, `Connexa simulated fleet: seed=${opts.seed} count=${opts.count} (format 7: ip:login:password)`),
    stats: () => ({ ...stats }),
    close,
  };
}
