/**
 * `npm run bench:import-ceiling [-- --sizes 20,50,100]`: how much memory the import parser needs
 * per file size, for the worst case (short one-line records, `ip:login:password`), each size in a
 * process of its own (peak RSS from GNU time, Debian's `time` package). IMPORT_MAX_BYTES's ceiling
 * (src/config.ts) is set from these figures. Prints figures only.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseImportSliced } from '../src/fleet/import/index.ts';

const SELF = fileURLToPath(import.meta.url);

if (process.argv[2] === '--child') {
  const buf = readFileSync(process.argv[3]!);
  const t0 = performance.now();
  const r = await parseImportSliced(buf, { maxBytes: 1 << 30 });
  process.stdout.write(`${r.ok ? r.records.length : -1} ${Math.round(performance.now() - t0)}\n`);
  process.exit(0);
}

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '20,50,100' } } });
const dir = mkdtempSync(join(tmpdir(), 'connexa-bench-ceiling-'));
try {
  console.log('MiB  records    parse ms  peak RSS MB  RSS / file size');
  for (const mb of values.sizes!.split(',').map(Number)) {
    const lines: string[] = [];
    let size = 0;
    for (let i = 0; size < mb * 1024 * 1024; i++) {
      // Documentation-range addresses: parsed only, never contacted.
      const line = `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}:u${i}:p${i}`;
      lines.push(line);
      size += line.length + 1;
    }
    const file = join(dir, `${mb}.txt`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, SELF, '--child', file], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.log(`${String(mb).padStart(3)}  failed: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`);
      continue;
    }
    const [records, ms] = r.stdout.trim().split(' ').map(Number);
    const rssMb = Number(r.stderr.trim().split('\n').at(-1)) / 1024;
    console.log(`${String(mb).padStart(3)}  ${String(records).padStart(9)}  ${String(ms).padStart(8)}  ${rssMb.toFixed(0).padStart(11)}  ${(rssMb / mb).toFixed(1).padStart(15)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
