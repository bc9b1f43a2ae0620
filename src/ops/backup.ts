import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { Store } from '../store/store.ts';
import { TAR_END, tarHeader, tarPadding } from './tar.ts';

/**
 * A backup: one `.tar.gz` (mode 0600) holding `manifest.json` first, then the store file and the
 * PKI exactly as they are in DATA_DIR. The manifest names each file with its size and sha256 and
 * the store's schema version; restore (restore.ts) checks all of them before it changes anything.
 */
export const BACKUP_FORMAT = 'connexa-backup';
export const BACKUP_FORMAT_VERSION = 1;
export const BACKUP_PREFIX = 'connexa-backup-';

export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
  mode: number;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  formatVersion: number;
  createdAt: string;
  connexaVersion: string;
  storeVersion: number;
  files: ManifestFile[];
}

export class BackupError extends Error {}

/** What belongs in a backup, relative to DATA_DIR: the state, not run files, outbox or backups. */
async function filesToSave(dataDir: string): Promise<string[]> {
  const out: string[] = [];
  const exists = async (p: string) => stat(join(dataDir, p)).then((s) => s.isFile(), () => false);
  if (!(await exists('connexa.json'))) throw new BackupError(`there is no store to back up in ${dataDir} (connexa.json is missing)`);
  out.push('connexa.json');
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(join(dataDir, dir), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) await walk(rel);
      else if (e.isFile() && !/\.tmp$/.test(e.name)) out.push(rel);
    }
  };
  await walk('pki');
  // The OpenVPN port of each online node: restored services keep the ports their profiles name.
  if (await exists('ovpn/allocations.json')) out.push('ovpn/allocations.json');
  return out;
}

/** `connexa-backup-20261124T171500123Z.tar.gz`: sorts by time. */
export function backupName(at: Date): string {
  return `${BACKUP_PREFIX}${at.toISOString().replace(/[-:.]/g, '')}.tar.gz`;
}

export interface BackupResult {
  file: string;
  bytes: number;
  manifest: BackupManifest;
}

/**
 * Writes a backup of `dataDir` into `outDir`. With the store of this process, what is committed in
 * memory is written first (a flush), so the backup holds every result recorded before the call.
 * Without it (another process owns the data), the store file as last written is taken: it is
 * replaced by an atomic rename, so it is always whole. Each file is opened once, then hashed and
 * copied from the same descriptor: a file replaced meanwhile does not mix two versions.
 */
export async function writeBackup(opts: { dataDir: string; outDir: string; store?: Store; version: string; now?: Date }): Promise<BackupResult> {
  const { dataDir, outDir } = opts;
  if (opts.store && !opts.store.readOnly) await opts.store.flush();
  const paths = await filesToSave(dataDir);
  const handles: Array<{ path: string; fh: FileHandle; size: number; mode: number; mtime: number }> = [];
  try {
    for (const path of paths) {
      const fh = await open(join(dataDir, path), 'r');
      handles.push({ path, fh, size: 0, mode: 0o600, mtime: 0 });
      const s = await fh.stat();
      Object.assign(handles.at(-1)!, { size: s.size, mode: s.mode & 0o777, mtime: Math.floor(s.mtimeMs / 1000) });
    }
    const storeVersion = await readStoreVersion(handles[0]!.fh);
    const files: ManifestFile[] = [];
    for (const h of handles) files.push({ path: h.path, size: h.size, mode: h.mode, sha256: await sha256Of(h.fh, h.size) });
    const createdAt = (opts.now ?? new Date()).toISOString();
    const manifest: BackupManifest = { format: BACKUP_FORMAT, formatVersion: BACKUP_FORMAT_VERSION, createdAt, connexaVersion: opts.version, storeVersion, files };

    await mkdir(outDir, { recursive: true, mode: 0o700 });
    const file = join(outDir, backupName(opts.now ?? new Date()));
    const tmp = `${file}.${process.pid}.tmp`;
    const tar = new PassThrough();
    const written = pipeline(tar, createGzip({ level: 6 }), createWriteStream(tmp, { mode: 0o600 }));
    const put = (b: Buffer) => (tar.write(b) ? Promise.resolve() : new Promise<void>((r) => tar.once('drain', () => r())));
    try {
      const m = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
      const now = Math.floor(Date.parse(createdAt) / 1000);
      await put(tarHeader('manifest.json', m.length, 0o600, now));
      await put(m);
      await put(tarPadding(m.length));
      for (const h of handles) {
        await put(tarHeader(h.path, h.size, h.mode, h.mtime));
        for await (const chunk of h.fh.createReadStream({ start: 0, end: h.size - 1, autoClose: false })) await put(chunk as Buffer);
        await put(tarPadding(h.size));
      }
      tar.end(TAR_END);
      await written;
      await rename(tmp, file);
    } catch (err) {
      tar.destroy();
      await written.catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
    return { file, bytes: (await stat(file)).size, manifest };
  } finally {
    for (const h of handles) await h.fh.close().catch(() => {});
  }
}

async function sha256Of(fh: FileHandle, size: number): Promise<string> {
  const hash = createHash('sha256');
  if (size > 0) for await (const chunk of fh.createReadStream({ start: 0, end: size - 1, autoClose: false })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The store writes `{"version":N,` first: read from the head, never parsing the whole file. */
async function readStoreVersion(fh: FileHandle): Promise<number> {
  const head = Buffer.alloc(256);
  const { bytesRead } = await fh.read(head, 0, head.length, 0);
  const m = /^\s*\{\s*"version"\s*:\s*(\d+)/.exec(head.subarray(0, bytesRead).toString('utf8'));
  if (!m) throw new BackupError('connexa.json does not start with its schema version; is it a Connexa store?');
  return Number(m[1]);
}

/** Deletes all but the newest `keep` backups in `dir`; returns the removed names. */
export async function rotateBackups(dir: string, keep: number): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => n.startsWith(BACKUP_PREFIX) && n.endsWith('.tar.gz')).sort();
  const drop = names.slice(0, Math.max(0, names.length - keep));
  for (const n of drop) await rm(join(dir, n), { force: true });
  return drop;
}

/** The path relative to DATA_DIR a manifest may name: no absolute path, no `..`. */
export function safeRelative(path: string): boolean {
  return path.length > 0 && !path.startsWith('/') && !path.split('/').some((p) => p === '..' || p === '' || p === '.') && relative('x', join('x', path)) === path;
}

