// Export then import gives every credential and field back byte for byte, while a spreadsheet never
// runs an exported cell as a formula.
import { describe, expect, it } from 'vitest';
import { csvCell, toCsv, toTxt } from '../../src/fleet/export.ts';
import { readCsvRecord, unguardCell } from '../../src/fleet/import/csv.ts';
import { parseImport } from '../../src/fleet/import/index.ts';
import { buildRecord, FIELD_NAMES, type RawFields } from '../../src/fleet/import/record.ts';
import { splitLines } from '../../src/fleet/import/text.ts';
import type { FleetNode } from '../../src/fleet/node.ts';
import { seededRandom } from '../kit/random.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261124);

/** Characters that break naive CSV and formula guards, plus letters from several scripts and emoji. */
const TRICKY = ['"', ',', ';', "'", '=', '+', '-', '@', '\t', '\n', '\r', ' ', ':', '#', '|', '\\', '>', 'é', 'ß', '密', 'Ж', 'ا', '😀', '🇺🇸', '\u00a0', '\u200b'];
const STARTS = ['=', '+', '-', '@', "'", '\t', '\r', "''", "'=", "'-", '"', ' '];

function randomString(rnd: () => number, opts: { cr: boolean }): string {
  const len = Math.floor(rnd() * 40);
  let s = rnd() < 0.5 ? STARTS[Math.floor(rnd() * STARTS.length)]! : '';
  for (let i = 0; i < len; i++) {
    const r = rnd();
    if (r < 0.4) s += TRICKY[Math.floor(rnd() * TRICKY.length)]!;
    else if (r < 0.8) s += String.fromCharCode(33 + Math.floor(rnd() * 94));
    else {
      // any code point outside the surrogate range
      let cp = Math.floor(rnd() * 0x10ffff);
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
      s += String.fromCodePoint(cp);
    }
  }
  return opts.cr ? s : s.replace(/\r/g, '\n');
}

/** What a spreadsheet sees in a cell: the RFC 4180 text with its quotes taken off. */
function cellText(cell: string): string {
  return cell.startsWith('"') ? cell.slice(1, -1).replace(/""/g, '"') : cell;
}

describe('the CSV cell codec', () => {
  it('gives back any string without CR byte for byte, and no cell starts like a formula', () => {
    const rnd = seededRandom(SEED);
    for (let i = 0; i < 5000; i++) {
      const v = randomString(rnd, { cr: false });
      const cell = csvCell(v);
      expect(cellText(cell)).not.toMatch(/^[=+\-@\t\r]/);
      const read = readCsvRecord(splitLines(`${cell},end`), 0, ',');
      expect(read.cells, JSON.stringify(v)).not.toBeNull();
      expect(unguardCell(read.cells![0]!), JSON.stringify(v)).toBe(v);
      expect(read.cells![1]).toBe('end');
    }
  });

  it("guards -Xy7pQ for a spreadsheet and takes the guard off again, also for a value that starts with '", () => {
    for (const v of ['-Xy7pQ', '=1+1', '+x', '@SUM(A1)', "'", "'-Xy7pQ", "''", "'plain", '\tx']) {
      expect(cellText(csvCell(v))).toBe(`'${v}`);
      expect(unguardCell(cellText(csvCell(v)))).toBe(v);
    }
    expect(csvCell('plain-x')).toBe('plain-x');
    // A hand-written leading ' that the exporter never writes is kept.
    expect(unguardCell("'plain")).toBe("'plain");
  });
});

/** A node as the store holds it: its fields are what the importer accepted (and normalised). */
function storedNode(rnd: () => number, i: number): FleetNode | null {
  const raw: RawFields = { ip: `203.0.${Math.floor(i / 250)}.${(i % 250) + 1}` };
  for (const f of FIELD_NAMES) {
    if (f === 'ip' || f === 'port') continue;
    if (f !== 'login' && f !== 'password' && rnd() < 0.3) continue;
    // Now and then a field as long as a field may be, so a row is far longer than a text line.
    raw[f] = rnd() < 0.1 ? randomString(rnd, { cr: false }).padEnd(256, 'x').slice(0, 256) : randomString(rnd, { cr: false });
  }
  if (rnd() < 0.5) raw.port = String(1 + Math.floor(rnd() * 65535));
  const built = buildRecord(raw, false, 1);
  if (!built.ok) return null;
  const { line: _line, ...fields } = built.record;
  return {
    id: `n${i}`, port: 1723, ...fields, provider: fields.provider ?? null, country: fields.country ?? null, state: fields.state ?? null,
    city: fields.city ?? null, zip: fields.zip ?? null, comment: fields.comment ?? null, geo: null, status: 'not_tested', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
    importedFrom: "=cmd|' /C calc'!A0", pptp: null, speed: null, socks: null, ovpn: null, monitor: null, history: [],
  };
}

const FIELDS = ['ip', 'port', 'login', 'password', 'provider', 'country', 'state', 'city', 'zip', 'comment'] as const;

describe('csv export then import', () => {
  it('gives back every field of every node the store can hold, byte for byte', () => {
    const rnd = seededRandom(SEED + 1);
    const nodes: FleetNode[] = [];
    for (let i = 0; nodes.length < 1500; i++) {
      const n = storedNode(rnd, i);
      if (n) nodes.push(n);
    }
    const parsed = parseImport(toCsv(nodes));
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.rejected).toEqual([]);
    expect(parsed.records.map((r) => FIELDS.map((f) => r[f]))).toEqual(nodes.map((n) => FIELDS.map((f) => n[f])));
  });
});

describe('txt export', () => {
  it('writes ip:login:password that imports back unchanged, and leaves out what that format cannot carry', () => {
    const base = { port: 1723, provider: null, country: null, state: null, city: null, zip: null, comment: null };
    const nodes = [
      { ...base, ip: '203.0.113.5', login: 'alice', password: '-Xy7pQ' },
      { ...base, ip: '203.0.113.6', login: 'bob', password: 'Pa55:w0rd' },
      { ...base, ip: '203.0.113.7', login: 'carol', password: 'correct horse' },
      { ...base, ip: '203.0.113.8', login: 'us:er', password: 'pw' },
      { ...base, ip: '203.0.113.9', login: 'dave', password: "'=1+1,\"x\"" },
    ] as unknown as FleetNode[];
    const txt = toTxt(nodes);
    expect(txt.left).toEqual(nodes.slice(1, 4));
    expect(txt.text).toBe('203.0.113.5:alice:-Xy7pQ\n203.0.113.9:dave:\'=1+1,"x"\n');
    const parsed = parseImport(txt.text);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.rejected).toEqual([]);
    expect(parsed.records.map((r) => [r.ip, r.login, r.password])).toEqual([
      ['203.0.113.5', 'alice', '-Xy7pQ'],
      ['203.0.113.9', 'dave', '\'=1+1,"x"'],
    ]);
    // What txt leaves out survives in csv.
    const csv = parseImport(toCsv(nodes.slice(1, 4).map((n, i) => ({ ...n, id: `n${i}`, status: 'not_tested' }) as FleetNode)));
    expect(csv.ok && csv.records.map((r) => [r.login, r.password])).toEqual([['bob', 'Pa55:w0rd'], ['carol', 'correct horse'], ['us:er', 'pw']]);
  });
});
