// Key/value blocks (formats 1, 5 and 6): one field per line, `Key: value`, keys in any case,
// with or without a decoration in front (emoji, bullet, '-', '>').
import { splitCredentials } from './lines.ts';
import { fieldLabel, type FieldName, type RawFields } from './record.ts';
import { isStateName } from './states.ts';
import { quote } from './text.ts';

/** What a key can mean: a node field, or one of the combined keys of format 5. */
export type KvKey = FieldName | 'credentials' | 'location';

/** Keys are compared lowercased with spaces, '_', '-' and '.' removed ("IP address" -> ipaddress). */
export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[\s_.-]+/g, '');
}

/** Column/key aliases shared by key/value blocks and CSV headers. */
export const FIELD_ALIASES: Record<string, FieldName> = {
  ip: 'ip', ipaddress: 'ip', ipaddr: 'ip', ipv4: 'ip', host: 'ip', server: 'ip', serverip: 'ip',
  port: 'port',
  login: 'login', user: 'login', username: 'login', usr: 'login',
  password: 'password', pass: 'password', pwd: 'password', passwd: 'password', pw: 'password',
  provider: 'provider', isp: 'provider',
  country: 'country', countrycode: 'country',
  state: 'state', region: 'state', province: 'state',
  city: 'city', town: 'city',
  zip: 'zip', zipcode: 'zip', postcode: 'zip', postalcode: 'zip', postal: 'zip',
  comment: 'comment', comments: 'comment', note: 'comment', notes: 'comment',
};

const KV_KEYS: Record<string, KvKey> = { ...FIELD_ALIASES, credentials: 'credentials', creds: 'credentials', location: 'location' };

/**
 * `[decoration] Key: value`. The key starts with a letter (so address lines such as
 * 203.0.113.5:u1:p1 never match) and is short; the value is everything after the first colon,
 * so a password may contain ':'.
 */
const KV_RE = /^[^\p{L}\p{N}]*?(\p{L}[\p{L}\p{N} ._-]{0,30}?)\s*:(.*)$/u;

export interface KvMatch {
  /** null: a `Key: value` line whose key is not one of ours (e.g. `Speed: 10 Mbps`). */
  key: KvKey | null;
  value: string;
}

export function matchKeyValue(t: string): KvMatch | null {
  const m = KV_RE.exec(t);
  if (!m) return null;
  return { key: KV_KEYS[normalizeKey(m[1]!)] ?? null, value: m[2]!.trim() };
}

const LOCATION_RE = /^([^()]*?)\s*\(([^()]*)\)$/;

/** `US (Ohio, Akron)`, `US (Ohio)`, `US`; a lone state name is a state, not a country. */
export function parseLocation(v: string): { ok: true; raw: RawFields } | { ok: false; reason: string } {
  if (v === '') return { ok: true, raw: {} };
  const m = LOCATION_RE.exec(v);
  if (m) {
    const inner = m[2]!.split(',');
    return { ok: true, raw: { country: m[1], state: inner[0], city: inner.slice(1).join(',') } };
  }
  if (v.includes(',') || v.includes('(') || v.includes(')')) {
    return { ok: false, reason: `unrecognized Location ${quote(v)}: expected "Country (State, City)"` };
  }
  return { ok: true, raw: isStateName(v) ? { state: v } : { country: v } };
}

export interface LineRef {
  line: number;
  text: string;
}

/** One record being collected from consecutive key/value lines. */
export class KvBlock {
  readonly raw: RawFields = {};
  /** Where each field came from, so a rejection points at the offending line. */
  readonly from: Partial<Record<FieldName, LineRef>> = {};
  /** Number of key/value lines in the block (they count as skipped if the block is not a record). */
  lines = 0;
  /** The first problem found; the whole block is rejected with it. */
  error: (LineRef & { reason: string }) | null = null;

  readonly start: LineRef;
  constructor(start: LineRef) {
    this.start = start;
  }

  /** Has anything that makes it a server record, rather than stray `Key: value` prose. */
  get isRecord(): boolean {
    return this.raw.ip !== undefined || this.raw.login !== undefined || this.raw.password !== undefined || this.error !== null;
  }

  fail(at: LineRef, reason: string): void {
    this.error ??= { ...at, reason };
  }

  add(key: KvKey, value: string, at: LineRef): void {
    this.lines++;
    if (key === 'ip') {
      // `Ip: 203.0.113.5:1724`: the one place an address may carry a port.
      const colon = value.indexOf(':');
      if (colon !== -1 && value.indexOf(':', colon + 1) === -1) {
        this.set('ip', value.slice(0, colon), at);
        this.set('port', value.slice(colon + 1), at);
      } else this.set('ip', value, at);
    } else if (key === 'credentials') {
      const c = splitCredentials(value);
      if (!c.ok) return this.fail(at, c.reason);
      this.set('login', c.login, at);
      this.set('password', c.password, at);
    } else if (key === 'location') {
      const loc = parseLocation(value);
      if (!loc.ok) return this.fail(at, loc.reason);
      for (const [f, v] of Object.entries(loc.raw) as [FieldName, string][]) this.set(f, v, at);
    } else this.set(key, value, at);
  }

  /** The same field twice with different values is a conflict, not "last one wins". */
  private set(field: FieldName, value: string, at: LineRef): void {
    const v = value.trim();
    if (v === '') return; // an empty value says nothing (a later line may still give it)
    const prev = this.raw[field];
    if (prev !== undefined && prev !== v) {
      return this.fail(at, `conflicting ${fieldLabel(field)} values (lines ${this.from[field]!.line} and ${at.line})`);
    }
    this.raw[field] = v;
    this.from[field] ??= at;
  }
}
