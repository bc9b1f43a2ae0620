// Strict IPv4 and port validation with reasons a person understands.
import { quote } from './text.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const DOTTED_QUAD_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const DIGITS_RE = /^\d+$/;
/** Something like vpn.example.com: dotted labels with a letter in the last one. */
const HOSTNAME_RE = /^(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*$/i;

/** Starts with digits and at least two dots (1.2.3, 1.2..4, 999.1.1.1): meant as an address. */
const DATA_HEAD_RE = /^\d+\.[\d.]*\./;
/** 03.09.2025 or 2025.09.03 at the start of a header line is a date, not a broken address. */
const DATE_HEAD_RE = /^(?:\d{1,2}\.\d{1,2}\.\d{4}|\d{4}\.\d{1,2}\.\d{1,2})(?![\d.])/;
/** A line that starts like an address is data (a record or a rejection), never a skipped header. */
export function isDataLine(t: string): boolean {
  return DATA_HEAD_RE.test(t) && !DATE_HEAD_RE.test(t);
}
/** Three numeric labels first: an attempt at an address, not a hostname (1.2.3.x). */
const NUMERIC_START_RE = /^\d+\.\d+\.\d+\./;
/** A dotted quad anywhere in a line: such a line is not a harmless header. */
export const IP_ANYWHERE_RE = /(?:^|[^\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\d)/;

/**
 * Dotted-quad IPv4 only: four decimal octets 0-255 without leading zeros (01.2.3.4 is refused
 * because some tools read a leading zero as octal). 0.0.0.0 and 255.255.255.255 are not hosts.
 * Private, loopback and public addresses are all kept.
 */
export function parseIPv4(raw: string): Parsed<string> {
  const m = DOTTED_QUAD_RE.exec(raw);
  if (m) {
    // Fast path, the common case: four groups of 1-3 digits.
    for (let i = 1; i <= 4; i++) {
      const part = m[i]!;
      if (part.length > 1 && part.charCodeAt(0) === 48) return badIp(raw, `octet ${quote(part)} has a leading zero`);
      if (part.length === 3 && Number(part) > 255) return badIp(raw, `octet ${part} is out of range`);
    }
    if (raw === '0.0.0.0') return badIp(raw, 'not a host address');
    if (raw === '255.255.255.255') return badIp(raw, 'the broadcast address, not a host');
    return { ok: true, value: raw };
  }
  if (raw === '') return { ok: false, reason: 'missing IP address' };
  if (HOSTNAME_RE.test(raw) && !NUMERIC_START_RE.test(raw)) return badIp(raw, 'a hostname, not an IPv4 address (only IPv4 addresses are accepted)');
  if (raw.includes(':') && DOTTED_QUAD_RE.test(raw.slice(0, raw.indexOf(':')))) {
    return badIp(raw, 'an address with a port; a port is only accepted in the key/value "Ip:" field or a port column');
  }
  const parts = raw.split('.');
  if (parts.length !== 4) return badIp(raw, `expected 4 numbers separated by dots, found ${parts.length}`);
  for (const part of parts) {
    if (part === '') return badIp(raw, 'an empty octet');
    if (!DIGITS_RE.test(part)) return badIp(raw, `${quote(part, 20)} is not a number`);
    if (part.length > 1 && part[0] === '0') return badIp(raw, `octet ${quote(part, 20)} has a leading zero`);
    if (part.length > 3 || Number(part) > 255) return badIp(raw, `octet ${part.length > 12 ? `${part.slice(0, 12)}…` : part} is out of range`);
  }
  return badIp(raw, 'not a valid IPv4 address'); // not reached: four in-range octets match the fast path
}

function badIp(raw: string, why: string): Parsed<string> {
  return { ok: false, reason: `invalid IP ${quote(raw)}: ${why}` };
}

/** TCP port 1-65535, decimal digits only. */
export function parsePort(raw: string): Parsed<number> {
  if (!DIGITS_RE.test(raw)) return { ok: false, reason: `invalid port ${quote(raw, 20)}: not a number` };
  const n = raw.length > 6 ? Infinity : Number(raw);
  if (n < 1 || n > 65535) return { ok: false, reason: `invalid port ${quote(raw, 20)}: must be between 1 and 65535` };
  return { ok: true, value: n };
}
