// Strict IPv4 and port validation with reasons a person understands.
import { quote } from './text.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const DOTTED_QUAD_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const DIGITS_RE = /^\d+$/;
/** Something like vpn.example.com: dotted labels with a letter in the last one. */
const HOSTNAME_RE = /^(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*$/i;

/** A line whose first token starts like an address (1.2.3 ...): it is data, never a header. */
export const DATA_LINE_RE = /^\d+\.\d+\.\d/;
/** A dotted quad anywhere in a line: such a line is not a harmless header. */
export const IP_ANYWHERE_RE = /(?:^|[^\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\d)/;

/**
 * Dotted-quad IPv4 only: four decimal octets 0-255 without leading zeros (01.2.3.4 is refused
 * because some tools read a leading zero as octal). 0.0.0.0 and 255.255.255.255 are not hosts.
 * Private, loopback and public addresses are all kept.
 */
export function parseIPv4(raw: string): Parsed<string> {
  const bad = (why: string): Parsed<string> => ({ ok: false, reason: `invalid IP ${quote(raw)}: ${why}` });
  if (raw === '') return { ok: false, reason: 'missing IP address' };
  const m = DOTTED_QUAD_RE.exec(raw);
  const parts = m ? m.slice(1, 5) : raw.split('.');
  if (!m) {
    if (HOSTNAME_RE.test(raw)) return bad('a hostname, not an IPv4 address (only IPv4 addresses are accepted)');
    if (raw.includes(':') && DOTTED_QUAD_RE.test(raw.slice(0, raw.indexOf(':')))) {
      return bad('an address with a port; a port is only accepted in the key/value "Ip:" field or a port column');
    }
    if (parts.length !== 4) return bad(`expected 4 numbers separated by dots, found ${parts.length}`);
  }
  for (const part of parts) {
    if (part === undefined || part === '') return bad('an empty octet');
    if (!DIGITS_RE.test(part)) return bad(`${quote(part, 20)} is not a number`);
    if (part.length > 1 && part[0] === '0') return bad(`octet ${quote(part, 20)} has a leading zero`);
    if (part.length > 3 || Number(part) > 255) return bad(`octet ${part.length > 12 ? `${part.slice(0, 12)}…` : part} is out of range`);
  }
  if (raw === '0.0.0.0') return bad('not a host address');
  if (raw === '255.255.255.255') return bad('the broadcast address, not a host');
  return { ok: true, value: raw };
}

/** TCP port 1-65535, decimal digits only. */
export function parsePort(raw: string): Parsed<number> {
  if (!DIGITS_RE.test(raw)) return { ok: false, reason: `invalid port ${quote(raw, 20)}: not a number` };
  const n = raw.length > 6 ? Infinity : Number(raw);
  if (n < 1 || n > 65535) return { ok: false, reason: `invalid port ${quote(raw, 20)}: must be between 1 and 65535` };
  return { ok: true, value: n };
}
