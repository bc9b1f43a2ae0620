// Robustness and scale: seeded mutation fuzzing, pathological lines, and a 100,000-line generated file.
import { describe, expect, it } from 'vitest';
import { generateImportFile, generateImportFileWithStats } from '../../bench/import-gen.ts';
import { parseImport, type ParseOutcome } from '../../src/fleet/import/index.ts';
import { parseOk, rng } from './fixtures/import-helpers.ts';

const SEED_FILE = [
  'PPTP servers list',
  '# comment',
  'Ip: 203.0.113.5:1724',
  'Login: u1',
  'Pass: p1',
  'State: OH',
  '',
  '203.0.113.6 u2 p2 TX',
  '203.0.113.7 - u3:p3 - Ohio/Akron 44301 | 2025-09-03 10:00:00',
  '203.0.113.8:u4:p4:US:Ohio:44301',
  '-----',
  '> PPTP_SVOIM_VPN:',
  '🚨 PPTP Connection',
  'IP: 203.0.113.9',
  'Credentials: u5:p5',
  'Location: US (Ohio, Akron)',
  'ZIP: 44301',
  '',
  '203.0.113.10:u6:p6',
  'id,ip,port,login,password,comment',
  'n1,198.51.100.1,1723,u7,"p,7","multi',
  'line ""quoted"""',
].join('\n');

const ALPHABET = [':', ',', ';', '"', '\n', '\r', '\t', ' ', '-', '|', '>', '#', '/', '.', '0', '1', '9', '2', '5',
  'a', 'Z', 'Ip: ', '\u0000', '\u0007', '\u202e', '😀', 'é', '\uFEFF', '(', ')', '=', '---', '\r\n', '255', '999'];

/** One random edit: insert, delete, replace, duplicate a slice, or truncate. */
function mutate(s: string, rand: () => number): string {
  const at = Math.floor(rand() * (s.length + 1));
  const pick = () => ALPHABET[Math.floor(rand() * ALPHABET.length)]!;
  switch (Math.floor(rand() * 6)) {
    case 0: return s.slice(0, at) + pick() + s.slice(at);
    case 1: return s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 5));
    case 2: return s.slice(0, at) + pick() + s.slice(at + 1);
    case 3: {
      const len = Math.floor(rand() * 80);
      return s.slice(0, at) + s.slice(at, at + len) + s.slice(at);
    }
    case 4: return s.slice(0, at);
    default: return s.slice(0, at) + 'x'.repeat(Math.floor(rand() * 1500)) + s.slice(at);
  }
}

const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const QUAD_RE = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Every invariant a caller relies on, whatever the input. */
function assertWellFormed(r: ParseOutcome): void {
  if (!r.ok) {
    expect(typeof r.reason).toBe('string');
    expect(r.reason.length).toBeGreaterThan(0);
    return;
  }
  expect(Number.isInteger(r.lines) && r.lines >= 1).toBe(true);
  expect(r.records.length + r.rejected.length + r.skipped).toBeLessThanOrEqual(r.lines);
  let last = 0;
  const starts = [...r.records.map((x) => x.line), ...r.rejected.map((x) => x.line)].sort((a, b) => a - b);
  for (const line of starts) {
    expect(line).toBeGreaterThan(last); // no two outcomes for one line
    last = line;
  }
  expect(last).toBeLessThanOrEqual(r.lines);
  for (const x of r.records) {
    expect(x.ip).toMatch(QUAD_RE);
    expect(x.ip === '0.0.0.0' || x.ip === '255.255.255.255').toBe(false);
    for (const f of [x.login, x.password]) {
      expect(typeof f).toBe('string');
      expect(f.length).toBeGreaterThan(0);
      expect(f.length).toBeLessThanOrEqual(256);
      expect(f).toBe(f.trim());
      expect(CONTROL_RE.test(f)).toBe(false);
    }
    if (x.port !== undefined) expect(Number.isInteger(x.port) && x.port >= 1 && x.port <= 65535).toBe(true);
    for (const f of [x.provider, x.country, x.state, x.city, x.zip]) {
      if (f !== null && f !== undefined) expect(f.length > 0 && f.length <= 256 && !CONTROL_RE.test(f)).toBe(true);
    }
  }
  for (const x of r.rejected) {
    expect(x.reason.length).toBeGreaterThan(0);
    expect(x.text.length).toBeLessThanOrEqual(120);
    expect(CONTROL_RE.test(x.text)).toBe(false);
  }
}

