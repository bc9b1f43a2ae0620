/** A zip archive in memory, made with archiver (deflate). */

export interface ZipEntry {
  name: string;
  data: Buffer | string;
}

/** Fixed level so the size estimate in bundle.ts (zlib at the same level) matches what archiver writes. */
export const ZIP_LEVEL = 9;

export async function makeZip(entries: readonly ZipEntry[], date: Date = new Date()): Promise<Buffer> {
  // Loaded on first use, so that commands that never zip do not pay for archiver at start-up.
  const { ZipArchive } = await import('archiver');
  const zip = new ZipArchive({ zlib: { level: ZIP_LEVEL } });
  const chunks: Buffer[] = [];
  zip.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.on('warning', reject);
  });
  // 0600 inside the archive too: unzip restores it, so keys do not land world-readable.
  for (const e of entries) zip.append(typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : e.data, { name: e.name, date, mode: 0o600 });
  await zip.finalize();
  await done;
  return Buffer.concat(chunks);
}
