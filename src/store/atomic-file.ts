import { createReadStream } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Adapter } from 'lowdb';
import { JsonObjectReader, JsonSyntaxError } from './json-stream.ts';

/** The store cannot be opened; the message is one line for the operator (start-up exits 2). */
export class StoreOpenError extends Error {}

/** The file exists but cannot be read as our JSON: start-up must stop and the file must be left alone. */
export class StoreFileCorrupt extends StoreOpenError {}

/**
 * A lowdb adapter that writes atomically (temp file, fsync, rename) with mode 0600. lowdb's own
 * JSONFile also renames a temp file, but creates it with the process umask and never fsyncs, so a
 * crash right after rename could leave an empty file on some file systems.
 */
export class AtomicJsonFile<T> implements Adapter<T> {
  /** How many times the file was written; the import benchmark reports it. */
  writes = 0;
  readonly path: string;
  private readonly parse: (raw: unknown) => T;
  private readonly serialize: (data: T) => AsyncIterable<string> | Iterable<string>;
  constructor(
    path: string,
    parse: (raw: unknown) => T,
    /**
     * Turns the data into the file's text as a stream of chunks, so that no multi-megabyte string
     * is built and the event loop runs between chunks. The store's serializer keeps the chunks a
     * consistent snapshot of the moment the write began.
     */
    serialize: (data: T) => AsyncIterable<string> | Iterable<string> = (data) => [JSON.stringify(data)],
  ) {
    this.path = path;
    this.parse = parse;
    this.serialize = serialize;
  }

  /** Bytes per chunk when reading (tests make it tiny). */
  readChunkBytes = 1 << 20;

  async read(): Promise<T | null> {
    // Streamed: the file is never one string (V8 caps strings at ~512 MB).
    const reader = new JsonObjectReader();
    let raw: unknown;
    try {
      for await (const chunk of createReadStream(this.path, { encoding: 'utf8', highWaterMark: this.readChunkBytes })) reader.feed(chunk as string);
      raw = reader.end();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      if (err instanceof JsonSyntaxError) {
        throw new StoreFileCorrupt(`${this.path} is not valid JSON (${err.message}); it was left untouched — restore it from a backup or move it away to start empty`);
      }
      if (err instanceof RangeError) throw new StoreFileCorrupt(`${this.path} is too large to read (${err.message}); it was left untouched`);
      throw new StoreOpenError(`${this.path} cannot be read: ${code ?? (err as Error).message}`);
    }
    return this.parse(raw);
  }

  async write(data: T): Promise<void> {
    // Taken before the first await: the file is the state of the moment write() was called.
    const chunks = this.serialize(data);
    const tmp = join(dirname(this.path), `.${basename(this.path)}.${process.pid}.tmp`);
    const fh = await open(tmp, 'w', 0o600);
    try {
      for await (const chunk of chunks) await fh.write(chunk);
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await fh.close();
    await rename(tmp, this.path);
    this.writes++;
  }
}
