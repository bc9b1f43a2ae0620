import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Adapter } from 'lowdb';

/** The file exists but cannot be read as our JSON: start-up must stop and the file must be left alone. */
export class StoreFileCorrupt extends Error {}

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

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new StoreFileCorrupt(`${this.path} is not valid JSON (${(err as Error).message}); it was left untouched — restore it from a backup or move it away to start empty`);
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
