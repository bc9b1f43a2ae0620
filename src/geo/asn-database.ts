/**
 * The offline ASN table: which autonomous system announces an address, from the npm package
 * @ip-location-db/asn (RouteViews + NRO + DB-IP ASN Lite, CC-BY-4.0; CSV of inclusive ranges).
 * There is no ASN MMDB on npm, so the CSV is read once per process, on the first lookup, straight
 * from its bytes into sorted typed arrays (no per-line strings): ~412,000 IPv4 ranges in ~6.6 MB,
 * plus one organisation name per AS. A lookup is a binary search. IPv6 (a separate file) is read
 * only when an IPv6 address comes. Nothing leaves the host.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const PACKAGE = '@ip-location-db/asn';

export interface AsnHit {
  asn: number;
  asOrg: string | null;
}

interface Table<T extends number | bigint> {
  starts: T[] | Uint32Array;
  ends: T[] | Uint32Array;
  asns: Uint32Array;
  /** Where the last lookup ended (the next one, if further on, searches from here). */
  hint: number;
}

interface Opened {
  dir: string;
  v4: Table<number>;
  v6: Table<bigint> | null;
  /** Organisation by AS number: the first name the file gives it. */
  orgs: Map<number, string>;
  version: string;
}

let opened: Opened | null = null;

const NL = 0x0a;
const COMMA = 0x2c;
const QUOTE = 0x22;

/**
 * Reads `start,end,asn,org` lines. Numbers are parsed from the bytes; the organisation is decoded
 * only for an AS not seen before. Overlapping ranges (the file has a few) are clipped so that the
 * starts stay strictly increasing and a binary search finds the one range that holds an address.
 */
function readCsv<T extends number | bigint>(bytes: Buffer, orgs: Map<number, string>, big: boolean): { starts: T[]; ends: T[]; asns: number[] } {
  const starts: T[] = [];
  const ends: T[] = [];
  const asns: number[] = [];
  let i = 0;
  const n = bytes.length;
  const number = (): T => {
    const from = i;
    if (!big) {
      // IPv4 numbers fit a double exactly: no string per field.
      let v = 0;
      while (i < n && bytes[i] !== COMMA) v = v * 10 + bytes[i++]! - 48;
      i++;
      return v as T;
    }
    while (i < n && bytes[i] !== COMMA) i++;
    return BigInt(bytes.toString('latin1', from, i++)) as T;
  };
  while (i < n) {
    if (bytes[i] === NL) {
      i++;
      continue;
    }
    let start = number();
    const end = number();
    let asn = 0;
    while (i < n && bytes[i] !== COMMA) asn = asn * 10 + bytes[i++]! - 48;
    i++;
    // The organisation: quoted ("" inside is a quote) or bare, up to the end of the line.
    const from = i;
    let quoted = false;
    if (bytes[i] === QUOTE) {
      quoted = true;
      i++;
      while (i < n && !(bytes[i] === QUOTE && bytes[i + 1] !== QUOTE)) i += bytes[i] === QUOTE ? 2 : 1;
      i++;
    }
    while (i < n && bytes[i] !== NL) i++;
    if (!orgs.has(asn)) {
      const raw = bytes.toString('utf8', from, i).trimEnd();
      orgs.set(asn, quoted ? raw.slice(1, -1).replaceAll('""', '"') : raw);
    }
    const prevEnd = ends.at(-1);
    if (prevEnd !== undefined && start <= prevEnd) start = (big ? (prevEnd as bigint) + 1n : (prevEnd as number) + 1) as T;
    if (start > end) continue;
    starts.push(start);
    ends.push(end);
    asns.push(asn);
  }
  return { starts, ends, asns };
}

function open(): Opened {
  if (opened) return opened;
  const dir = path.dirname(createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`));
  const version = (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  const orgs = new Map<number, string>();
  const v4 = readCsv<number>(readFileSync(path.join(dir, 'asn-ipv4-num.csv')), orgs, false);
  opened = { dir, v4: { starts: Uint32Array.from(v4.starts), ends: Uint32Array.from(v4.ends), asns: Uint32Array.from(v4.asns), hint: 0 }, v6: null, orgs, version };
  return opened;
}

/**
 * The index of the last range starting at or before `x`, or -1. Searched from `from` forward when
 * it is at or before `x` (galloping): an import looks its addresses up in ascending order.
 */
function lastAtOrBefore<T extends number | bigint>(starts: ArrayLike<T>, x: T, from: number): number {
  let found = -1;
  let lo = 0;
  let hi = starts.length - 1;
  if (from <= hi && starts[from]! <= x) {
    found = from;
    lo = from + 1;
    let step = 1;
    while (lo + step - 1 <= hi && starts[lo + step - 1]! <= x) {
      found = lo + step - 1;
      lo += step;
      step *= 2;
    }
    hi = Math.min(hi, lo + step - 2);
  }
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= x) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** One answer object per AS: a lookup allocates nothing. */
const hits = new Map<number, AsnHit>();

function find<T extends number | bigint>(o: Opened, t: Table<T>, x: T): AsnHit | null {
  const i = lastAtOrBefore(t.starts as ArrayLike<T>, x, t.hint);
  if (i < 0) return null;
  t.hint = i;
  if (x > (t.ends as ArrayLike<T>)[i]!) return null;
  const asn = t.asns[i]!;
  if (asn === 0) return null; // AS0: not announced
  let hit = hits.get(asn);
  if (!hit) hits.set(asn, (hit = Object.freeze({ asn, asOrg: o.orgs.get(asn) || null })));
  return hit;
}

/** The AS announcing an IPv4 address given as an unsigned 32-bit number; null when none does. */
export function asnOfV4(ip: number): AsnHit | null {
  const o = open();
  return find(o, o.v4, ip);
}

/** The AS announcing an IPv6 address given as a 128-bit number (the IPv6 file is read on first use). */
export function asnOfV6(ip: bigint): AsnHit | null {
  const o = open();
  if (!o.v6) {
    const v6 = readCsv<bigint>(readFileSync(path.join(o.dir, 'asn-ipv6-num.csv')), o.orgs, true);
    o.v6 = { starts: v6.starts, ends: v6.ends, asns: Uint32Array.from(v6.asns), hint: 0 };
  }
  return find(o, o.v6, ip);
}

/** `@ip-location-db/asn 2.3.…`: the data's version, for README and `show`. */
export const asnSource = (): string => `@ip-location-db/asn ${open().version}`;

/** An IPv6 address as a 128-bit number; null when it is not one. */
export function ipv6ToBigInt(ip: string): bigint | null {
  let text = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 2 ? fill < 1 : fill !== 0)) return null;
  let x = 0n;
  for (const g of [...head, ...Array<string>(fill).fill('0'), ...tail]) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    x = (x << 16n) | BigInt(parseInt(g, 16));
  }
  return x;
}
