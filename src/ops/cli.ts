import { acquireLock, StoreLocked } from '../store/lock.ts';
import type { Config } from '../config.ts';
import { BackupError, writeBackup } from './backup.ts';
import { restoreBackup } from './restore.ts';

/** Runs `backup <dir>` or `restore <file>`; resolves with the exit code (2: refused, one line on stderr). */
export async function runTerminalOnly(args: string[], config: Config, version: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const [verb, target, ...rest] = args;
  if (!target || rest.length) {
    err.write(`connexa: usage: connexa ${verb} <${verb === 'backup' ? 'dir' : 'file'}>\n`);
    return 2;
  }
  try {
    if (verb === 'backup') {
      // When no Connexa runs, the lock keeps one from starting (and writing) meanwhile; when one
      // runs, its last write is taken (atomic renames: always a whole file).
      let lock: { release(): void } | null = null;
      try {
        lock = await acquireLock(config.dataDir, { writeInfo: false });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupError(`there is no store to back up in ${config.dataDir} (the directory does not exist)`);
        if (!(e instanceof StoreLocked)) throw e;
      }
      try {
        const r = await writeBackup({ dataDir: config.dataDir, outDir: target, version });
        const live = lock ? '' : ' (a running Connexa holds the data: this is its last write, at most a few seconds old)';
        out.write(`backup written: ${r.file} (${r.bytes.toLocaleString('en-US')} bytes, ${r.manifest.files.length} files, store version ${r.manifest.storeVersion})${live}\n`);
      } finally {
        lock?.release();
      }
      return 0;
    }
    const r = await restoreBackup(target, config.dataDir);
    out.write(
      `restored ${target} (made ${r.manifest.createdAt} by Connexa ${r.manifest.connexaVersion}): ${r.nodes.toLocaleString('en-US')} nodes, ${r.manifest.files.length} files into ${config.dataDir}` +
        `${r.previous ? `; the data it replaced is in ${r.previous}` : ''}\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof BackupError) {
      err.write(`connexa: ${e.message.split('\n')[0]}\n`);
      return 2;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code) {
      err.write(`connexa: ${verb} failed: ${(e as Error).message.split('\n')[0]}\n`);
      return 2;
    }
    throw e;
  }
}
