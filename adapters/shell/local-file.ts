import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { FileTooLarge, type IncomingFile } from '../../src/chat/types.ts';

/** A local path as an incoming file: the terminal's form of an attachment, with the same size cap. */
export function localFile(path: string): IncomingFile {
  return {
    name: basename(path),
    size: null,
    contentType: null,
    async download(maxBytes: number): Promise<Buffer> {
      const info = await stat(path);
      if (!info.isFile()) throw new Error(`${path} is not a regular file`);
      if (info.size > maxBytes) throw new FileTooLarge(basename(path), info.size, maxBytes);
      const fh = await open(path, 'r');
      try {
        // Read at most the cap, even if the file grows meanwhile.
        const buf = Buffer.alloc(Math.min(info.size, maxBytes) + 1);
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        if (bytesRead > maxBytes) throw new FileTooLarge(basename(path), null, maxBytes);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    },
  };
}
