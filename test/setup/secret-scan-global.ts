/**
 * globalSetup of the suite-wide secrets scan (see test/reliability/secret-scan.ts).
 *
 * Before any test process starts: a private temp directory, named in CONNEXA_SECRET_SCAN_DIR, which
 * the test processes inherit; each test file appends what it collected (public requests, log lines,
 * secrets) to it. After the last test file: everything is read back and scanned. The run prints one
 * line (`secret scan: N public requests/messages, M log lines, K secrets, 0 leaks`), or, when a
 * secret appeared, a report of every leak (kind, where, a masked excerpt) and then fails: vitest
 * only logs an error thrown here ("error during close") and would still exit 0, so the exit code is
 * set to 1 as well.
 *
 * CONNEXA_SECRET_SCAN=off skips it; CONNEXA_SECRET_SCAN_KEEP=1 keeps the directory for a look.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatReport, FUZZ_FILES, readScanDir, scan, SCAN_DIR_ENV } from '../reliability/secret-scan.ts';

/** The product's own text (src, commands, adapters): a "secret" that occurs in it proves nothing when found. */
function productText(): string {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.ts')) out.push(readFileSync(join(dir, e.name), 'utf8'));
    }
  };
  for (const d of ['src', 'commands', 'adapters']) walk(join(process.cwd(), d));
  return out.join('\n');
}

export default function setup(): (() => void) | void {
  if (process.env.CONNEXA_SECRET_SCAN === 'off') return;
  const dir = mkdtempSync(join(tmpdir(), 'cnx-secret-scan-'));
  process.env[SCAN_DIR_ENV] = dir;
  return () => {
    delete process.env[SCAN_DIR_ENV];
    const began = Date.now();
    try {
      const { texts, secrets, files } = readScanDir(dir);
      const report = scan(texts, secrets, { vocabulary: productText(), synthetic: FUZZ_FILES });
      const text = formatReport(report, ` (${files} collections, scanned in ${Date.now() - began} ms)`);
      if (report.leaks.length) {
        process.exitCode = 1;
        console.error(`\n${text}\n`);
        throw new Error(`secret scan: ${report.leaks.length} leak(s) of a secret into a public message or a log line (report above)`);
      }
      console.log(`\n${text}`);
    } catch (err) {
      process.exitCode = 1; // a scan that could not run fails the run too
      throw err;
    } finally {
      if (process.env.CONNEXA_SECRET_SCAN_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
      else console.log(`secret scan: collected data kept in ${dir}`);
    }
  };
}
