import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SimServer } from '../sim/fleet.ts';
import { loopbackRange } from './loopback.ts';

export interface SimProcess {
  servers: SimServer[];
  importFile: string;
  stop(): Promise<void>;
}

/**
 * A simulated fleet in its own process (test/sim/cli.ts), so that thousands of listeners do not
 * eat the test process's open-file budget. Resolves once the fleet says it is ready.
 */
export async function startSimProcess(opts: { count: number; seed: number; mix: string; firstAddress?: string; dir: string; slowDelayMs?: number }): Promise<SimProcess> {
  // Without a firstAddress, this process claims a block for the child's fleet until the child exits.
  const block = opts.firstAddress === undefined ? await loopbackRange() : null;
  const firstAddress = opts.firstAddress ?? block!.first;
  const importFile = join(opts.dir, 'sim-fleet.txt');
  const manifest = join(opts.dir, 'sim-manifest.json');
  const args = [
    resolve('test/sim/cli.ts'),
    '--count', String(opts.count), '--seed', String(opts.seed), '--mix', opts.mix,
    '--first-address', firstAddress, '--out', importFile, '--manifest', manifest,
    '--slow-delay-ms', String(opts.slowDelayMs ?? 300),
  ];
  return new Promise((done, fail) => {
    const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.once('exit', () => void block?.release());
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('sim fleet ready')) {
        child.stdout!.off('data', onData);
        const servers = (JSON.parse(readFileSync(manifest, 'utf8')) as { servers: SimServer[] }).servers;
        done({
          servers,
          importFile,
          stop: () =>
            new Promise((r) => {
              child.once('exit', () => r());
              child.kill('SIGTERM');
            }),
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => fail(new Error(`sim fleet exited (${code}) before it was ready:\n${out}`)));
  });
}
