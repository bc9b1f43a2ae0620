/**
 * The bot's PKI, opened once on first use, and the ServerMaterial its own host's OpenVPN servers
 * read from it (a remote gateway has its own material: its key, the certificate the bot signed).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ServerMaterial, ServerTrust } from '../../gateway/port.ts';
import type { Pki } from './pki.ts';

/**
 * Opens DATA_DIR/pki on first call. Loaded lazily: the X.509 library is the heaviest module a
 * one-shot command would load. A failed open (disk full) is retried at the next call.
 */
export function lazyPki(dir: string, crlCopy: () => string | null): () => Promise<Pki> {
  let p: Promise<Pki> | null = null;
  return () => {
    p ??= import('./pki.ts').then((m) => m.Pki.open(dir, undefined, { crlCopy: crlCopy() ?? undefined }));
    p.catch(() => (p = null));
    return p;
  };
}

/**
 * Where the world-readable CRL copy lives for servers that drop root (DATA_DIR is 0700): one
 * directory per data directory, so two instances never share one.
 */
export function publicCrlPath(dataDir: string, publicCrlDir = '/run/connexa'): string {
  let real = dataDir;
  try {
    real = fs.realpathSync(real);
  } catch {
    /* not created yet: the configured path names it */
  }
  const id = createHash('sha256').update(real).digest('hex').slice(0, 16);
  return path.join(publicCrlDir, `ovpn-${id}`, 'crl.pem');
}

/** The PKI's own files; the CRL is the served copy when there is one. */
export function pkiMaterial(pki: Pki): ServerMaterial {
  return {
    files: () => ({ ca: pki.paths.ca, cert: pki.paths.cert, key: pki.paths.key, tlsCrypt: pki.paths.tlsCrypt, crl: pki.servedCrlPath() }),
    // The bot's PKI is where trust comes from: its CRL is rewritten by every revocation already.
    install: async (_t: ServerTrust) => {},
  };
}
