import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export interface ConnexaRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

export interface ConnexaRunOptions {
  cwd: string;
  dataDir: string;
  /** Written to stdin, which is then closed (closed at once when absent). */
  stdin?: string;
  /** Added to the bare environment; an undefined value removes the variable. */
  env?: Record<string, string | undefined>;
  /** Takes over the child (stdin left open), e.g. to send it a signal mid-run. */
  keepOpen?: (child: ChildProcess) => void;
}

/** A running `connexa` program: its process, both streams so far, and how it ended. */
export interface ConnexaProcess {
  child: ChildProcess;
  out(): string;
  err(): string;
  ended: Promise<ConnexaRun>;
}

/**
 * Starts the real `connexa` program with a bare environment (PATH, HOME = cwd, DATA_DIR, plus `env`)
 * and leaves stdin open: for a long-running bot the test talks to and stops with a signal.
 */
export function startConnexa(args: string[], opts: Omit<ConnexaRunOptions, 'stdin' | 'keepOpen'>): ConnexaProcess {
  const env = Object.fromEntries(
    Object.entries({ PATH: process.env.PATH ?? '', HOME: opts.cwd, DATA_DIR: opts.dataDir, ...opts.env }).filter(([, v]) => v !== undefined),
  ) as Record<string, string>;
  const child = spawn(process.execPath, [resolve('bin/connexa.js'), ...args], { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const ended = new Promise<ConnexaRun>((done, fail) => {
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, out, err }));
  });
  return { child, out: () => out, err: () => err, ended };
}

/** Runs the real `connexa` program (see startConnexa) and resolves with its exit code or signal and both streams. */
export function runConnexa(args: string[], opts: ConnexaRunOptions): Promise<ConnexaRun> {
  const p = startConnexa(args, opts);
  if (opts.keepOpen) opts.keepOpen(p.child);
  else p.child.stdin!.end(opts.stdin ?? '');
  return p.ended;
}
