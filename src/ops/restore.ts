import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { acquireLock, StoreLocked } from '../store/lock.ts';
import { STORE_VERSION } from '../store/schema.ts';
import { Store } from '../store/store.ts';
import { BACKUP_FORMAT, BACKUP_FORMAT_VERSION, BackupError, safeRelative, type BackupManifest } from './backup.ts';
import { readTar, TarFormatError } from './tar.ts';

export interface RestoreResult {
  manifest: BackupManifest;
  nodes: number;
  /** Where the data that was replaced went (null when DATA_DIR held none). */
  previous: string | null;
}

/**
 * Restores a backup into `dataDir`. Refused (BackupError, one line, nothing changed) when another
 * process holds the data directory, when the archive is damaged or incomplete, when a checksum or
 * size differs from the manifest, when the store was made by a newer Connexa, or when the restored
 * store does not open. The data it replaces is moved to `pre-restore-<time>/`, never deleted.
 */
export async function restoreBackup(file: string, dataDir: string): Promise<RestoreResult> {
  try {
    await stat(file);
  } catch (err) {
    throw new BackupError(`${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  let lock;
  try {
    lock = await acquireLock(dataDir);
  } catch (err) {
    if (err instanceof StoreLocked) throw new BackupError(`restore refused: ${err.message}`);
    throw err;
  }
  const staging = join(dataDir, `.restore-${process.pid}`);
  try {
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { mode: 0o700 });
    const manifest = await extract(file, staging);
    // The restored store must open (schema, migrations) before it replaces anything.
    let nodes = 0;
    try {
      const store = await Store.open(staging);
      nodes = store.nodes().length;
      await store.close();
    } catch (err) {
      throw new BackupError(`${file}: the store in it does not open: ${(err as Error).message.split('\n')[0]}`);
    }
    const previous = await moveAside(dataDir, manifest);
    for (const top of topLevel(manifest)) await rename(join(staging, top), join(dataDir, top));
    return { manifest, nodes, previous };
  } finally {
    await rm(staging, { recursive: true, force: true }).catch(() => {});
    lock.release();
  }
}

/** Unpacks into `dir`, checking the manifest (first entry), each size and sha256, and that nothing is missing. */
async function extract(file: string, dir: string): Promise<BackupManifest> {
  const damaged = (why: string) => new BackupError(`${file} is damaged or not a Connexa backup: ${why}; nothing was changed`);
  let manifest: BackupManifest | null = null;
  let manifestText: Buffer[] | null = null;
  const seen = new Set<string>();
  let current: { path: string; expected: { size: number; sha256: string }; hash: Hash; fh: FileHandle | null; size: number } | null = null;
  const gunzip = createGunzip();
  const input = createReadStream(file);
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  try {
    await readTar(gunzip, {
      async entry(e) {
        if (!manifest) {
          if (e.path !== 'manifest.json' || manifestText) throw damaged('manifest.json is not its first entry');
          manifestText = [];
          current = null;
          return;
        }
        const expected = manifest.files.find((f) => f.path === e.path);
        if (!expected || !safeRelative(e.path)) throw damaged(`${e.path} is not in its manifest`);
        if (seen.has(e.path)) throw damaged(`${e.path} appears twice`);
        seen.add(e.path);
        if (e.size !== expected.size) throw damaged(`${e.path} is ${e.size} bytes, the manifest says ${expected.size}`);
        const target = join(dir, e.path);
        await mkdir(dirname(target), { recursive: true, mode: 0o700 });
        current = { path: e.path, expected, hash: createHash('sha256'), fh: await open(target, 'wx', 0o600), size: 0 };
      },
      async data(chunk) {
        if (!current) {
          manifestText?.push(Buffer.from(chunk));
          return;
        }
        current.hash.update(chunk);
        current.size += chunk.length;
        await current.fh!.write(chunk);
      },
      async end() {
        if (!manifest && manifestText) {
          manifest = parseManifest(Buffer.concat(manifestText).toString('utf8'), damaged);
          return;
        }
        const c = current!;
        current = null;
        await c.fh!.close();
        if (c.hash.digest('hex') !== c.expected.sha256) throw damaged(`${c.path} does not match its checksum`);
      },
    });
  } catch (err) {
    if (err instanceof BackupError) throw err;
    if (err instanceof TarFormatError) throw damaged(err.message);
    const code = (err as NodeJS.ErrnoException).code;
    if (code?.startsWith('Z_')) throw damaged(`the compressed data is corrupt (${(err as Error).message})`);
    throw err;
  } finally {
    // A file cut short by an error is still open.
    const unfinished = current as { fh: FileHandle | null } | null;
    await unfinished?.fh?.close().catch(() => {});
    input.destroy();
  }
  if (!manifest) throw damaged('it holds no manifest');
  const m: BackupManifest = manifest;
  const missing = m.files.filter((f) => !seen.has(f.path));
  if (missing.length) throw damaged(`${missing.length} file(s) of its manifest are missing (${missing[0]!.path}…)`);
  return m;
}

function parseManifest(text: string, damaged: (why: string) => BackupError): BackupManifest {
  let m: BackupManifest;
  try {
    m = JSON.parse(text) as BackupManifest;
  } catch {
    throw damaged('its manifest is not JSON');
  }
  if (m?.format !== BACKUP_FORMAT || !Array.isArray(m.files)) throw damaged('its manifest is not a Connexa backup manifest');
  if (m.formatVersion > BACKUP_FORMAT_VERSION) throw new BackupError(`the backup was made by a newer Connexa (backup format ${m.formatVersion}; this one reads up to ${BACKUP_FORMAT_VERSION}); nothing was changed`);
  if (typeof m.storeVersion !== 'number' || m.storeVersion > STORE_VERSION) {
    throw new BackupError(`the backup holds a store of schema version ${m.storeVersion}, made by a newer Connexa (${m.connexaVersion}); this one reads up to version ${STORE_VERSION}; nothing was changed`);
  }
  if (!m.files.some((f) => f.path === 'connexa.json')) throw damaged('its manifest names no store (connexa.json)');
  for (const f of m.files) {
    if (!safeRelative(f.path) || typeof f.sha256 !== 'string' || !Number.isInteger(f.size)) throw damaged(`its manifest has a bad entry (${String(f.path).slice(0, 60)})`);
  }
  return m;
}

/** The top-level names a backup restores: connexa.json, pki, ovpn/allocations.json's directory. */
function topLevel(m: BackupManifest): string[] {
  return [...new Set(m.files.map((f) => f.path.split('/')[0]!))];
}

async function moveAside(dataDir: string, m: BackupManifest): Promise<string | null> {
  const aside = join(dataDir, `pre-restore-${new Date().toISOString().replace(/[-:.]/g, '')}`);
  let moved = false;
  for (const top of topLevel(m)) {
    const from = join(dataDir, top);
    const exists = await stat(from).then(() => true, () => false);
    if (!exists) continue;
    if (!moved) await mkdir(aside, { mode: 0o700 });
    moved = true;
    await rename(from, join(aside, top));
  }
  return moved ? aside : null;
}
