import { constants } from 'node:fs';
import { access, chmod, mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import type { FleetNode } from '../fleet/node.ts';
import { AtomicJsonFile, StoreFileCorrupt, StoreOpenError } from './atomic-file.ts';
import { acquireLock } from './lock.ts';
import { latin1Json } from './latin1-json.ts';
import { migrate } from './migrations.ts';
import { inlinePlaces, PlaceTable } from './places.ts';
import { storeSchema, type StoreData } from './schema.ts';
import { publish } from '../ops/events.ts';

export interface PersistenceOptions {
  /**
   * How long updates are gathered before one file write (coalescing); default 1 s. A crash loses at
   * most this much of what was done meanwhile, never what was written.
   */
  flushDelayMs?: number;
  /** Called when a write fails (disk full, read-only); the data stays in memory and is retried. */
  onWriteError?: (err: Error) => void;
  /** Called after a successful write that followed a failed one. */
  onWriteOk?: () => void;
  /** Bytes per chunk when the file is read at open (tests make it tiny). */
  readChunkBytes?: number;
}

/** What opening DATA_DIR found. */
export interface Opened {
  persistence: Persistence;
  /** The file's data, or `fresh()` when there was no file yet. */
  data: StoreData;
  created: boolean;
  /** The schema version the file was migrated from, or null. */
  migratedFrom: number | null;
}

/** Retry pause after a failed write when nothing else changes meanwhile. */
const RETRY_MS = 5_000;

/**
 * DATA_DIR/connexa.json on disk: the directory lock, the atomic file writer, dirty tracking with
 * coalesced writes, and the retry after a failed write. The data itself is the store's; it tells
 * this class when the data changed (`changed`) and before a node changes (`nodeWillChange`).
 */
export class Persistence {
  lastWriteError: Error | null = null;
  /**
   * Set when DATA_DIR cannot be written (a read-only mount, no permission): the store is read and
   * served, changes stay in memory and are never written; commands that change data are refused.
   */
  readonly readOnly: string | null;

  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private dirty = false;
  private closed = false;
  /**
   * Each node's JSON text, kept until the node changes: a write re-serialises only what changed
   * since the last one. A full JSON.stringify of 15,000 nodes on every flush blocked the event loop
   * for ~100 ms while a ping job ran (measured: `stats` p99 114 ms); this keeps it to a few ms.
   */
  private readonly nodeJson = new WeakMap<FleetNode, string>();
  private readonly auditJson = new WeakMap<object, string>();
  /** The file's table of places; cached node texts hold indexes into it. */
  private readonly places = new PlaceTable();
  /** Set while a write streams the file: changes made meanwhile must not leak into it. */
  private snapshot: Snapshot | null = null;

  private readonly db: Low<StoreData>;
  private readonly file: AtomicJsonFile<StoreData>;
  private readonly releaseLock: () => void;
  private readonly opts: PersistenceOptions & { flushDelayMs: number };

  private constructor(db: Low<StoreData>, file: AtomicJsonFile<StoreData>, releaseLock: () => void, readOnly: string | null, opts: PersistenceOptions) {
    this.db = db;
    this.file = file;
    this.releaseLock = releaseLock;
    this.readOnly = readOnly;
    this.opts = { ...opts, flushDelayMs: opts.flushDelayMs ?? 1000 };
  }

  /**
   * Creates (0700) and locks DATA_DIR and reads connexa.json, migrated and validated; throws
   * StoreFileCorrupt (never overwriting) when it cannot be read. Nothing is written yet.
   */
  static async open(dataDir: string, options: PersistenceOptions, fresh: () => StoreData): Promise<Opened> {
    try {
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new StoreOpenError(`the data directory ${dataDir} cannot be created: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const readOnly = await notWritable(dataDir);
    if (!readOnly) {
      await chmod(dataDir, 0o700).catch((err: NodeJS.ErrnoException) => {
        throw new StoreOpenError(`the data directory ${dataDir} cannot be made private (chmod 0700): ${err.code ?? err.message}`);
      });
    }
    const lock = await acquireLock(dataDir, { writeInfo: !readOnly });
    const release = () => lock.release();
    try {
      // A crash in the middle of a write leaves its temp file; the real file is intact (rename is atomic).
      for (const name of readOnly ? [] : await readdir(dataDir)) {
        if (/^\.connexa\.json\.\d+\.tmp$/.test(name)) await unlink(join(dataDir, name)).catch(() => {});
      }
      let migratedFrom: number | null = null;
      const path = join(dataDir, 'connexa.json');
      let persistence: Persistence | null = null;
      const file = new AtomicJsonFile<StoreData>(path, (raw) => {
        const migrated = migrate(raw);
        if (!migrated.ok) throw new StoreFileCorrupt(`${path} cannot be read: ${migrated.reason}; it was left untouched`);
        migratedFrom = migrated.migratedFrom;
        const inlined = inlinePlaces(migrated.data);
        if (!inlined.ok) throw new StoreFileCorrupt(`${path} cannot be read: ${inlined.reason}; it was left untouched`);
        const parsed = storeSchema.safeParse(inlined.data);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new StoreFileCorrupt(`${path} does not match the store schema at ${issue?.path.join('.') || '(top)'}: ${issue?.message}; it was left untouched`);
        }
        return parsed.data;
      }, (data) => persistence!.serialize(data));
      if (options.readChunkBytes) file.readChunkBytes = options.readChunkBytes;
      const existing = await file.read();
      const db = new Low<StoreData>(file, existing ?? fresh());
      persistence = new Persistence(db, file, release, readOnly, options);
      return { persistence, data: db.data, created: existing === null, migratedFrom };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** How many times the file has been written since open. */
  get writeCount(): number {
    return this.file.writes;
  }

  /** The data changed: a write follows within flushDelayMs (coalesced with whatever else changes). */
  changed(): void {
    this.dirty = true;
    if (this.timer || this.closed || this.readOnly) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush().catch(() => {
        // Reported through onWriteError; retry on the next change or a later timer.
        if (!this.closed && !this.timer) {
          this.timer = setTimeout(() => {
            this.timer = null;
            this.changed();
          }, RETRY_MS);
          this.timer.unref?.();
        }
      });
    }, this.opts.flushDelayMs);
    this.timer.unref?.();
  }

  /** Called before a node is changed: a write in progress keeps the node as it was when it began. */
  nodeWillChange(node: FleetNode): void {
    if (this.snapshot?.pending.delete(node)) this.snapshot.captured.set(node, this.nodeText(node));
    this.nodeJson.delete(node);
  }

  /** Writes now if anything changed; resolves when what was in memory at the call is on disk. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.writing) await this.writing;
    if (!this.dirty || this.readOnly) return;
    this.dirty = false;
    const began = performance.now();
    this.writing = this.db.write().then(
      () => {
        publish('store.write', { seconds: (performance.now() - began) / 1000, ok: true });
        if (this.lastWriteError) {
          this.lastWriteError = null;
          this.opts.onWriteOk?.();
        }
      },
      (err: Error) => {
        this.snapshot = null; // a write that failed before streaming never reached its own cleanup
        publish('store.write', { seconds: (performance.now() - began) / 1000, ok: false });
        this.dirty = true;
        this.lastWriteError = err;
        this.opts.onWriteError?.(err);
        throw err;
      },
    );
    try {
      await this.writing;
    } finally {
      this.writing = null;
    }
  }

  /** Flushes and releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.flush();
    } finally {
      this.releaseLock();
    }
  }

  /** Releases the lock without writing (an open that failed after the file was read). */
  abandon(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.releaseLock();
  }

  /**
   * The file's text in chunks, as it was when the write began: everything but the nodes is taken
   * at once; nodes come from the cache, or from a copy taken just before they changed
   * (nodeWillChange), or are serialised when their chunk is reached if they have not changed.
   * The event loop runs between chunks. Joined, the chunks parse to exactly `data`.
   */
  private serialize(data: StoreData): AsyncIterable<string> {
    const { nodes: live, audit, ...rest } = data;
    const nodes = live.slice();
    const texts = nodes.map((n) => this.nodeJson.get(n));
    const snapshot: Snapshot = { pending: new Set(nodes.filter((_, i) => texts[i] === undefined)), captured: new Map() };
    const auditText = audit.map((a) => {
      let t = this.auditJson.get(a);
      if (t === undefined) this.auditJson.set(a, (t = JSON.stringify(a)));
      return t;
    });
    // One audit entry and one node per line: the reader (json-stream.ts) parses such a line whole.
    const head = `${JSON.stringify(rest).slice(0, -1)},"audit":[\n${auditText.join(',\n')}\n],"nodes":[\n`;
    this.snapshot = snapshot;
    return this.streamNodes(head, nodes, texts, snapshot);
  }

  /** A node's line in the file: its places as indexes into the table, escaped to Latin-1. */
  private nodeText(n: FleetNode): string {
    return latin1Json(this.places.nodeJson(n));
  }

  private async *streamNodes(head: string, nodes: FleetNode[], texts: Array<string | undefined>, snapshot: Snapshot): AsyncGenerator<string> {
    try {
      yield head;
      for (let i = 0; i < nodes.length; i += NODES_PER_CHUNK) {
        const parts: string[] = [];
        for (let j = i; j < Math.min(nodes.length, i + NODES_PER_CHUNK); j++) {
          const n = nodes[j]!;
          let text = texts[j] ?? snapshot.captured.get(n);
          if (text === undefined) {
            // Unchanged since the write began: its current state is the snapshot's.
            text = this.nodeText(n);
            snapshot.pending.delete(n);
            this.nodeJson.set(n, text);
          }
          parts.push(text);
        }
        yield (i ? ',\n' : '') + parts.join(',\n');
        await new Promise((r) => setImmediate(r));
      }
      // Last: by now it holds every place the nodes above refer to (it only grows).
      yield `\n],"places":[\n${this.places.elements().join(',\n')}\n]}\n`;
    } finally {
      if (this.snapshot === snapshot) this.snapshot = null;
    }
  }
}

/** Why `dir` cannot be written (EROFS, EACCES), or null when it can. */
async function notWritable(dir: string): Promise<string | null> {
  try {
    await access(dir, constants.W_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return code;
    throw err;
  }
}

/** Nodes per chunk of the file: ~0.5 MB of text, serialised in a few milliseconds. */
const NODES_PER_CHUNK = 1000;

/** What a write in progress must still capture: nodes whose JSON was not cached when it began. */
interface Snapshot {
  pending: Set<FleetNode>;
  captured: Map<FleetNode, string>;
}
