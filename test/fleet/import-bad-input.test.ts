// Input the parser must refuse as a whole, and lines and fields it must reject with a reason.
import { describe, expect, it } from 'vitest';
import { MAX_IMPORT_BYTES } from '../../src/fleet/import/index.ts';
import { MAX_CSV_RECORD_LINES } from '../../src/fleet/import/csv.ts';
import { lines, parseOk, rec, refused, rng } from './fixtures/import-helpers.ts';

describe('whole-file refusals', () => {
  it('refuses an empty file (also just a BOM)', () => {
    expect(refused(Buffer.alloc(0))).toBe('the file is empty');
    expect(refused('')).toBe('the file is empty');
    expect(refused(Buffer.from([0xef, 0xbb, 0xbf]))).toBe('the file is empty');
  });

  it('refuses a file over the cap quickly, naming the size and the cap', () => {
    const big = Buffer.alloc(50 * 1024 * 1024, '203.0.113.5:u1:p1\n');
    const t0 = performance.now();
    expect(refused(big)).toBe('the file is 50 MiB (52428800 bytes), over the 20 MiB import limit');
    const ms = performance.now() - t0;
    console.log(`50 MiB refused in ${ms.toFixed(2)} ms`);
    expect(ms).toBeLessThan(1000); // it never reads the bytes; a huge margin for a loaded machine
    expect(refused('x'.repeat(MAX_IMPORT_BYTES + 1))).toBe('the file is 20 MiB (20971521 bytes), over the 20 MiB import limit');
    // Counted in UTF-8 bytes, not characters: 8 million 3-byte characters are 24 MB.
    expect(refused('€'.repeat(8_000_000))).toBe('the file is 22.9 MiB (24000000 bytes), over the 20 MiB import limit');
    expect(refused('203.0.113.5:u1:p1\n', { maxBytes: 10 })).toBe('the file is 18 bytes (18 bytes), over the 10 bytes import limit');
    expect(parseOk('203.0.113.5:u1:p1\n', { maxBytes: 18 }).records).toHaveLength(1);
  });

  it('refuses UTF-16 and UTF-32 files with or without a BOM', () => {
    const text = lines('203.0.113.5:u1:p1', '203.0.113.6 u2 p2 OH');
    const msg = 'the file looks like UTF-16; save it as UTF-8';
    expect(refused(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]))).toBe(msg);
    const be = Buffer.from(text, 'utf16le').swap16();
    expect(refused(Buffer.concat([Buffer.from([0xfe, 0xff]), be]))).toBe(msg);
    expect(refused(Buffer.from(text, 'utf16le'))).toBe(msg);
    expect(refused(be)).toBe(msg);
    expect(refused(Buffer.from([0xff, 0xfe, 0, 0, 0x31, 0, 0, 0]))).toBe('the file looks like UTF-32; save it as UTF-8');
    // A UTF-16 file decoded into a string by mistake is caught too.
    expect(refused(Buffer.from(text, 'utf16le').toString('latin1'))).toBe(msg);
  });

  it('refuses NUL bytes, invalid UTF-8 and control-character soup', () => {
    const nul = 'the file contains NUL bytes: it looks like a binary file, not a text list of servers';
    expect(refused(Buffer.from('203.0.113.5:u1:p1\n\0\n'))).toBe(nul);
    expect(refused('203.0.113.5:u1:p1\u0000')).toBe(nul);
    expect(refused(Buffer.from('203.0.113.5:u1:pé\n', 'latin1'))).toBe(
      'the file is not valid UTF-8 (byte 0xE9 at offset 16): it is binary or saved in another encoding; save it as UTF-8',
    );
    expect(refused(Buffer.from([0x31, 0xed, 0xa0, 0x80]))).toMatch(/^the file is not valid UTF-8 \(byte 0xED at offset 1\)/); // a UTF-16 surrogate
    expect(refused('\u0001\u0002\u0003'.repeat(100))).toBe(
      'the file is full of control characters: it looks like a binary file, not a text list of servers',
    );
  });

  it('refuses random bytes (seeded), whatever they happen to be', () => {
    const rand = rng(42);
    for (let i = 0; i < 50; i++) {
      const buf = Buffer.alloc(64 + Math.floor(rand() * 4096));
      for (let k = 0; k < buf.length; k++) buf[k] = Math.floor(rand() * 256);
      if (i % 2) for (let k = 0; k < buf.length; k++) if (buf[k] === 0) buf[k] = 0xff; // no NULs: must fail as UTF-8
      const reason = refused(buf);
      expect(reason).toMatch(i % 2 ? /^the file is not valid UTF-8 \(byte 0x[0-9A-F]{2} at offset \d+\)/ : /NUL bytes|UTF-16|not valid UTF-8/);
    }
  });
});

