/**
 * Files that hold secrets (private keys, the tls-crypt key, allocations next to them) are written
 * here and only here: directories 0700, files 0600, replaced atomically (temp file + rename) so a
 * crash never leaves half a key behind. The mode is set at creation, not chmod-ed afterwards, so
 * there is no moment at which another user could open the file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir honours the umask and leaves existing directories alone: make sure either way.
  fs.chmodSync(dir, 0o700);
}

/** Writes `data` to `file` with mode 0600, atomically. */
export function writePrivateFile(file: string, data: string | Buffer): void {
  ensurePrivateDir(path.dirname(file));
  writeAtomically(file, data, 0o600);
}

/**
 * Writes a file that holds nothing secret (the CRL) with mode 0644 in a 0755 directory, atomically:
 * for a process that dropped its privileges (the OpenVPN servers run as nobody) to read.
 */
export function writePublicFile(file: string, data: string): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  writeAtomically(file, data, 0o644);
}

/** A temp file beside `file`, written, synced and renamed over it: readers see old or new, never half. */
function writeAtomically(file: string, data: string | Buffer, mode: number): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fs.fsyncSync(fd);
    fs.fchmodSync(fd, mode); // the umask may have taken bits away
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

export function readTextOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
