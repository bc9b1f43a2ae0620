import { FileTooLarge, type IncomingFile } from './types.ts';

/**
 * Reads an HTTP download into memory without ever holding more than `maxBytes`: a declared
 * Content-Length over the cap stops it before the body is read, and the bytes are counted as they
 * arrive, so a missing or wrong length cannot push past the cap either.
 */
async function readCapped(res: Response, name: string, maxBytes: number): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body.cancel();
    throw new FileTooLarge(name, declared, maxBytes);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new FileTooLarge(name, null, maxBytes);
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return Buffer.concat(chunks, total);
}

/**
 * A file a platform holds, as an IncomingFile: the size the platform reports is checked before any
 * byte is fetched, then `open` (the platform's own request and checks) answers with a successful
 * response whose body is read under the cap.
 */
export function remoteFile(info: { name: string; size: number | null; contentType: string | null }, open: () => Promise<Response>): IncomingFile {
  return {
    name: info.name,
    size: info.size,
    contentType: info.contentType,
    async download(maxBytes: number): Promise<Buffer> {
      if (info.size !== null && info.size > maxBytes) throw new FileTooLarge(info.name, info.size, maxBytes);
      return readCapped(await open(), info.name, maxBytes);
    },
  };
}
