/**
 * A real redis-server for a test: on a free loopback port, with a password and a temp directory of
 * its own; no persistence unless asked (`aof: true` turns on the append-only file with a fsync per
 * write, so a SIGKILL loses nothing already answered). Stopped by pid, never by name.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './loopback.ts';

export interface RedisServer {
  readonly port: number;
  readonly password: string;
  /** redis://:PASSWORD@127.0.0.1:PORT/0 */
  readonly url: string;
  readonly pid: number;
  /** SIGKILL (a crash), then waits until the port is free. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (with AOF, what was written is back). */
  restart(): Promise<void>;
  /** SIGTERM, waits for the exit, removes the directory. */
  stop(): Promise<void>;
}

/** `bind`: the addresses it listens on (default loopback only; the gateway lab adds its veth ends). */
export async function startRedis(opts: { aof?: boolean; bind?: readonly string[] } = {}): Promise<RedisServer> {
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'connexa-redis-'));
  const args = ['--port', String(port), '--bind', ...(opts.bind ?? ['127.0.0.1']), '--requirepass', password, '--dir', dir, '--save', '', '--daemonize', 'no', '--logfile', join(dir, 'redis.log')];
  if (opts.aof) args.push('--appendonly', 'yes', '--appendfsync', 'always');
  else args.push('--appendonly', 'no');
  let child: ChildProcess = await launch(args, port);
  return {
    port,
    password,
    url: `redis://:${password}@127.0.0.1:${port}/0`,
    get pid() {
      return child.pid!;
    },
    async kill() {
      await ended(child, 'SIGKILL');
      await untilClosed(port);
    },
    async restart() {
      child = await launch(args, port);
    },
    async stop() {
      await ended(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function launch(args: string[], port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited at start: ${stderr.trim() || child.exitCode}`);
    if (await answers(port)) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not listen on 127.0.0.1:${port} within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Resolves once the child has exited (PID 1 here may reap late: the exit event is what counts). */
function ended(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function untilClosed(port: number): Promise<void> {
  while (await answers(port)) await new Promise((r) => setTimeout(r, 25));
}
