import type { Logger } from '../log.ts';
import type { Store } from '../store/store.ts';
import { rotateBackups, writeBackup } from './backup.ts';

/** One BACKUP_CRON tick: a backup of this process's committed state, then rotation to BACKUP_KEEP. */
export async function scheduledBackup(opts: { store: Store; dataDir: string; outDir: string; keep: number; version: string; log: Logger }): Promise<void> {
  const began = performance.now();
  try {
    const r = await writeBackup({ dataDir: opts.dataDir, outDir: opts.outDir, store: opts.store, version: opts.version });
    const removed = await rotateBackups(opts.outDir, opts.keep);
    opts.log.info('backup written', { file: r.file, bytes: r.bytes, files: r.manifest.files.length, ms: Math.round(performance.now() - began), rotatedOut: removed.length });
  } catch (err) {
    opts.log.error('backup failed', { dir: opts.outDir, error: (err as Error).message });
  }
}
