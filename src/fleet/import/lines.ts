// The one-line formats. The character right after the leading address decides the format, so
// each line is looked at once, with no trial-and-error regexes:
//   ':'         colon formats   ip:login:password  |  ip:login:password:country:state:zip
//   ' - '       dash and pipe   ip - login:password - State/City ZIP | timestamp
//   whitespace  spaces          ip login password [state]
import { parseIPv4 } from './ip.ts';
import type { RawFields } from './record.ts';
import { isCountry, isState, isStateName, isZip } from './states.ts';
import { quote } from './text.ts';

export type LineParse = { ok: true; raw: RawFields } | { ok: false; reason: string };

const fail = (reason: string): LineParse => ({ ok: false, reason });

const ambiguousColons = (what: string) =>
  `${what}: ambiguous (a login or password containing ':'?); use the key/value or CSV format`;

/** Index of the first character that ends the leading address token. */
function headEnd(t: string): number {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    // space, tab, ':', ',', ';', '|'
    if (c === 32 || c === 9 || c === 58 || c === 44 || c === 59 || c === 124) return i;
  }
  return t.length;
}

function countChar(s: string, ch: string): number {
  let n = 0;
  for (let i = s.indexOf(ch); i !== -1; i = s.indexOf(ch, i + 1)) n++;
  return n;
}

/** Splits `login:password`; exactly one colon, anything else is ambiguous and refused. */
export function splitCredentials(creds: string): { ok: true; login: string; password: string } | { ok: false; reason: string } {
  const colons = countChar(creds, ':');
  if (colons === 0) return { ok: false, reason: 'credentials have no ":" between login and password' };
  if (colons > 1) return { ok: false, reason: ambiguousColons(`credentials contain ${colons} ':' characters`) };
  const at = creds.indexOf(':');
  return { ok: true, login: creds.slice(0, at), password: creds.slice(at + 1) };
}

/** Parses a trimmed line that starts with an address (see isDataLine). Field checks come later. */
export function parseDataLine(t: string): LineParse {
  const end = headEnd(t);
  const ip = parseIPv4(t.slice(0, end));
  if (!ip.ok) return fail(ip.reason);
  if (end === t.length) return fail('an IP address without login and password');
  const sep = t[end];
  if (sep === ':') return parseColons(t);
  if (sep === ',' || sep === ';') {
    return fail('a delimited line without a CSV header row; start the block with a header such as "ip,login,password"');
  }
  if (sep === ' ' || sep === '\t') {
    const rest = t.slice(end).trimStart();
    if (rest[0] === '-' && (rest.length === 1 || rest[1] === ' ' || rest[1] === '\t')) {
      return parseDash(ip.value, rest.slice(1).trim());
    }
    return parseSpaces(t);
  }
  return fail('unrecognized format after the IP address');
}

const WS_RE = /[ \t]+/;
/** `203.0.113.5:1723 u1 p1`: an address:port followed by space-separated fields. */
const PORT_THEN_SPACE_RE = /^\d{1,5}[ \t]/;

function parseColons(t: string): LineParse {
  const p = t.split(':');
  if (p.length === 3) return { ok: true, raw: { ip: p[0], login: p[1], password: p[2] } };
  if (p.length === 6) {
    // `ip:user:Pa55:w0rd:TX:75001` is also 6 fields (a password with ':'): the tail is a location
    // only if each part is recognisably one. Reasons never quote the fields: they may be password.
    const [country, state, zip] = [p[3]!.trim(), p[4]!.trim(), p[5]!.trim()];
    if (country !== '' && !isCountry(country)) return fail(ambiguousColons('the 4th of 6 colon-separated fields is not a country code or name'));
    if (state !== '' && !isState(state, country || null)) {
      return fail(ambiguousColons(`the 5th of 6 colon-separated fields is not a ${country && !isUsOrCa(country) ? 'region name' : 'US state or Canadian province'}`));
    }
    if (zip !== '' && !isZip(zip)) return fail(ambiguousColons('the 6th of 6 colon-separated fields is not a ZIP or postal code'));
    return { ok: true, raw: { ip: p[0], login: p[1], password: p[2], country: p[3], state: p[4], zip: p[5] } };
  }
  if (p.length === 2) {
    if (PORT_THEN_SPACE_RE.test(p[1]!)) {
      return fail(`"${p[0]}:${p[1]!.split(WS_RE)[0]}" is an address with a port; a port is only accepted in the key/value "Ip:" field or a port column`);
    }
    return fail('missing password (expected ip:login:password)');
  }
  return fail(ambiguousColons(`${p.length} colon-separated fields`));
}


