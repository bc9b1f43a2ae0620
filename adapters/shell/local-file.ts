import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { FileTooLarge, type IncomingFile } from '../../src/chat/types.ts';

const CHUNK = 64 * 1024;

/**
 * A local path as an incoming file: the terminal's form of an attachment, with the same size cap.
 * The file is read to its end, not to the size stat gave: /proc files say 0 bytes, and a file
 * still being written says less than it will hold. A file whose size or modification time changes
 * while it is read is refused rather than imported cut at some arbitrary point.
 */
export function localFile(path: string): IncomingFile {
  const name = basename(path);
  return {
    name,
    size: null,
    contentType: null,
    async download(maxBytes: number): Promise<Buffer> {
      // stat before open: opening a FIFO would wait for a writer.
      const info = await stat(path);
      if (!info.isFile()) throw new Error(`${path} is not a regular file`);
      if (info.size > maxBytes) throw new FileTooLarge(name, info.size, maxBytes);
      const fh = await open(path, 'r');
      try {
        const before = await fh.stat();
        if (before.ino !== info.ino || before.dev !== info.dev) throw new Error(`${name} was replaced while it was being opened; import it again`);
        const chunks: Buffer[] = [];
        let total = 0;
        for (;;) {
          // One byte past the cap is enough to know the file is too big.
          const want = Math.min(CHUNK, maxBytes + 1 - total);
          const buf = Buffer.allocUnsafe(want);
          const { bytesRead } = await fh.read(buf, 0, want, total);
          if (bytesRead === 0) break;
          chunks.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
          total += bytesRead;
          if (total > maxBytes) throw new FileTooLarge(name, null, maxBytes);
        }
        const after = await fh.stat();
        // A file with a real size (not /proc's 0) must read as exactly that size, unchanged meanwhile.
        const changed = after.size !== before.size || after.mtimeMs !== before.mtimeMs || (after.size !== 0 && after.size !== total);
        if (changed) throw new Error(`${name} changed while it was being read (is it still being written?); import it again when it is complete`);
        return Buffer.concat(chunks, total);
      } finally {
        await fh.close();
      }
    },
  };
}
