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

export type Built = { ok: true; fields: NodeFields } | { ok: false; reason: string; field: FieldName };

const WHITESPACE_RE = /\s/;

/**
 * Validates and normalises one record. `lineFormat` is set for the one-line formats, where a space
 * inside a login or password means the line was split wrongly, so it is refused rather than guessed.
 * Reasons never contain the password.
 */
export function buildRecord(raw: RawFields, lineFormat: boolean): Built {
  const out: Partial<Record<FieldName, string | null>> = {};
  for (const f of FIELD_NAMES) {
    const v = raw[f]?.trim();
    if (v === undefined || v === '') {
      out[f] = null;
      continue;
    }
    if (v.length > MAX_FIELD_CHARS) {
      return { ok: false, field: f, reason: `${LABEL[f]} is too long (${v.length} characters, max ${MAX_FIELD_CHARS})` };
    }
    const ctl = findControlChar(v, f === 'comment');
    if (ctl) return { ok: false, field: f, reason: `${LABEL[f]} contains ${ctl}` };
    out[f] = v;
  }
  const { ip, port, login, password } = out;
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
  const country = out.country ? normalizeCountry(out.country) : null;
  const fields: NodeFields = {
    ip: ipOk.value,
    login,
    password,
    provider: out.provider ?? null,
    country,
    state: out.state ? normalizeState(out.state, country) : null,
    city: out.city ?? null,
    zip: out.zip ?? null,
    comment: out.comment ?? null,
  };
  if (portNumber !== undefined) fields.port = portNumber;
  return { ok: true, fields };
}
