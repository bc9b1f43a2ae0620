/**
 * PPTP control-connection probe: connect to TCP port 1723, send a Start-Control-Connection-Request,
 * read the Start-Control-Connection-Reply, then say goodbye (Stop-Control-Connection-Request) and
 * close. It proves that a PPTP server answers and what it says about itself; it does not log in.
 *
 * Built for batches (15,000 targets at concurrency 200-500): node:net only, one socket, one timer
 * and one small reader per attempt, a shared pre-encoded request, and no DNS (targets are IPs).
 */
import net from 'node:net';
import type { PptpResult } from '../../fleet/node.ts';
import {
  encodeSccrq,
  encodeStopCcrq,
  errorCodeMeaning,
  resultCodeMeaning,
  SccrpReader,
  type PartialVerdict,
  type Sccrp,
} from './codec.ts';
import { onAbort } from '../../on-abort.ts';
import { probePolicy, type ProbePolicy } from './policy.ts';

export type PptpOutcome =
  | 'ok'
  | 'refused'
  | 'timeout_connect'
  | 'timeout_reply'
  | 'unreachable'
  | 'reset'
  /** Accepted the connection, then closed it before a full reply. */
  | 'closed'
  | 'not_pptp'
  /** A valid reply whose result code is not 1. */
  | 'rejected'
  | 'invalid_target'
  /** The destination policy refused the address (this host, loopback, link-local…): no connection made. */
  | 'blocked'
  | 'cancelled'
  /**
   * This machine could not open the connection (too many open files, no free local port, a local
   * firewall, a bad localAddress). Says nothing about the server: do not mark it failed.
   */
  | 'local_error';

export const PPTP_OUTCOMES: readonly PptpOutcome[] = [
  'ok', 'refused', 'timeout_connect', 'timeout_reply', 'unreachable', 'reset', 'closed',
  'not_pptp', 'rejected', 'invalid_target', 'blocked', 'cancelled', 'local_error',
];

/** Outcomes that are worth another attempt (a busy pptpd drops or stalls some clients). */
// 'closed' is here because the real pptpd, probed by several clients at once, accepts some
// connections and closes them without a reply (measured in the lab: 9 of 60 at concurrency 10);
// a server that always does so costs one extra quick connection.
export const RETRYABLE_OUTCOMES: ReadonlySet<PptpOutcome> = new Set(['timeout_connect', 'timeout_reply', 'reset', 'closed']);

export interface PptpTarget {
  host: string;
  port: number;
}

export interface PptpProbeOptions {
  /** Deadline of ONE attempt, covering connect and reply. */
  timeoutMs: number;
  /** Extra attempts after a retryable outcome (0 = one attempt). */
  retries: number;
  signal?: AbortSignal;
  localAddress?: string;
  /** Outcomes that earn another attempt (default RETRYABLE_OUTCOMES: timeouts, resets and `closed`). */
  retryOn?: ReadonlySet<PptpOutcome> | readonly PptpOutcome[];
  /** Pause before a retry (default 100 ms). */
  retryDelayMs?: number;
  /** How long to wait for the Stop-Control-Connection-Reply before destroying the socket (default 250 ms). */
  stopGraceMs?: number;
  /** Which addresses may be probed (default: not this host, loopback, link-local…; see policy.ts). */
  policy?: ProbePolicy;
}

let defaultPolicy: ProbePolicy | null = null;

export interface PptpProbeResult {
  ok: boolean;
  outcome: PptpOutcome;
  /** A sentence a person understands; null when ok. */
  reason: string | null;
  /** Handshake time of the attempt that got a reply: connect start to full reply. */
  latencyMs: number | null;
  vendor: string | null;
  hostname: string | null;
  firmware: number | null;
  protocolVersion: number | null;
  resultCode: number | null;
  errorCode: number | null;
  maxChannels: number | null;
  framing: number | null;
  bearer: number | null;
  /** Connection attempts made (0 when none was made: invalid target or cancelled first). */
  attempts: number;
}

const SCCRQ = encodeSccrq();
const STOP_CCRQ = encodeStopCcrq(1);
const DEFAULT_RETRY_DELAY_MS = 100;
const DEFAULT_STOP_GRACE_MS = 250;

interface AttemptResult {
  outcome: PptpOutcome;
  reason: string | null;
  latencyMs: number | null;
  reply: Sccrp | null;
}

