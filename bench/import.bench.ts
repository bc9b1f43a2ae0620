// `npm run bench:import`: import a generated 100,000-line mixed-format file through the real
// command path (dispatcher -> import command -> parser -> store) into an empty store, then again
// into the store that already holds those nodes (all duplicates). Each scenario runs in its own
// process so its peak RSS is its own. Prints figures; never fails on time.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LINES = Number(process.env.BENCH_LINES ?? 100_000);

interface Figures {
  scenario: string;
  openMs: number;
  wallMs: number;
  nodes: number;
  writes: number;
  peakRssMb: number;
  storeMb: number;
  /** Longest event-loop stall while the import command ran (the chat platforms' deadline is 3 s). */
  stallMs: number;
  /** Longest stall while the store was then flushed to disk. */
  flushStallMs: number;
}

/** The longest gap between ticks of a 1 ms timer: how long the event loop was held at once. */
function stallMeter(): { stop(): Promise<number> } {
  let last = performance.now();
  let max = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last);
    last = now;
  }, 1);
  return {
    async stop() {
      // A stall shows when the delayed tick finally runs: let it run before reading.
      await new Promise((r) => setTimeout(r, 30));
      clearInterval(tick);
      return max;
    },
  };
}

async function scenario(name: string, dataDir: string, file: string): Promise<Figures> {
  const { compose } = await import('../src/compose.ts');
  const { parseConfig } = await import('../src/config.ts');
  const { ShellPort } = await import('../adapters/shell/port.ts');
  const { localFile } = await import('../adapters/shell/local-file.ts');
  const { createLogger } = await import('../src/log.ts');
  const t0 = performance.now();
  const composed = await compose(parseConfig({ DATA_DIR: dataDir }), { log: createLogger('error') });
  const openMs = performance.now() - t0;
  const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;
  const port = new ShellPort({ out: sink, outboxDir: join(dataDir, 'outbox') });
  const writesBefore = composed.app.store.writeCount;
  const start = performance.now();
  const stall = stallMeter();
  const out = await composed.dispatcher.dispatch(port, {
    text: `import ${file}`,
    // What the terminal does before dispatch: the path becomes the file it names (adapters/shell/shell.ts).
    files: [localFile(file)],
    actor: { platform: 'terminal', id: 'bench', name: 'bench', roleIds: [] },
    where: { key: 'terminal' },
  });
  const dispatchMs = performance.now() - start;
  const stallMs = await stall.stop();
  const flushStall = stallMeter();
  const flushStart = performance.now();
  await composed.app.store.flush();
  const flushMs = performance.now() - flushStart;
  const flushStallMs = await flushStall.stop();
  const wallMs = dispatchMs + flushMs;
  if (out.kind !== 'ok') throw new Error(`import did not succeed: ${JSON.stringify(out)}`);
  const nodes = composed.app.store.nodes().length;
  const writes = composed.app.store.writeCount - writesBefore;
  await composed.close();
  return {
    scenario: name,
    openMs,
    wallMs,
    nodes,
    writes,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    storeMb: statSync(join(dataDir, 'connexa.json')).size / 1024 / 1024,
    stallMs,
    flushStallMs,
  };
}

/** Formats 2, 3, 4 and 7 in turn, one record per line, unique ip+login. */
function oneLineFile(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) || 1}`;
    const login = `u${i}`;
    const pass = `p${(i * 2654435761) >>> 0}`;
    switch (i % 4) {
      case 0: out.push(`${ip}:${login}:${pass}`); break;
      case 1: out.push(`${ip} ${login} ${pass} OH`); break;
      case 2: out.push(`${ip} - ${login}:${pass} - Ohio/Akron 44301 | 2025-09-03 10:00:00`); break;
      default: out.push(`${ip}:${login}:${pass}:US:Ohio:44301`);
    }
  }
  return `${out.join('\n')}\n`;
}

async function child(): Promise<void> {
  const [, , , name, dataDir, file] = process.argv;
  const f = await scenario(name!, dataDir!, file!);
  process.stdout.write(`${JSON.stringify(f)}\n`);
}

async function parent(): Promise<void> {
  const { generateImportFileWithStats } = await import('./import-gen.ts');
  const dir = mkdtempSync(join(tmpdir(), 'cnx-bench-import-'));
  try {
    const gen = generateImportFileWithStats(LINES, 42);
    const file = join(dir, 'servers.txt');
    writeFileSync(file, gen.text);
    // A second file of one-line records only, so that 100,000 lines are 100,000 nodes.
    const oneLine = join(dir, 'one-line.txt');
    writeFileSync(oneLine, oneLineFile(LINES));
    const self = fileURLToPath(import.meta.url);
    const run = (name: string, dataDir: string, input: string): Figures => {
      const r = spawnSync(process.execPath, [self, '--child', name, dataDir, input], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'error' } });
      if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').pop()!);
    };
    const results = [
      run('mixed, empty store', join(dir, 'a'), file),
      run('mixed, all duplicates', join(dir, 'a'), file),
      run('one-line, empty store', join(dir, 'b'), oneLine),
      run('one-line, all duplicates', join(dir, 'b'), oneLine),
    ];
    // Reference floor: the same bytes through wc -l (reading and counting lines, nothing else).
    const t0 = performance.now();
    execFileSync('wc', ['-l', file]);
    const wcMs = performance.now() - t0;
    const size = statSync(file).size / 1024 / 1024;
    console.log(`import benchmark: ${LINES.toLocaleString('en-US')} lines (${size.toFixed(1)} MiB), ${gen.expected.records.toLocaleString('en-US')} records, ${gen.expected.rejected} invalid lines`);
    console.log('scenario                   import ms   lines/s  peak RSS MB  store writes   nodes  store MB  store open ms  vs wc -l  max stall ms  flush stall ms');
    for (const f of results) {
      console.log(
        `${f.scenario.padEnd(26)} ${f.wallMs.toFixed(0).padStart(9)}  ${Math.round(LINES / (f.wallMs / 1000)).toLocaleString('en-US').padStart(8)}  ${f.peakRssMb.toFixed(0).padStart(11)}  ${String(f.writes).padStart(12)}  ${String(f.nodes).padStart(6)}  ${f.storeMb.toFixed(1).padStart(8)}  ${f.openMs.toFixed(0).padStart(13)}  ${`${(f.wallMs / wcMs).toFixed(0)}x`.padStart(8)}  ${f.stallMs.toFixed(0).padStart(12)}  ${f.flushStallMs.toFixed(0).padStart(14)}`,
      );
    }
    console.log(`reference: wc -l over the same file ${wcMs.toFixed(1)} ms (process start included). Targets: under 3 s and 400 MB each, at most a few dozen writes.`);
    if (results[0]!.nodes !== gen.expected.records || results[1]!.nodes !== gen.expected.records) console.log(`MISMATCH: expected ${gen.expected.records} nodes`);
    if (results[2]!.nodes !== LINES || results[3]!.nodes !== LINES) console.log(`MISMATCH: expected ${LINES} one-line nodes`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child();
else await parent();
