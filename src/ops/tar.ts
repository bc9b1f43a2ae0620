import type { Readable } from 'node:stream';

/**
 * The little of POSIX ustar a backup needs: regular files with a path, a mode and a size. Written
 * and read here (no dependency) so that a backup is also readable with `tar -xzf`.
 */
const BLOCK = 512;

export function tarHeader(path: string, size: number, mode: number, mtimeSec: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  let name = path;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = path.lastIndexOf('/', 154);
    if (cut <= 0 || Buffer.byteLength(path.slice(cut + 1)) > 100) throw new Error(`path too long for a tar entry: ${path}`);
    prefix = path.slice(0, cut);
    name = path.slice(cut + 1);
  }
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(mtimeSec, 12), 136);
  h.write('        ', 148); // checksum field counts as spaces while summing
  h.write('0', 156); // regular file
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** Zero bytes that complete an entry's data to a whole block. */
export function tarPadding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest ? BLOCK - rest : 0);
}

/** The end of an archive: two zero blocks. */
export const TAR_END = Buffer.alloc(BLOCK * 2);

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

export interface TarEntry {
  path: string;
  size: number;
  mode: number;
}

export class TarFormatError extends Error {}

/**
 * Reads entries from a tar stream: `onEntry` gets each header, then its data in chunks through
 * `onData` (which may be async: the stream waits). Throws TarFormatError on a bad header.
 */
export async function readTar(stream: Readable, handler: { entry(e: TarEntry): Promise<void> | void; data(chunk: Buffer): Promise<void> | void; end(): Promise<void> | void }): Promise<void> {
  let buf: Buffer = Buffer.alloc(0);
  let left = 0; // data bytes of the current entry still to come
  let pad = 0; // padding bytes to skip after them
  let inEntry = false;
  let ended = false;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      if (ended) break;
      if (inEntry) {
        if (left > 0) {
          if (!buf.length) break;
          const take = Math.min(left, buf.length);
          await handler.data(buf.subarray(0, take));
          buf = buf.subarray(take);
          left -= take;
          if (left > 0) break;
        }
        if (buf.length < pad) break;
        buf = buf.subarray(pad);
        inEntry = false;
        await handler.end();
        continue;
      }
      if (buf.length < BLOCK) break;
      const h = buf.subarray(0, BLOCK);
      buf = buf.subarray(BLOCK);
      if (h.every((b) => b === 0)) {
        ended = true;
        break;
      }
      const entry = parseHeader(h);
      left = entry.size;
      pad = tarPadding(entry.size).length;
      inEntry = true;
      await handler.entry(entry);
    }
  }
  if (inEntry) throw new TarFormatError('the archive ends in the middle of a file');
  if (!ended) throw new TarFormatError('the archive has no end marker (truncated)');
}

function parseHeader(h: Buffer): TarEntry {
  const field = (at: number, len: number) => h.subarray(at, at + len).toString('utf8').replace(/\0.*$/s, '');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  const stored = parseInt(field(148, 8).trim(), 8);
  if (stored !== sum) throw new TarFormatError('a file header is damaged (checksum)');
  if (field(257, 6) !== 'ustar') throw new TarFormatError('not a ustar archive');
  const type = field(156, 1);
  if (type !== '0' && type !== '') throw new TarFormatError(`unexpected entry type ${JSON.stringify(type)}`);
  const prefix = field(345, 155);
  const name = field(0, 100);
  return { path: prefix ? `${prefix}/${name}` : name, size: parseInt(field(124, 12).trim(), 8), mode: parseInt(field(100, 8).trim(), 8) };
}