// ---- results ---------------------------------------------------------------------------------

function emptyResult(outcome: PptpOutcome, reason: string | null, attempts: number): PptpProbeResult {
  return {
    ok: outcome === 'ok',
    outcome,
    reason,
    latencyMs: null,
    vendor: null,
    hostname: null,
    firmware: null,
    protocolVersion: null,
    resultCode: null,
    errorCode: null,
    maxChannels: null,
    framing: null,
    bearer: null,
    attempts,
  };
}

function toResult(a: AttemptResult, attempts: number): PptpProbeResult {
  const r = emptyResult(a.outcome, a.reason, attempts);
  r.latencyMs = a.latencyMs;
  const reply = a.reply;
  if (reply !== null) {
    r.vendor = reply.vendor;
    r.hostname = reply.hostname;
    r.firmware = reply.firmware;
    r.protocolVersion = reply.protocolVersion;
    r.resultCode = reply.resultCode;
    r.errorCode = reply.errorCode;
    r.maxChannels = reply.maxChannels;
    r.framing = reply.framing;
    r.bearer = reply.bearer;
  }
  if (r.reason !== null && attempts > 1) r.reason += ` (after ${attempts} attempts)`;
  return r;
}

function rejectionReason(reply: Sccrp): string {
  let s = `the server refused the control connection: result code ${reply.resultCode} (${resultCodeMeaning(reply.resultCode)})`;
  if (reply.resultCode === 2 || reply.errorCode !== 0) s += `, error code ${reply.errorCode} (${errorCodeMeaning(reply.errorCode)})`;
  return s;
}

const round1 = (ms: number): number => Math.round(ms * 10) / 10;

/** Describes a socket error; `connected` tells whether TCP was established when it happened. */
function classifyError(err: NodeJS.ErrnoException, connected: boolean, target: PptpTarget): { outcome: PptpOutcome; reason: string } {
  const code = err.code ?? 'UNKNOWN';
  const where = `${target.host}:${target.port}`;
  switch (code) {
    case 'ECONNREFUSED':
      return { outcome: 'refused', reason: `connection refused: nothing listens on ${where} (or a firewall rejects it)` };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return {
        outcome: 'reset',
        reason: connected
          ? `the server accepted the connection, then reset it before replying (${code})`
          : `the connection was reset as soon as it was made (${code})`,
      };
    case 'ETIMEDOUT':
      return connected
        ? { outcome: 'timeout_reply', reason: `the connection timed out before a reply (${code})` }
        : { outcome: 'timeout_connect', reason: `no answer to the connection attempt (${code}): the host is down or a firewall drops the packets` };
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
      return { outcome: 'unreachable', reason: `host unreachable (${code}): a router reported that ${target.host} cannot be reached` };
    case 'ENETUNREACH':
    case 'ENONET':
      return { outcome: 'unreachable', reason: `network unreachable (${code}): there is no route to ${target.host}` };
    case 'EMFILE':
    case 'ENFILE':
      return { outcome: 'local_error', reason: `this machine ran out of file descriptors (${code}); lower the probe concurrency` };
    case 'EADDRNOTAVAIL':
      return { outcome: 'local_error', reason: `no usable local address or port for the connection (${code})` };
    case 'ENOBUFS':
    case 'ENOMEM':
      return { outcome: 'local_error', reason: `this machine is out of socket buffers (${code})` };
    case 'EPERM':
    case 'EACCES':
      return { outcome: 'local_error', reason: `this machine's firewall or permissions blocked the connection (${code})` };
    case 'EINVAL':
    case 'EAFNOSUPPORT':
      return { outcome: 'local_error', reason: `the connection could not be set up here (${code}: ${err.message})` };
    default:
      return connected
        ? { outcome: 'reset', reason: `the connection failed after it was accepted (${code})` }
        : { outcome: 'unreachable', reason: `the connection failed (${code}: ${err.message})` };
  }
}

// ---- one attempt -----------------------------------------------------------------------------

