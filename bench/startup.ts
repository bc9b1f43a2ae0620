/**
 * `npm run bench:startup [-- --runs 10 --nodes 15000 --node /path/to/node]`: how long the one-shot
 * `connexa` command takes to start and what it costs, side by side with `node -e 0` (the floor) in
 * one run. Wall time and peak RSS (GNU time's %M: Debian's `time` package) are medians of N runs.
 * `connexa stats` runs on a store of N nodes that the bench writes first into a temp DATA_DIR.
 * Figures only: it never fails because a machine is slow.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { NodeFields } from '../src/fleet/node.ts';
import { Store } from '../src/store/store.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    nodes: { type: 'string', default: '15000' },
    node: { type: 'string', default: process.execPath },
  },
});
const RUNS = Number(values.runs);
const NODES = Number(values.nodes);
const NODE = values.node!;
const CONNEXA = resolve('bin/connexa.js');
const TIME = '/usr/bin/time';

if (!existsSync(TIME)) {
  console.error('bench:startup needs GNU time for peak RSS: apt-get install -y time');
  process.exit(2);
}

async function seedStore(dataDir: string): Promise<void> {
  const store = await Store.open(dataDir, { flushDelayMs: 0 });
  const fields: NodeFields[] = [];
  for (let i = 0; i < NODES; i++) {
    // Documentation ranges only: nothing here is contacted, the store just holds them.
    const ip = `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    fields.push({ ip, port: 1723, login: `u${i}`, password: `p${i}x`, provider: null, country: i % 3 ? 'US' : 'DE', state: null, city: null, zip: null, comment: null });
  }
  store.addNodes(fields, 'bench');
  await store.close();
}

interface Sample {
  ms: number;
  rssMb: number;
}

function measure(argv: string[], env: NodeJS.ProcessEnv): Sample {
  const t0 = performance.now();
  const r = spawnSync(TIME, ['-f', '%M', ...argv], { encoding: 'utf8', env });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.slice(-500)}`);
  const kb = Number(r.stderr.trim().split('\n').at(-1));
  return { ms, rssMb: kb / 1024 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const dataDir = mkdtempSync(join(tmpdir(), 'connexa-bench-startup-'));
try {
  await seedStore(dataDir);
  const env = { ...process.env, DATA_DIR: dataDir, SLACK_BOT_TOKEN: '', DISCORD_TOKEN: '', LOG_LEVEL: 'error' };
  const cases: Array<{ name: string; argv: string[] }> = [
    { name: 'node -e 0 (floor)', argv: [NODE, '-e', '0'] },
    { name: 'connexa help', argv: [NODE, CONNEXA, 'help'] },
    { name: `connexa stats (${NODES.toLocaleString('en-US')} nodes)`, argv: [NODE, CONNEXA, 'stats'] },
  ];
  measure(cases[1]!.argv, env); // warm the file cache once; not counted
  const version = spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`bench:startup — node ${version}, ${RUNS} runs each, medians`);
  const rows: Array<{ name: string; ms: number; rssMb: number }> = [];
  for (const c of cases) {
    const samples: Sample[] = [];
    for (let i = 0; i < RUNS; i++) samples.push(measure(c.argv, env));
    rows.push({ name: c.name, ms: median(samples.map((s) => s.ms)), rssMb: median(samples.map((s) => s.rssMb)) });
  }
  const floor = rows[0]!.ms;
  console.log(`${'command'.padEnd(34)} ${'wall ms'.padStart(9)} ${'x floor'.padStart(8)} ${'peak RSS MB'.padStart(12)}`);
  for (const r of rows) console.log(`${r.name.padEnd(34)} ${r.ms.toFixed(1).padStart(9)} ${(r.ms / floor).toFixed(1).padStart(8)} ${r.rssMb.toFixed(1).padStart(12)}`);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
