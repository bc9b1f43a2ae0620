/**
 * The `pppd` tunnel driver: one pppd process per tunnel, with pptp(8) as its pty, MS-CHAPv2 and
 * MPPE-128 required.
 *
 * - The password is only ever in a 0600 options file under DATA_DIR/run (created O_EXCL, deleted
 *   as soon as pppd has read it and again on exit). pppd's command line is `pppd file PATH`.
 * - pppd is spawned without a shell, in its own process group with a minimal environment (it
 *   needs nothing of ours, and our environment holds chat tokens). The whole group (pppd, pptp and
 *   pptp's call manager) is killed on deadline, cancel and close.
 * - Its output (logfd 1) gives the interface, both addresses and the authentication result;
 *   exit 19 means the server refused the credentials.
 * - Once up, a policy route sends traffic bound to the local address through the tunnel; it is
 *   removed when the tunnel goes down, whoever brings it down.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { checkPppdHost, realHost, type HostProbe, type PppdCapability } from './capability.ts';
import { pppdOptionsFile, targetProblem } from './pppd-options.ts';
import { classifyExit, initialState, parseLine, tunnelReady, type PppdState } from './pppd-output.ts';
import { addPolicyRoute, ipRunner, sweepStaleRules, type IpRunner, type PolicyRoute } from './routes.ts';
import type { OpenOptions, OpenResult, Tunnel, TunnelClosed, TunnelDriver, TunnelFailureKind, TunnelTarget } from './types.ts';

export interface PppdDriverOptions {
  /** Options files go to RUN_DIR (DATA_DIR/run), created 0700. */
  runDir: string;
  host?: HostProbe;
  ip?: IpRunner;
  /** How long pppd gets to exit after SIGTERM before the group is SIGKILLed. */
  killGraceMs?: number;
  /** Receives pppd's output lines (never the password: it is not in pppd's output). */
  onLine?: (line: string) => void;
}

const MIN_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

/**
 * One tunnel per server address at a time. pptp(8) runs one call manager per (local, server)
 * address pair and every pptp to that server joins it, multiplexing calls over one control
 * connection; pptpd accepts one call per control connection, so a second simultaneous tunnel to
 * the same address fails (seen in the VM lab as a hang-up before PPP). Two accounts on one server
 * are common in a fleet, so the driver queues them instead of failing one.
 */
class AddressLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Resolves with a release function once `key` is free, or with null when `signal`/`timeoutMs` ends the wait. */
  async acquire(key: string, timeoutMs: number, signal?: AbortSignal): Promise<(() => void) | null> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    let released = false;
    const releaseOnce = () => {
      if (released) return;
      released = true;
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const got = await Promise.race([
      previous.then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), timeoutMs);
        onAbort = () => r(false);
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    if (got) return releaseOnce;
    // Gave up waiting: pass our turn on as soon as the one before us is done.
    void previous.then(releaseOnce);
    return null;
  }
}

export class PppdDriver implements TunnelDriver {
  readonly name = 'pppd';
  private readonly host: HostProbe;
  private readonly ip: IpRunner;
  private prepared: Promise<PppdCapability> | null = null;
  private readonly locks = new AddressLocks();

  private readonly opts: PppdDriverOptions;
  constructor(opts: PppdDriverOptions) {
    this.opts = opts;
    this.host = opts.host ?? realHost;
    this.ip = opts.ip ?? ipRunner(this.host.which('ip') ?? 'ip');
  }

  /** Capability, module loading and the stale-rule sweep, once per driver. */
  private prepare(): Promise<PppdCapability> {
    this.prepared ??= (async () => {
      const cap = checkPppdHost(this.host);
      if (cap.capability.ok && cap.modprobe) {
        const [cmd, ...args] = cap.modprobe;
        const loaded = await new Promise<string | null>((resolve) => execFile(cmd!, args, { timeout: 10_000 }, (err, _o, stderr) => resolve(err ? String(stderr || err.message).trim() : null)));
        if (loaded !== null || !this.host.exists('/dev/ppp')) {
          return { ...cap, capability: { ok: false, missing: ['kernel PPP'], message: `speed tests need PPTP tunnels, which this host cannot open: modprobe ppp_generic failed${loaded ? ` (${loaded})` : ''} — load it as root: modprobe -a ppp_generic ppp_async ppp_mppe`, fix: 'load it as root: modprobe -a ppp_generic ppp_async ppp_mppe' } };
        }
      }
      if (cap.capability.ok) await sweepStaleRules(this.ip);
      return cap;
    })();
    return this.prepared;
  }