function attempt(target: PptpTarget, opts: PptpProbeOptions): { promise: Promise<AttemptResult>; cancel: () => void } {
  const started = performance.now();
  let socket: net.Socket;
  try {
    socket = net.connect({ host: target.host, port: target.port, localAddress: opts.localAddress, noDelay: true });
  } catch (err) {
    // A connect that throws (a bad localAddress, a refusal by this host) says nothing about the server.
    const result = failure('local_error', `this host could not open a connection: ${(err as Error).message}`);
    return { promise: Promise.resolve(result), cancel: noop };
  }
  const a = new Attempt(socket, target, opts, started);
  return { promise: a.result, cancel: () => a.finish(failure('cancelled', 'the probe was cancelled')) };
}

/** One connection: send the request, read the reply, settle on the first thing that decides it. */
class Attempt {
  readonly result: Promise<AttemptResult>;
  private resolve: (r: AttemptResult) => void = noop;
  private readonly reader = new SccrpReader();
  private connected = false;
  private done = false;
  private readonly deadline: NodeJS.Timeout;
  private readonly socket: net.Socket;
  private readonly target: PptpTarget;
  private readonly opts: PptpProbeOptions;
  private readonly started: number;

  constructor(socket: net.Socket, target: PptpTarget, opts: PptpProbeOptions, started: number) {
    this.socket = socket;
    this.target = target;
    this.opts = opts;
    this.started = started;
    this.result = new Promise((resolve) => (this.resolve = resolve));
    this.deadline = setTimeout(this.onDeadline, opts.timeoutMs);
    socket.on('connect', this.onConnect);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    // 'close' without 'end' or 'error' should not happen, but never leave the promise pending.
    socket.on('close', this.onEnd);
  }

  /** Settles once; says goodbye after a reply (`stop`, `end`) or drops the connection (`none`). */
  finish(result: AttemptResult, goodbye: 'stop' | 'end' | 'none' = 'none'): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.deadline);
    this.detach();
    closeSocket(this.socket, goodbye, this.opts.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
    this.resolve(result);
  }

  private detach(): void {
    const s = this.socket;
    s.removeListener('connect', this.onConnect);
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.removeListener('close', this.onEnd);
    // Keep an error listener: a late error on a closing socket must not crash the process.
    s.removeListener('error', this.onError);
    s.on('error', noop);
  }

  private readonly onConnect = (): void => {
    this.connected = true;
    this.socket.write(SCCRQ);
  };

  private readonly onData = (chunk: Buffer): void => {
    const d = this.reader.push(chunk);
    if (d === null) return;
    if (d.kind === 'not_pptp') return this.finish(failure('not_pptp', d.reason));
    const latencyMs = round1(performance.now() - this.started);
    const reply = d.reply;
    if (reply.resultCode === 1) this.finish({ outcome: 'ok', reason: null, latencyMs, reply }, 'stop');
    else this.finish({ outcome: 'rejected', reason: rejectionReason(reply), latencyMs, reply }, 'end');
  };

  private readonly onDeadline = (): void => {
    if (!this.done) this.finish(timeoutResult(this.connected, this.reader.partial(), this.opts.timeoutMs));
  };

  private readonly onEnd = (): void => {
    this.finish(closedResult(this.reader.partial()));
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    this.finish(errorResult(err, this.connected, this.reader.partial(), this.target));
  };
}

function failure(outcome: PptpOutcome, reason: string): AttemptResult {
  return { outcome, reason, latencyMs: null, reply: null };
}

/** No full reply within the deadline: what arrived by then says which timeout it was. */
function timeoutResult(connected: boolean, p: PartialVerdict, timeoutMs: number): AttemptResult {
  if (!connected) {
    return failure('timeout_connect', `no answer to the TCP connection attempt within ${timeoutMs} ms: the host is down or a firewall drops the packets`);
  }
  if (p.kind === 'not_pptp') return failure('not_pptp', p.reason);
  if (p.kind === 'truncated') return failure('timeout_reply', `accepted the connection but sent only ${p.reason} within ${timeoutMs} ms`);
  return failure('timeout_reply', `accepted the connection but sent no Start-Control-Connection-Reply within ${timeoutMs} ms`);
}

/** The server closed the connection before a full reply. */
function closedResult(p: PartialVerdict): AttemptResult {
  if (p.kind === 'not_pptp') return failure('not_pptp', p.reason);
  if (p.kind === 'truncated') return failure('closed', `the server closed the connection after sending ${p.reason}`);
  return failure('closed', 'the server accepted the connection and closed it without replying');
}

