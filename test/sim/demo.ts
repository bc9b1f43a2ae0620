// `npm run demo`: a simulated fleet of 300 PPTP servers on loopback, imported into a demo store
// (data/demo unless DATA_DIR is set), then the terminal REPL, ready for `ping`.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startSimFleet } from './fleet.ts';

const dataDir = resolve(process.env.DATA_DIR || 'data/demo');
const bin = resolve('bin/connexa.js');
mkdirSync(dataDir, { recursive: true, mode: 0o700 });

const fleet = await startSimFleet({
  count: 300,
  seed: 1,
  mix: { good: 0.7, closed: 0.1, silent: 0.1, slow: 0.05, garbage: 0.03, rejecting: 0.02 },
  slowDelayMs: 800,
  firstAddress: '127.0.90.1',
});
const file = join(dataDir, 'demo-fleet.txt');
writeFileSync(file, fleet.importText(), { mode: 0o600 });
console.log(`Simulated fleet: 300 PPTP servers on 127.0.90.1-127.0.91.x:1723 (70 % good, 10 % closed, 10 % silent, 5 % slow, 3 % garbage, 2 % rejecting).`);

const run = (args: string[]) =>
  new Promise<number>((done) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: 'inherit', env: { PROBE_ALLOW: '127.0.0.0/8', ...process.env, DATA_DIR: dataDir } });
    child.on('close', (code) => done(code ?? 1));
  });

// Ctrl-C belongs to the REPL (it cancels jobs there); this process only keeps the fleet up.
process.on('SIGINT', () => {});
await run(['import', file]);
console.log('Try: ping · jobs · stats · list status:ping_failed · show n1 · help');
const code = await run([]);
await fleet.close();
process.exit(code);
