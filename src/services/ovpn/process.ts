/**
 * Runs one `openvpn --config FILE` server and keeps it running.
 *
 * - start() resolves when OpenVPN prints "Initialization Sequence Completed" (its tun device is up
 *   and it listens), and rejects with its last lines when it exits or stays silent past the deadline.
 * - After that, an unexpected exit restarts it after 1, 2, 4 ... 60 s; stop() ends it (SIGTERM, then
 *   SIGKILL after a grace period) and ends the supervision.
 * - It gets a minimal environment (ours holds chat tokens) and no secret on its command line: keys
 *   are files named in the config.
 * - A server left behind by a crashed bot (its pid file names a live openvpn with our config) is
 *   ended before a new one starts, so the port and the tun device are free again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createInterface } from 'node:readline';

const READY = 'Initialization Sequence Completed';
const MIN_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
const KEEP_LINES = 40;

export interface OvpnProcessOptions {
  binary: string;
  configPath: string;
  pidFile: string;
  readyTimeoutMs?: number;
  /** SIGTERM -> SIGKILL. OpenVPN waits ~1 s on exit to tell UDP clients (explicit-exit-notify). */
  killGraceMs?: number;
  onLine?: (line: string) => void;
  /** Called on each unexpected exit, with the restart delay. */
  onCrash?: (info: { code: number | null; signal: string | null; restartInMs: number; lastLines: string[] }) => void;
  /** Called when a restarted server is ready again. */
  onRecovered?: () => void;
}

export class OvpnProcessError extends Error {
  readonly lastLines: string[];
  constructor(message: string, lastLines: string[]) {
    super(message);
    this.lastLines = lastLines;
  }
}

export class OvpnServerProcess {
  private child: ChildProcess | null = null;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private readonly lines: string[] = [];

  private readonly opts: OvpnProcessOptions;
  constructor(opts: OvpnProcessOptions) {
    this.opts = opts;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  lastLines(): string[] {
    return [...this.lines];
  }

  /** Starts the server and waits until it is ready. */
  async start(): Promise<void> {
    this.stopped = false;
    await killStale(this.opts.pidFile, this.opts.configPath);
    await this.spawnOnce();
  }

  private spawnOnce(): Promise<void> {
    const child = spawn(this.opts.binary, ['--config', this.opts.configPath], { stdio: ['ignore', 'pipe', 'pipe'], env: MIN_ENV });
    this.child = child;
    let ready = false;
    let onReady: () => void = () => {};
    const readyP = new Promise<void>((resolve) => (onReady = resolve));
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        this.lines.push(line);
        if (this.lines.length > KEEP_LINES) this.lines.shift();
        this.opts.onLine?.(line);
        if (!ready && line.includes(READY)) {
          ready = true;
          onReady();
        }
      });
    }
    let spawnError: Error | null = null;
    child.once('error', (err) => (spawnError = err));
    const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    void exit.then(({ code, signal }) => {
      if (this.child === child) this.child = null;
      if (this.stopped || !ready) return; // start() reports an early exit itself
      this.failures++;
      const restartInMs = Math.min(60_000, 1000 * 2 ** Math.min(this.failures - 1, 6));
      this.opts.onCrash?.({ code, signal, restartInMs, lastLines: this.lastLines() });
      this.scheduleRestart(restartInMs);
    });

    const timeoutMs = this.opts.readyTimeoutMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      readyP.then(() => 'ready' as const),
      exit.then(() => 'exit' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
    ]).then(async (how) => {
      clearTimeout(timer);
      if (how === 'ready') {
        // It has been up a while: the next crash restarts quickly again.
        setTimeout(() => this.child === child && (this.failures = 0), 60_000).unref();
        return;
      }
      if (how === 'timeout') await this.kill(child);
      const why = spawnError ? `cannot run ${this.opts.binary}: ${(spawnError as Error).message}` : how === 'timeout' ? `openvpn was not ready within ${timeoutMs / 1000} s` : 'openvpn exited during start-up';
      throw new OvpnProcessError(`${why}${this.lines.length ? `: ${summarise(this.lines)}` : ''}`, this.lastLines());
    });
  }

  private scheduleRestart(ms: number): void {
    if (this.stopped) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopped) return;
      this.spawnOnce().then(
        () => this.opts.onRecovered?.(),
        () => {
          // A failed restart counts as another crash.
          this.failures++;
          this.scheduleRestart(Math.min(60_000, 1000 * 2 ** Math.min(this.failures - 1, 6)));
        },
      );
    }, ms);
    this.restartTimer.unref();
  }

  /** Ends the server and its supervision. Idempotent; never rejects. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const child = this.child;
    if (child) await this.kill(child);
    fs.rmSync(this.opts.pidFile, { force: true });
  }

  private async kill(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), this.opts.killGraceMs ?? 5_000);
    await gone;
    clearTimeout(timer);
  }
}

/** The most telling of OpenVPN's last lines, without timestamps. */
function summarise(lines: string[]): string {
  const telling = lines.filter((l) => /error|cannot|fatal|failed|exiting|denied|address already in use/i.test(l));
  return (telling.length ? telling : lines).slice(-3).map((l) => l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, '')).join(' | ');
}

/** Ends an openvpn left running by a previous run of the bot for the same config file. */
export async function killStale(pidFile: string, configPath: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 1) return false;
  let cmdline: string;
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    fs.rmSync(pidFile, { force: true });
    return false;
  }
  // Only ours: an openvpn whose argv names this very config. A recycled pid is left alone.
  const argv = cmdline.split('\0');
  if (!argv[0]?.endsWith('openvpn') || !argv.includes(configPath)) return false;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return false;
  }
  // The tun device and the UDP port go with the process; give the kernel a moment.
  const until = Date.now() + 2000;
  while (Date.now() < until && fs.existsSync(`/proc/${pid}`)) await new Promise((r) => setTimeout(r, 20));
  fs.rmSync(pidFile, { force: true });
  return true;
}