  async open(target: TunnelTarget, o: OpenOptions): Promise<OpenResult> {
    const t0 = Date.now();
    const fail = (kind: TunnelFailureKind, reason: string): OpenResult => ({ ok: false, kind, reason, elapsedMs: Date.now() - t0 });
    const problem = targetProblem(target);
    if (problem) return fail('bad_target', problem);
    if (o.signal?.aborted) return fail('cancelled', 'cancelled before the tunnel was opened');
    const cap = await this.prepare();
    if (!cap.capability.ok) return fail('host_not_capable', cap.capability.message);

    const release = await this.locks.acquire(target.ip, o.timeoutMs, o.signal);
    if (!release) {
      if (o.signal?.aborted) return fail('cancelled', 'cancelled while waiting for another tunnel to the same server');
      return fail('busy', `another tunnel from this host to ${target.ip} stayed open for the whole ${(o.timeoutMs / 1000).toFixed(1)} s deadline`);
    }
    // The wait for the address counts towards the deadline (measured from t0): one budget per open.
    const result = await this.openLocked(target, o, cap, t0).catch((err: Error): OpenResult => fail('local_error', err.message));
    if (!result.ok) release();
    else void result.tunnel.closed.then(release);
    return result;
  }

  private async openLocked(target: TunnelTarget, o: OpenOptions, cap: PppdCapability, t0: number): Promise<OpenResult> {
    const fail = (kind: TunnelFailureKind, reason: string): OpenResult => ({ ok: false, kind, reason, elapsedMs: Date.now() - t0 });
    let optsPath: string;
    try {
      fs.mkdirSync(this.opts.runDir, { recursive: true, mode: 0o700 });
      optsPath = path.join(this.opts.runDir, `pppd-${randomBytes(8).toString('hex')}.options`);
      // O_EXCL: never follow or reuse something that is already there.
      fs.writeFileSync(optsPath, pppdOptionsFile({ target, pptpPath: cap.pptpPath! }), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      return fail('local_error', `cannot write the pppd options file: ${(err as Error).message}`);
    }
    const removeOptions = () => fs.rmSync(optsPath, { force: true });

    let child: ChildProcess;
    try {
      child = spawn(cap.pppdPath!, ['file', optsPath], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: MIN_ENV });
    } catch (err) {
      removeOptions();
      return fail('local_error', `cannot start pppd: ${(err as Error).message}`);
    }
    return new PppdSession(child, removeOptions, this.ip, this.opts, t0).opened(o);
  }
}

/** One pppd process from spawn to exit. */
class PppdSession {
  private readonly state: PppdState = initialState();
  private readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private route: PolicyRoute | null = null;
  private closing = false;
  private closePromise: Promise<void> | null = null;
  private readonly lineWaiters = new Set<() => void>();
  private spawnError: Error | null = null;

