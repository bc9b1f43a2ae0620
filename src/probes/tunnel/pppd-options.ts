/**
 * pppd's options-file syntax and the options the pppd driver writes.
 *
 * pppd reads an options file word by word (getword() in pppd/options.c): whitespace separates
 * words, `#` starts a comment, '...' and "..." quote, and a backslash escapes the next character
 * even inside quotes, with \xHH (at most two hex digits) and \ooo for arbitrary bytes. A word holds
 * at most 1023 bytes; a user name at most 255 and a secret at most 255 (MAXNAMELEN/MAXSECRETLEN).
 *
 * quotePppdWord() therefore writes every value as one double-quoted word in which `"` and `\` are
 * backslash-escaped and every byte outside printable ASCII is written as \xHH with exactly two
 * digits (so a following hex digit is never swallowed). Non-ASCII UTF-8 therefore reaches pppd as
 * the same bytes whatever the locale, and nothing in a password can start a comment, split a word
 * or end the quote.
 */
import { isIPv4 } from 'node:net';
import type { TunnelTarget } from './types.ts';

/** pppd's MAXNAMELEN and MAXSECRETLEN are 256 including the terminating NUL. */
export const MAX_LOGIN_BYTES = 255;
export const MAX_PASSWORD_BYTES = 255;
/** The only port pptp(8) can dial: it has no option for another one. */
export const PPTP_PORT = 1723;

export function quotePppdWord(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, 'utf8')) {
    if (byte === 0x22 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte <= 0x7e) out += String.fromCharCode(byte);
    else out += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `${out}"`;
}

/**
 * Reads one word back the way pppd's getword() does; used by the tests to prove quotePppdWord()
 * round-trips, and kept beside it so the two are read together.
 */
export function readPppdWords(text: Buffer): Buffer[] {
  const words: Buffer[] = [];
  let i = 0;
  const at = () => (i < text.length ? text[i]! : -1);
  const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
  const isOct = (c: number) => c >= 0x30 && c <= 0x37;
  const hexVal = (c: number) => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 55 : c >= 0x61 && c <= 0x66 ? c - 87 : -1);
  for (;;) {
    // Skip white space and comments before a word.
    let c = at();
    let comment = false;
    while (c !== -1) {
      if (c === 0x0a) comment = false;
      else if (!comment) {
        if (c === 0x23) comment = true;
        else if (!isSpace(c)) break;
      }
      i++;
      c = at();
    }
    if (c === -1) return words;
    const word: number[] = [];
    let quoted = 0;
    while ((c = at()) !== -1) {
      if (c === 0x5c) {
        i++;
        const e = at();
        if (e === -1) break;
        if (e === 0x0a) {
          i++;
          continue;
        }
        const simple: Record<number, number> = { 0x61: 7, 0x62: 8, 0x66: 12, 0x6e: 10, 0x72: 13, 0x73: 32, 0x74: 9 };
        if (simple[e] !== undefined) {
          word.push(simple[e]!);
          i++;
        } else if (isOct(e)) {
          let v = 0;
          for (let n = 0; n < 3 && isOct(at()); n++) v = (v << 3) + (at() - 0x30), i++;
          word.push(v & 0xff);
        } else if (e === 0x78) {
          i++;
          let v = 0;
          for (let n = 0; n < 2 && hexVal(at()) >= 0; n++) v = (v << 4) + hexVal(at()), i++;
          word.push(v);
        } else {
          word.push(e);
          i++;
        }
        continue;
      }
      if (quoted) {
        if (c === quoted) {
          quoted = 0;
          i++;
          continue;
        }
      } else if (c === 0x22 || c === 0x27) {
        quoted = c;
        i++;
        continue;
      } else if (isSpace(c) || c === 0x23) break;
      word.push(c);
      i++;
    }
    words.push(Buffer.from(word));
  }
}

/** Why a target cannot be dialled by the pppd driver, or null when it can. */
export function targetProblem(t: TunnelTarget): string | null {
  // The address reaches a shell (pppd runs its `pty` command with /bin/sh -c), so only a strict
  // IPv4 literal is allowed; a host name would also be resolved outside any deadline.
  if (!isIPv4(t.ip)) return `the address ${JSON.stringify(t.ip.slice(0, 80))} is not an IPv4 address (host names are not dialled: resolve it and import the IP)`;
  if (t.port !== PPTP_PORT) return `port ${t.port}: pptp can dial only port ${PPTP_PORT}`;
  if (t.login.length === 0) return 'the login is empty';
  if (t.login.includes('\0') || t.password.includes('\0')) return 'the login or password contains a NUL character, which pppd cannot take';
  if (Buffer.byteLength(t.login, 'utf8') > MAX_LOGIN_BYTES) return `the login is longer than pppd's ${MAX_LOGIN_BYTES} bytes`;
  if (Buffer.byteLength(t.password, 'utf8') > MAX_PASSWORD_BYTES) return `the password is longer than pppd's ${MAX_PASSWORD_BYTES} bytes`;
  return null;
}

export interface PppdOptionsInput {
  target: TunnelTarget;
  /** The pptp binary's absolute path (pppd runs it through /bin/sh -c, so no PATH surprises). */
  pptpPath: string;
  /** The ppp unit number to ask for (pppN); pppd takes the next free one if it is taken. */
  unit?: number;
}

/**
 * The whole pppd configuration as an options file: given to pppd as `pppd file PATH`, so the
 * command line shows nothing but the file's name. Options from vm-lab.md, verified against
 * Debian's pptpd: MS-CHAPv2 and 128-bit MPPE required, every weaker method refused.
 */
export function pppdOptionsFile(input: PppdOptionsInput): string {
  const { target, pptpPath } = input;
  const problem = targetProblem(target);
  if (problem) throw new Error(problem);
  if (!/^\/[A-Za-z0-9._/-]+$/.test(pptpPath)) throw new Error(`unexpected pptp path ${pptpPath}`);
  const lines = [
    '# written by connexa for one tunnel; removed when the tunnel closes',
    // pppd runs this with /bin/sh -c: the address is a validated IPv4 literal, the path a plain path.
    `pty ${quotePppdWord(`${pptpPath} ${target.ip} --nolaunchpppd --loglevel 1`)}`,
    `user ${quotePppdWord(target.login)}`,
    `password ${quotePppdWord(target.password)}`,
    'require-mschap-v2',
    'require-mppe-128',
    'refuse-pap',
    'refuse-chap',
    'refuse-mschap',
    'refuse-eap',
    // Debian's /etc/ppp/options says `auth`: we do not ask the server to authenticate to us.
    'noauth',
    'nodefaultroute',
    'noipdefault',
    'nodetach',
    'logfd 1',
    'maxfail 1',
    'lcp-echo-interval 5',
    'lcp-echo-failure 3',
    'nobsdcomp',
    'nodeflate',
    'novj',
  ];
  if (input.unit !== undefined) lines.push(`unit ${input.unit}`);
  return `${lines.join('\n')}\n`;
}
