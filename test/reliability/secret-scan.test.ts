/**
 * The suite-wide secrets scan catches what it must (see secret-scan.ts and test/setup/secret-scan-*.ts):
 * the scanner on planted data, each kind of secret, in each kind of text, masked in the report; and
 * end to end, a child `vitest run` of secret-scan-fixture.ts with a secret leaked through the real
 * Slack client fails with exit code 1 and a report naming the leak and not the DM.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ZipArchive } from 'archiver';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { fileText, formatReport, FUZZ_FILES, harvest, logText, privateKeyLines, scan, SCAN_DIR_ENV, zipTexts, type ScannedText, type Secret, type SecretKind } from './secret-scan.ts';

const FILE = 'test/some.test.ts';
const PLANTED = { publicPost: 'Planted-Leak-Public-7f3a', logLine: 'Planted-Leak-Log-19cd', dmOnly: 'Private-Only-DM-55be' };
const text = (t: string, o: Partial<ScannedText> = {}): ScannedText => ({ kind: 'request', source: 'fake Slack', label: 'api chat.postMessage', text: t, file: FILE, ...o });
const secret = (value: string, kind: SecretKind = 'node password', file = FILE): Secret => ({ kind, value, origin: 'Store.addNodes', file });
const pem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

async function zip(entries: Record<string, string>): Promise<Buffer> {
  const z = new ZipArchive({ zlib: { level: 9 } });
  const chunks: Buffer[] = [];
  z.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((r, j) => {
    z.on('end', () => r());
    z.on('error', j);
  });
  for (const [name, data] of Object.entries(entries)) z.append(Buffer.from(data), { name });
  await z.finalize();
  await done;
  return Buffer.concat(chunks);
}

describe('the scanner', () => {
  it('finds a planted password in a public request and in a log line, and masks it in the report', () => {
    const r = scan(
      [text('{"text":"203.0.113.5:zed:Sup3r-Secret-PW"}'), text('2026 INFO started', { kind: 'log', source: 'log', label: 'line' }), text('2026 DEBUG creds {"p":"Proxy-Pass-0123456789ab"}', { kind: 'log', source: 'log', label: 'line' })],
      [secret('Sup3r-Secret-PW'), secret('Proxy-Pass-0123456789ab', 'proxy password')],
    );
    expect(r).toMatchObject({ requests: 1, logLines: 2, secrets: 2, byKind: { 'node password': 1, 'proxy password': 1, 'private key': 0 } });
    expect(r.leaks.map((l) => [l.secret.kind, l.where.kind, l.where.source, l.where.label, l.where.file])).toEqual([
      ['node password', 'request', 'fake Slack', 'api chat.postMessage', FILE],
      ['proxy password', 'log', 'log', 'line', FILE],
    ]);
    const report = formatReport(r);
    expect(report).toMatch(/, 2 leaks/);
    expect(report).toContain('«node password Su…(15 chars)»');
    expect(report).toContain('203.0.113.5:zed:«node password');
    expect(report).not.toContain('Sup3r-Secret-PW');
    expect(report).not.toContain('Proxy-Pass-0123456789ab');
  });

  it('finds a private key by its body lines, JSON-escaped or inside a zip (a bundle), and masks every secret near the leak', async () => {
    const key = pem();
    const lines: string[] = [];
    harvest({ data: `# server.conf\n<key>\n${key}</key>\n` }, (kind, s) => {
      expect(kind).toBe('private key');
      lines.push(s);
    });
    expect(lines).toEqual(privateKeyLines(key));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const secrets = lines.map((l) => secret(l, 'private key'));
    const bundle = await zip({ 'n1.ovpn': `client\n<key>\n${key}</key>\n`, 'README.txt': 'hello' });
    expect(zipTexts(bundle).join('\n')).toContain(lines[1]!);
    const r = scan([text(JSON.stringify({ content: `here: ${key}` })), text(fileText(bundle), { label: 'upload /upload/F1' }), text('nothing here')], secrets);
    expect(new Set(r.leaks.map((l) => l.where.label))).toEqual(new Set(['api chat.postMessage', 'upload /upload/F1']));
    for (const l of r.leaks) for (const s of lines) if (s.length >= 6) expect(l.excerpt).not.toContain(s);
    const report = formatReport(r);
    for (const s of lines.filter((x) => x.length >= 6)) expect(report).not.toContain(s);
  });

  it('finds a password in a JSON log line (LOG_FORMAT=json), or in the fields of a pretty one, although JSON escapes it; a redacted key never shows it', () => {
    const pw = 'Quote"And\\Slash-PW-42';
    const lines: string[] = [];
    const log = createLogger('debug', (l) => lines.push(l), 'json');
    log.warn('import rejected a line', { note: `bad line 203.0.113.5 u1 ${pw}` });
    log.info('node added', { password: pw, nested: { socks: { password: pw } } });
    expect(lines).toHaveLength(2);
    expect(lines[0]).not.toContain(pw); // escaped in the raw line: a plain search would miss it
    const asLogs = (t: string) => text(t, { kind: 'log', source: 'log', label: 'line' });
    const raw = scan(lines.map(asLogs), [secret(pw)]);
    expect(raw.leaks).toHaveLength(0);
    const decoded = scan(lines.map((l) => asLogs(logText(l))), [secret(pw)]);
    expect(decoded.leaks.map((l) => l.where.label)).toEqual(['line']);
    expect(decoded.leaks[0]!.excerpt).toContain('bad line 203.0.113.5 u1');
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: 'info', msg: 'node added', password: '[redacted]', nested: { socks: { password: '[redacted]' } } });
    const pretty: string[] = [];
    createLogger('debug', (l) => pretty.push(l), 'pretty').warn('import rejected a line', { note: `bad line ${pw}` });
    expect(pretty[0]).toMatch(/^\S+Z WARN import rejected a line \{"note":/);
    expect(scan([asLogs(logText(pretty[0]!))], [secret(pw)]).leaks).toHaveLength(1);
  });

  it('a proxy password is told from a node password by where it sits', () => {
    const found: Array<[SecretKind, string]> = [];
    harvest({ password: 'node-pw-123', socks: { host: 'h', port: 1, login: 'cx', password: 'socks-pw-456' } }, (k, s) => found.push([k, s]));
    expect(found).toEqual([
      ['node password', 'node-pw-123'],
      ['proxy password', 'socks-pw-456'],
    ]);
  });

  it('searches a secret only in its own test file; ignores, and counts, short ones, product words and fuzz "passwords"', () => {
    const r = scan(
      [text('No status changed. pw p1 leak: Other-File-Secret'), text('leak Fuzz-Fragment-99', { file: 'test/fleet/import-fuzz.test.ts' })],
      [secret('Other-File-Secret', 'node password', 'test/other.test.ts'), secret('p1'), secret('changed'), secret('Fuzz-Fragment-99', 'node password', 'test/fleet/import-fuzz.test.ts')],
      { vocabulary: 'const x = "No status changed."', synthetic: FUZZ_FILES },
    );
    expect(r.leaks).toEqual([]);
    expect(r.ignored).toEqual({ short: 1, vocabulary: 1, synthetic: 1 });
    expect(r.secrets).toBe(1);
    expect(formatReport(r)).toMatch(/1 secrets searched .*not searched: 1 shorter than 6 chars, 1 found in the product's own source text, 1 from fuzz tests\), 0 leaks$/);
  });

  it('stays linear in the number of secrets: 50,000 secrets over 5 MB in well under a few seconds', () => {
    const secrets = Array.from({ length: 50_000 }, () => secret(randomBytes(9).toString('base64')));
    const planted = secrets[31_337]!.value;
    const texts = Array.from({ length: 5000 }, (_, i) => text(`${randomBytes(500).toString('hex')}${i === 4321 ? planted : ''}`));
    const began = Date.now();
    const r = scan(texts, secrets);
    expect(Date.now() - began).toBeLessThan(5000);
    expect(r.leaks.map((l) => l.secret.value)).toEqual([planted]);
  });
});

describe('end to end: a leak fails `vitest run`', () => {
  it('a child run of the fixture (real Slack client, real setup files) exits 1 and reports exactly the two public leaks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnx-scan-selftest-'));
    try {
      const config = join(dir, 'vitest.config.mjs');
      const root = resolve('.');
      writeFileSync(
        config,
        `export default { root: ${JSON.stringify(root)}, test: { include: ['test/reliability/secret-scan-fixture.ts'], pool: 'forks', testTimeout: 20000, ` +
          `setupFiles: ['test/setup/network-guard.ts', 'test/setup/secret-scan-collect.ts'], globalSetup: ['test/setup/secret-scan-global.ts'] } };\n`,
      );
      // The child gets its own scan directory (its globalSetup makes one), not this run's.
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== SCAN_DIR_ENV && !k.startsWith('VITEST') && !['TEST', 'NODE_OPTIONS', 'CONNEXA_SECRET_SCAN'].includes(k)));
      const run = spawnSync(process.execPath, [resolve('node_modules/vitest/vitest.mjs'), 'run', '-c', config, '--reporter=dot'], { cwd: root, env: { ...env, NO_COLOR: '1', FORCE_COLOR: '0', CONNEXA_SCAN_FIXTURE: JSON.stringify(PLANTED) }, encoding: 'utf8', timeout: 60_000 });
      const out = `${run.stdout}\n${run.stderr}`;
      expect(out).toMatch(/1 passed/); // the fixture itself passed: only the scan failed the run
      expect(run.status, out).toBe(1);
      // The log line leaks twice: as the logger wrote it and in its JSON form (LOG_FORMAT=json).
      expect(out).toMatch(/secret scan: \d+ public requests\/messages, \d+ log lines .*, 3 leaks/);
      expect(out).toMatch(/node password \(from Store\.addNodes in test\/reliability\/secret-scan-fixture\.ts\) in a log line of log \(JSON form\) \[line\]/);
      expect(out).toMatch(/node password \(from Store\.addNodes in test\/reliability\/secret-scan-fixture\.ts\) in a public request of fake Slack \[api chat\.postMessage\]/);
      expect(out).toMatch(/node password \(from Store\.addNodes in test\/reliability\/secret-scan-fixture\.ts\) in a log line of log \[line\]/);
      expect(out).toContain(`«node password ${PLANTED.publicPost.slice(0, 2)}…(${PLANTED.publicPost.length} chars)»`);
      // Never the secrets themselves, and the DM is private: not a leak.
      for (const s of Object.values(PLANTED)) expect(out).not.toContain(s);
      expect(out).not.toContain(`${PLANTED.dmOnly.slice(0, 2)}…(${PLANTED.dmOnly.length} chars)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