const isUsOrCa = (country: string) => isState('NY', country) || isState('ON', country);

const NOT_A_STATE =
  'the 4th space-separated field is not a US state or Canadian province (code or name): ambiguous (a password with a space?); use the key/value or CSV format';

function parseSpaces(t: string): LineParse {
  const p = t.split(WS_RE);
  if (p.length === 2) return fail('missing password (expected: ip login password [state])');
  const raw: RawFields = { ip: p[0], login: p[1], password: p[2] };
  // `203.0.113.12 user8 correct horse` is a password with a space as much as a state: only a
  // recognisable state is taken as one. The field is not quoted in the reason (it may be password).
  if (p.length === 4) {
    if (!isState(p[3]!, null)) return fail(NOT_A_STATE);
    raw.state = p[3];
  }
  if (p.length > 4) {
    // Only a multi-word state name ("New York") may follow; anything else would be guessing.
    const state = p.slice(3).join(' ');
    if (!isStateName(state)) return fail(`${p.length} space-separated fields: expected ip login password [state]`);
    raw.state = state;
  }
  return { ok: true, raw };
}

const DASH_SPLIT_RE = /\s+-\s+/;
const PIPE_SPLIT_RE = /\s+\|/;
/** A trailing postal code: US 12345 / 12345-6789, Canadian A1A 1A1, or 3-10 digits elsewhere. */
const ZIP_TAIL_RE = /(?:^|\s+)(\d{5}-\d{4}|[A-Za-z]\d[A-Za-z][ -]?\d[A-Za-z]\d|\d{3,10})$/;

function parseDash(ip: string, r: string): LineParse {
  const dash = DASH_SPLIT_RE.exec(r);
  let creds = dash ? r.slice(0, dash.index) : r;
  let loc = dash ? r.slice(dash.index + dash[0].length) : '';
  let stamp = '';
  if (dash) {
    const bar = loc.indexOf('|');
    if (bar !== -1) {
      stamp = loc.slice(bar + 1);
      loc = loc.slice(0, bar);
    }
  } else {
    const bar = PIPE_SPLIT_RE.exec(creds);
    if (bar) {
      stamp = creds.slice(bar.index + bar[0].length);
      creds = creds.slice(0, bar.index);
    }
  }
  const c = splitCredentials(creds.trim());
  if (!c.ok) return fail(c.reason);
  const raw: RawFields = { ip, login: c.login, password: c.password };
  loc = loc.trim();
  if (loc) {
    const z = ZIP_TAIL_RE.exec(loc);
    if (z) {
      raw.zip = z[1];
      loc = loc.slice(0, z.index);
    }
    const parts = loc.split('/');
    if (parts.length > 2) return fail(`unrecognized location ${quote(loc)}: expected State/City ZIP`);
    if (parts[0]!.trim() !== '' && !isState(parts[0]!, null)) {
      return fail('unrecognized location: the state is not a US state or Canadian province (code or name); expected State/City ZIP');
    }
    raw.state = parts[0];
    raw.city = parts[1];
  }
  // The text after '|' is when the line was captured; it is kept as the comment.
  if (stamp.trim()) raw.comment = stamp;
  return { ok: true, raw };
}