function errorResult(err: NodeJS.ErrnoException, connected: boolean, p: PartialVerdict, target: PptpTarget): AttemptResult {
  // An error after some bytes that already prove "not PPTP" is still "not PPTP".
  if (p.kind === 'not_pptp') return failure('not_pptp', p.reason);
  const c = classifyError(err, connected, target);
  if (c.outcome === 'reset' && p.kind === 'truncated') c.reason += ` after sending ${p.reason}`;
  return failure(c.outcome, c.reason);
}

/** Destroys the socket, or says goodbye and closes it without waiting long for the Stop reply. */
function closeSocket(socket: net.Socket, goodbye: 'stop' | 'end' | 'none', graceMs: number): void {
  if (goodbye === 'none' || socket.destroyed) {
    socket.destroy();
    return;
  }
  if (goodbye === 'stop') socket.write(STOP_CCRQ);
  socket.end();
  socket.resume(); // drain whatever comes (the Stop reply) without keeping it
  const grace = setTimeout(() => socket.destroy(), graceMs);
  grace.unref();
  socket.once('close', () => clearTimeout(grace));
  socket.unref();
}

function noop(): void {}

function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    let off: () => void = noop;
    const t = setTimeout(() => {
      off();
      resolve(true);
    }, ms);
    if (signal !== undefined) {
      off = onAbort(signal, () => {
        clearTimeout(t);
        resolve(false);
      });
    }
  });
}

/**
 * Probes one PPTP server. Never hangs, and never throws for anything the network does (only for a
 * bad timeoutMs, a programming error): every attempt has a deadline
 * (opts.timeoutMs, covering connect and reply), and only retryable outcomes (opts.retryOn) are retried.
 */
export async function probePptp(target: PptpTarget, opts: PptpProbeOptions): Promise<PptpProbeResult> {
  const host = typeof target.host === 'string' ? target.host.trim() : '';
  if (net.isIP(host) === 0) {
    return emptyResult('invalid_target', `"${String(target.host)}" is not an IP address`, 0);
  }
  if (!isValidPort(target.port)) {
    return emptyResult('invalid_target', `port ${String(target.port)} is not a TCP port (1-65535)`, 0);
  }
  if (!(opts.timeoutMs > 0) || !Number.isFinite(opts.timeoutMs)) {
    throw new RangeError(`probePptp: timeoutMs must be a positive number, got ${opts.timeoutMs}`);
  }
  // Before any socket exists: a refused address sees no connection attempt at all.
  const refusal = (opts.policy ?? (defaultPolicy ??= probePolicy()))(host);
  if (refusal !== null) return emptyResult('blocked', `not probed: ${refusal}`, 0);
  const signal = opts.signal;
  if (signal?.aborted) return emptyResult('cancelled', 'the probe was cancelled before it started', 0);

  const maxAttempts = 1 + Math.max(0, Math.floor(opts.retries || 0));
  const retryOn: ReadonlySet<PptpOutcome> =
    opts.retryOn === undefined ? RETRYABLE_OUTCOMES : opts.retryOn instanceof Set ? opts.retryOn : new Set(opts.retryOn);
  const t = host === target.host ? target : { host, port: target.port };
  let attempts = 0;
  let last: AttemptResult | null = null;
  while (attempts < maxAttempts) {
    if (attempts > 0) {
      const ok = await delay(opts.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS, signal);
      if (!ok) break;
    }
    attempts++;
    const a = attempt(t, opts);
    const off = signal !== undefined ? onAbort(signal, a.cancel) : noop;
    try {
      last = await a.promise;
    } finally {
      off();
    }
    if (last.outcome === 'cancelled' || last.outcome === 'ok' || !retryOn.has(last.outcome)) break;
    if (signal?.aborted) break;
  }
  if (last === null || (signal?.aborted && last.outcome !== 'ok' && retryOn.has(last.outcome))) {
    return emptyResult('cancelled', 'the probe was cancelled', attempts);
  }
  return toResult(last, attempts);
}

/** Maps a probe result to the record stored on a node (src/fleet/node.ts). */
export function toStoredPptp(result: PptpProbeResult, now: Date | string): PptpResult {
  return {
    ok: result.ok,
    latencyMs: result.latencyMs,
    vendor: result.vendor,
    hostname: result.hostname,
    firmware: result.firmware,
    result: result.outcome,
    error: result.ok ? null : result.reason,
    checkedAt: typeof now === 'string' ? now : now.toISOString(),
  };
}
