/**
 * Credentials from the operating system's CSPRNG, drawn without modulo bias: a byte is used only
 * when it falls below the largest multiple of the alphabet size, so every character is equally likely.
 */
import { randomBytes } from 'node:crypto';

/** Letters and digits only: safe in `host:port:login:password` lines, URLs and shell words. */
export const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomString(length: number, alphabet: string = ALPHANUMERIC): string {
  if (alphabet.length < 2 || alphabet.length > 256) throw new Error('alphabet must have 2..256 characters');
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(Math.max(16, (length - out.length) * 2))) {
      if (b >= limit) continue;
      out += alphabet[b % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

export interface SocksCredentials {
  login: string;
  password: string;
}

/**
 * A login of 10 and a password of 24 alphanumerics: ~143 bits of entropy in the password alone,
 * far past any online guessing. The login is random too so it names no node or customer.
 */
export function newSocksCredentials(): SocksCredentials {
  return { login: `cx${randomString(10).toLowerCase()}`, password: randomString(24) };
}