describe('fuzz', () => {
  it('never throws and always returns a well-formed outcome for 2,000 mutated inputs (seeded)', () => {
    const rand = rng(20250903);
    let refusedCount = 0;
    for (let i = 0; i < 2000; i++) {
      let s = SEED_FILE;
      const edits = 1 + Math.floor(rand() * 8);
      for (let k = 0; k < edits; k++) s = mutate(s, rand);
      let input: Buffer | string = s;
      if (i % 3 === 1) input = Buffer.from(s);
      if (i % 3 === 2) {
        // Raw byte damage: flip a few bytes so invalid UTF-8 and stray NULs appear too.
        const b = Buffer.from(s);
        for (let k = 0; k < 1 + Math.floor(rand() * 3) && b.length; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        input = b;
      }
      let r: ParseOutcome;
      try {
        r = parseImport(input);
      } catch (e) {
        throw new Error(`parseImport threw on fuzz case ${i}: ${String(e)}\n${JSON.stringify(s)}`);
      }
      assertWellFormed(r);
      if (!r.ok) refusedCount++;
      if (i % 100 === 0) expect(parseImport(input)).toStrictEqual(r); // deterministic
    }
    // Most mutants are still text files; refusals come from NULs and broken bytes.
    expect(refusedCount).toBeGreaterThan(0);
    expect(refusedCount).toBeLessThan(1000);
  });

  it('handles pathological lines in linear time', () => {
    const nasty = [
      ':'.repeat(999), ' '.repeat(500) + 'x', '-'.repeat(999) + 'x', '1.'.repeat(499), `${'1.1.1.1 '.repeat(120)}`,
      `Ip${' '.repeat(900)}`, `"${','.repeat(998)}`, `${'a'.repeat(30)}:${'b:'.repeat(400)}`, `> ${'x'.repeat(900)}:`,
      `${'🚨'.repeat(400)}:`, `203.0.113.5 - ${'u:'.repeat(400)}`, `203.0.113.5 - u:p - ${'1 '.repeat(400)}`,
    ];
    const file = Array.from({ length: 20_000 }, (_, i) => nasty[i % nasty.length]!).join('\n');
    const t0 = performance.now();
    const r = parseOk(file);
    const ms = performance.now() - t0;
    console.log(`20,000 pathological lines (${(file.length / 1e6).toFixed(1)} MB) parsed in ${ms.toFixed(0)} ms`);
    assertWellFormed(r);
    expect(ms).toBeLessThan(10_000); // a catastrophic regex would take minutes
  });
});

describe('generated 100,000-line file (bench/import-gen.ts)', () => {
  it('generates exactly the requested number of lines, deterministically per seed', () => {
    const a = generateImportFile(5_000, 3);
    expect(a.split('\n')).toHaveLength(5_001); // 5,000 lines plus the final line break
    expect(generateImportFile(5_000, 3)).toBe(a);
    expect(generateImportFile(5_000, 4)).not.toBe(a);
  });

  it('parses with exactly the expected records and rejections, unique ip+login pairs', () => {
    const g = generateImportFileWithStats(100_000, 7);
    const input = Buffer.from(g.text);
    parseImport(input); // warm-up, so the figure below is the steady-state parse time
    const t0 = performance.now();
    const r = parseOk(input);
    const ms = performance.now() - t0;
    console.log(
      `100,000 generated lines (${(input.length / 1e6).toFixed(1)} MB): ${r.records.length} records, ` +
        `${r.rejected.length} rejected, ${r.skipped} skipped, parsed in ${ms.toFixed(0)} ms`,
    );
    expect(r.lines).toBe(100_000);
    expect(r.records).toHaveLength(g.expected.records);
    expect(r.rejected).toHaveLength(g.expected.rejected);
    expect(r.rejected.length / r.lines).toBeGreaterThan(0.002);
    expect(r.rejected.length / r.lines).toBeLessThan(0.02);
    expect(new Set(r.records.map((x) => `${x.ip}\t${x.login}`)).size).toBe(r.records.length);
    // Every format made it in: ports from `Ip: a:port`, providers from `> NAME:`, comments from CSV and pipes.
    expect(r.records.some((x) => x.port === 1724)).toBe(true);
    expect(r.records.some((x) => x.provider === 'PPTP_SVOIM_VPN')).toBe(true);
    expect(r.records.some((x) => x.comment === 'two\nlines')).toBe(true);
    expect(r.records.some((x) => x.comment?.startsWith('2025-09-0'))).toBe(true);
    expect(r.records.some((x) => x.state === 'Ontario' && x.zip === 'K1A 0B1')).toBe(true);
    // A regression guard against quadratic behaviour only; the benchmark reports the real figure.
    expect(ms).toBeLessThan(5_000);
  });
});
