// One place that turns the raw strings a format extracted into validated NodeFields, so every
// format gets the same rules and the same reasons.
import type { NodeFields } from '../node.ts';
import { parseIPv4, parsePort } from './ip.ts';
import { normalizeCountry, normalizeState } from './states.ts';
import { MAX_FIELD_CHARS, findControlChar } from './text.ts';

export const FIELD_NAMES = ['ip', 'port', 'login', 'password', 'provider', 'country', 'state', 'city', 'zip', 'comment'] as const;
export type FieldName = (typeof FIELD_NAMES)[number];
/** Strings as found in the file; undefined = the format did not carry the field. */
export type RawFields = Partial<Record<FieldName, string>>;

const LABEL: Record<FieldName, string> = {
  ip: 'IP', port: 'port', login: 'login', password: 'password', provider: 'provider',
  country: 'country', state: 'state', city: 'city', zip: 'ZIP', comment: 'comment',
};
export const fieldLabel = (f: FieldName): string => LABEL[f];

export type Built = { ok: true; record: ImportRecord } | { ok: false; reason: string; field: FieldName };

/** A parsed record and where it starts (1-based line). */
export interface ImportRecord extends NodeFields {
  line: number;
}

const WHITESPACE_RE = /\s/;

/** Trimmed value, or null when absent/empty, or the reason the field is refused. */
function clean(raw: RawFields, f: FieldName): string | null | { reason: string } {
  const v = raw[f]?.trim();
  if (v === undefined || v === '') return null;
  if (v.length > MAX_FIELD_CHARS) return { reason: `${LABEL[f]} is too long (${v.length} characters, max ${MAX_FIELD_CHARS})` };
  const ctl = findControlChar(v, f === 'comment');
  return ctl ? { reason: `${LABEL[f]} contains ${ctl}` } : v;
}

/**
 * Validates and normalises one record, appending `line` so the caller gets an ImportRecord without
 * another copy. `lineFormat` is set for the one-line formats, where a space inside a login or
 * password means the line was split wrongly, so it is refused rather than guessed.
 * Reasons never contain the password.
 */
export function buildRecord(raw: RawFields, lineFormat: boolean, line: number): Built {
  const v: (string | null)[] = [];
  for (let i = 0; i < FIELD_NAMES.length; i++) {
    const f = FIELD_NAMES[i]!;
    const c = clean(raw, f);
    if (c !== null && typeof c === 'object') return { ok: false, field: f, reason: c.reason };
    v.push(c);
  }
  const [ip, port, login, password, provider, country, state, city, zip, comment] = v as (string | null)[];
  if (!ip) return { ok: false, field: 'ip', reason: 'missing IP address' };
  const ipOk = parseIPv4(ip);
  if (!ipOk.ok) return { ok: false, field: 'ip', reason: ipOk.reason };
  if (!login) return { ok: false, field: 'login', reason: 'missing login' };
  if (!password) return { ok: false, field: 'password', reason: 'missing password' };
  if (lineFormat && WHITESPACE_RE.test(login)) return { ok: false, field: 'login', reason: 'login contains whitespace' };
  if (lineFormat && WHITESPACE_RE.test(password)) return { ok: false, field: 'password', reason: 'password contains whitespace' };
  let portNumber: number | undefined;
  if (port) {
    const p = parsePort(port);
    if (!p.ok) return { ok: false, field: 'port', reason: p.reason };
    portNumber = p.value;
  }
  const countryN = country ? normalizeCountry(country) : null;
  const record: ImportRecord = {
    line,
    ip: ipOk.value,
    login,
    password,
    provider: provider ?? null,
    country: countryN,
    state: state ? normalizeState(state, countryN) : null,
    city: city ?? null,
    zip: zip ?? null,
    comment: comment ?? null,
  };
  if (portNumber !== undefined) record.port = portNumber;
  return { ok: true, record };
}