describe('rejected lines', () => {
  it('rejects a line of 10,000 characters and keeps going', () => {
    const long = `203.0.113.9:u:${'x'.repeat(9_986)}`;
    expect(long).toHaveLength(10_000);
    const r = parseOk(lines('203.0.113.5:u1:p1', long, 'y'.repeat(10_000), '203.0.113.6:u2:p2'));
    expect(r.records.map((x) => x.line)).toEqual([1, 4]);
    expect(r.rejected).toEqual([
      { line: 2, reason: 'line too long (10000 characters)', text: long.slice(0, 120) },
      { line: 3, reason: 'line too long (10000 characters)', text: 'y'.repeat(120) },
    ]);
  });

  it('a too-long field line inside a block rejects that record', () => {
    const r = parseOk(lines('Ip: 203.0.113.5', 'Login: u1', `Comment: ${'c'.repeat(5000)}`, 'Pass: p1'));
    expect(r.records).toEqual([]);
    expect(r.rejected).toEqual([
      { line: 3, reason: 'line too long (5009 characters) (record starting at line 1)', text: `Comment: ${'c'.repeat(111)}` },
    ]);
  });

  it('rejects malformed and unusable addresses with a reason a person understands', () => {
    const r = parseOk(lines(
      '999.1.1.1', '1.2.3', '0.0.0.0', '255.255.255.255 u p', '01.2.3.4:u:p', '1.2.3.4.5:u:p', '1.2..4:u:p', '1.2.3.1234 u p',
      'Ip: 1.2.3.x', 'Login: u', 'Pass: p',
    ));
    expect(r.records).toEqual([]);
    expect(r.rejected.map((x) => [x.line, x.reason])).toEqual([
      [1, 'invalid IP "999.1.1.1": octet 999 is out of range'],
      [2, 'invalid IP "1.2.3": expected 4 numbers separated by dots, found 3'],
      [3, 'invalid IP "0.0.0.0": not a host address'],
      [4, 'invalid IP "255.255.255.255": the broadcast address, not a host'],
      [5, 'invalid IP "01.2.3.4": octet "01" has a leading zero'],
      [6, 'invalid IP "1.2.3.4.5": expected 4 numbers separated by dots, found 5'],
      [7, 'invalid IP "1.2..4": an empty octet'],
      [8, 'invalid IP "1.2.3.1234": octet 1234 is out of range'],
      [9, 'invalid IP "1.2.3.x": "x" is not a number'],
    ]);
  });

  it('keeps private and public addresses', () => {
    const r = parseOk(lines('10.0.0.1:u:p', '192.168.1.1:u:p', '172.16.0.1:u:p', '127.0.0.1:u:p', '8.8.8.8:u:p', '203.0.113.255:u:p'));
    expect(r.records).toHaveLength(6);
    expect(r.rejected).toEqual([]);
  });

  it('keeps quotes, emoji and markup verbatim (trimmed); rendering escapes them later', () => {
    const r = parseOk(lines(
      `203.0.113.5:"quoted":it's`,
      '203.0.113.6:😀:<script>alert(1)</script>',
      'Ip: 203.0.113.7', 'Login:   👩‍💻 dev  ', 'Pass: "p w"', 'City: <b>Akron</b>', 'Comment: 🚀 "fast" & cheap',
    ));
    expect(r.records).toStrictEqual([
      rec(1, { ip: '203.0.113.5', login: '"quoted"', password: "it's" }),
      rec(2, { ip: '203.0.113.6', login: '😀', password: '<script>alert(1)</script>' }),
      rec(3, { ip: '203.0.113.7', login: '👩‍💻 dev', password: '"p w"', city: '<b>Akron</b>', comment: '🚀 "fast" & cheap' }),
    ]);
  });

  it('rejects control characters in fields and strips them from the echoed line', () => {
    const r = parseOk(lines('203.0.113.5:u\u0007:p', 'Ip: 203.0.113.6', 'Login: admin\u202Enimda', 'Pass: p', '', '203.0.113.7:u:p\u001b[31m'));
    expect(r.rejected).toEqual([
      { line: 1, reason: 'login contains a control character (U+0007)', text: '203.0.113.5:u:p' },
      { line: 3, reason: 'login contains a control character (U+202E) (record starting at line 2)', text: 'Login: adminnimda' },
      { line: 6, reason: 'password contains a control character (U+001B)', text: '203.0.113.7:u:p[31m' },
    ]);
  });

  it('rejects a field over 256 characters', () => {
    const r = parseOk(lines(`203.0.113.5:${'u'.repeat(257)}:p`, 'Ip: 203.0.113.6', 'Login: u', 'Pass: p', `City: ${'c'.repeat(256)}`));
    expect(r.rejected).toEqual([
      { line: 1, reason: 'login is too long (257 characters, max 256)', text: `203.0.113.5:${'u'.repeat(108)}` },
    ]);
    expect(r.records).toHaveLength(1);
    expect(r.records[0]!.city).toHaveLength(256);
  });

  it('rejects a login containing colons in the colon format', () => {
    const r = parseOk(lines('1.2.3.4:us:er:pw'));
    expect(r.rejected).toEqual([
      {
        line: 1,
        reason: "4 colon-separated fields: ambiguous (a login or password containing ':'?); use the key/value or CSV format",
        text: '1.2.3.4:us:er:pw',
      },
    ]);
    // The same account is importable in an unambiguous format.
    expect(parseOk(lines('Ip: 1.2.3.4', 'Login: us:er', 'Pass: pw')).records).toStrictEqual([rec(1, { ip: '1.2.3.4', login: 'us:er', password: 'pw' })]);
    expect(parseOk(lines('ip,login,password', '1.2.3.4,us:er,pw')).records).toStrictEqual([rec(2, { ip: '1.2.3.4', login: 'us:er', password: 'pw' })]);
  });

  it('reports a file with no valid records as rejected lines, not as a refusal', () => {
    const r = parseOk(lines('1.2.3', '203.0.113.5 u', '203.0.113.6,u,p'));
    expect(r.records).toEqual([]);
    expect(r.rejected.map((x) => x.line)).toEqual([1, 2, 3]);
  });

  it('does not let an unclosed CSV quote swallow the rest of the file', () => {
    const n = MAX_CSV_RECORD_LINES + 10;
    const rows = Array.from({ length: n }, (_, i) => `203.0.${113 + Math.floor(i / 200)}.${(i % 200) + 10},u${i},p${i},ok`);
    const r = parseOk(lines('ip,login,password,comment', '203.0.113.5,u,p,"never closed', ...rows));
    expect(r.rejected).toEqual([
      { line: 2, reason: `malformed CSV: a quoted field is not closed within ${MAX_CSV_RECORD_LINES} lines`, text: '203.0.113.5,u,p,"never closed' },
    ]);
    expect(r.records).toHaveLength(n);
    expect(r.records[0]).toStrictEqual(rec(3, { ip: '203.0.113.10', login: 'u0', password: 'p0', comment: 'ok' }));
  });
});
