import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

export interface ConnexaRun {
  code: number | null;
  out: string;
  err: string;
}

/**
 * Runs the real `connexa` program with a bare environment (PATH, HOME = cwd, DATA_DIR), feeding it
 * `stdin` (closed at once when empty), and resolves with its exit code and both streams.
 */
export function runConnexa(args: string[], opts: { cwd: string; dataDir: string; stdin?: string }): Promise<ConnexaRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [resolve('bin/connexa.js'), ...args], {
      cwd: opts.cwd,
      env: { PATH: process.env.PATH ?? '', HOME: opts.cwd, DATA_DIR: opts.dataDir },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code, out, err }));
    child.stdin.end(opts.stdin ?? '');
  });
}