  private readonly child: ChildProcess;
  private readonly removeOptions: () => void;
  private readonly ip: IpRunner;
  private readonly opts: PppdDriverOptions;
  private readonly t0: number;
  constructor(
    child: ChildProcess,
    removeOptions: () => void,
    ip: IpRunner,
    opts: PppdDriverOptions,
    t0: number,
  ) {
    this.child = child;
    this.removeOptions = removeOptions;
    this.ip = ip;
    this.opts = opts;
    this.t0 = t0;
    child.on('error', (err) => (this.spawnError = err));
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        // pppd has parsed its options before it prints anything: the password file can go now.
        this.removeOptions();
        parseLine(this.state, line);
        this.opts.onLine?.(line);
        for (const w of this.lineWaiters) w();
      });
    }
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        // Let the last lines arrive (a grandchild may hold the pipe open, so do not wait for 'close').
        setTimeout(() => resolve({ code, signal }), 150);
      });
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    // Whatever happens, the password file, pptp (and its call manager) and the policy route do not
    // outlive pppd: the group outlives its leader while a member is alive, so it can still be signalled.
    void this.exited.then(async () => {
      this.killGroup('SIGKILL');
      this.removeOptions();
      await this.route?.remove();
    });
  }

  private killGroup(signal: NodeJS.Signals): void {
    if (!this.child.pid) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      try {
        this.child.kill(signal);
      } catch {
        // already gone
      }
    }
  }

  /** SIGTERM the group, SIGKILL it after the grace period, resolve when pppd has exited. */
  private async stop(): Promise<{ code: number | null; signal: string | null }> {
    this.closing = true;
    this.killGroup('SIGTERM');
    const grace = this.opts.killGraceMs ?? 3000;
    const timer = setTimeout(() => this.killGroup('SIGKILL'), grace);
    const r = await this.exited;
    clearTimeout(timer);
    // pptp's call manager may still be winding down its control connection: make sure it goes.
    this.killGroup('SIGKILL');
    this.removeOptions();
    return r;
  }

  async opened(o: OpenOptions): Promise<OpenResult> {
    const fail = (kind: TunnelFailureKind, reason: string): OpenResult => ({ ok: false, kind, reason, elapsedMs: Date.now() - this.t0 });
    type Event = { e: 'ready' } | { e: 'exit'; code: number | null; signal: string | null } | { e: 'timeout' } | { e: 'abort' };
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    let waiter: (() => void) | undefined;
    const event = await new Promise<Event>((resolve) => {
      if (tunnelReady(this.state)) return resolve({ e: 'ready' });
      waiter = () => tunnelReady(this.state) && resolve({ e: 'ready' });
      this.lineWaiters.add(waiter);
      void this.exited.then((x) => resolve({ e: 'exit', ...x }));
      timer = setTimeout(() => resolve({ e: 'timeout' }), Math.max(0, o.timeoutMs - (Date.now() - this.t0)));
      onAbort = () => resolve({ e: 'abort' });
      o.signal?.addEventListener('abort', onAbort, { once: true });
    });
    clearTimeout(timer);
    if (waiter) this.lineWaiters.delete(waiter);
    if (onAbort) o.signal?.removeEventListener('abort', onAbort);

    if (event.e === 'exit') {
      if (this.spawnError) return fail('local_error', `cannot start pppd: ${this.spawnError.message}`);
      const c = classifyExit(event.code, event.signal, this.state);
      return fail(c.kind, c.reason);
    }
    if (event.e === 'timeout' || event.e === 'abort') {
      await this.stop();
      if (event.e === 'abort') return fail('cancelled', 'cancelled while the tunnel was being opened');
      // A refusal that raced the deadline is still a refusal.
      if (this.state.authFailed) return fail('auth_failed', `the server refused the credentials (${this.state.authFailed})`);
      return fail('timeout', `no tunnel within ${(o.timeoutMs / 1000).toFixed(1)} s (${this.phase()})`);
    }

    const iface = this.state.iface!;
    const added = await addPolicyRoute(this.ip, iface, this.state.localAddress!);
    if (!added.ok) {
      await this.stop();
      return fail('local_error', `the tunnel came up but its route could not be added: ${added.reason}`);
    }
    this.route = added.route;
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      // It dropped while the route was being added: the exit handler may have run before route was set.
      await this.route.remove();
      const c = classifyExit(this.child.exitCode, this.child.signalCode, this.state);
      return fail(c.kind === 'auth_failed' ? 'auth_failed' : 'protocol_error', `the tunnel dropped as it came up: ${c.reason}`);
    }
    return { ok: true, tunnel: this.tunnel(iface) };
  }

  /** How far the negotiation got, for a timeout's reason. */
  private phase(): string {
    const s = this.state;
    if (s.authOk && !s.localAddress) return 'authenticated, but no IP address was negotiated';
    if (s.iface && !s.authOk) return 'no PPP authentication result: the server did not answer the call or LCP';
    if (!s.iface) return 'pppd printed nothing: no PPTP call was set up';
    return 'negotiation incomplete';
  }

  private tunnel(iface: string): Tunnel {
    const closed: Promise<TunnelClosed> = this.exited.then(({ code }) => ({
      why: this.closing ? 'closed' : 'dropped',
      exitCode: code,
      reason: this.closing ? 'closed' : `the tunnel dropped: ${classifyExit(code, null, this.state).reason}`,
    }));
    return {
      iface,
      localAddress: this.state.localAddress!,
      remoteAddress: this.state.remoteAddress!,
      setupMs: Date.now() - this.t0,
      closed,
      close: () => {
        this.closePromise ??= (async () => {
          this.closing = true;
          // The route first: nothing may leave through a half-closed tunnel or the main table.
          await this.route?.remove();
          await this.stop();
        })().catch(() => {});
        return this.closePromise;
      },
    };
  }
}
