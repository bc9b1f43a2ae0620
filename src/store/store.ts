import { constants } from 'node:fs';
import { access, chmod, mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { HISTORY_LIMIT, newNode, type FleetNode, type NodeFields, type Status } from '../fleet/node.ts';
import { isLegalChange } from '../fleet/status-machine.ts';
import { AtomicJsonFile, StoreFileCorrupt, StoreOpenError } from './atomic-file.ts';
import { acquireLock } from './lock.ts';
import { publish } from '../ops/events.ts';
import { migrate } from './migrations.ts';
import { AUDIT_LIMIT, emptyStore, storeSchema, type AuditEntry, type JobRecord, type StoreData } from './schema.ts';

export { StoreFileCorrupt, StoreOpenError };

export interface StoreOptions {
  /**
   * How long updates are gathered before one file write (coalescing); default 1 s. A crash loses at
   * most this much of what was done meanwhile, never what was written.
   */
  flushDelayMs?: number;
  /** Called when a write fails (disk full, read-only); the data stays in memory and is retried. */
  onWriteError?: (err: Error) => void;
  /** Called after a successful write that followed a failed one. */
  onWriteOk?: () => void;
  now?: () => string;
  /** Bytes per chunk when the file is read at open (tests make it tiny). */
  readChunkBytes?: number;
}

export type NodePatch = Partial<Omit<FleetNode, 'id' | 'status' | 'history' | 'createdAt'>>;

export interface TransitionRequest {
  id: string;
  /** The status the job saw when it started: the compare in compare-and-set. */
  from: Status;
  to: Status;
  patch?: NodePatch;
  reason: string;
  actor: string;
}

export type TransitionOutcome =
  | { ok: true; node: FleetNode; changed: boolean }
  | { ok: false; why: 'not_found' }
  | { ok: false; why: 'changed_meanwhile'; node: FleetNode }
  | { ok: false; why: 'illegal'; node: FleetNode; reason: string };

/**
 * The one store: a lowdb JSON file held in memory, indexed, written atomically and coalesced
 * (a burst of thousands of updates becomes a handful of writes).
 */
export class Store {
  /**
   * Each node's JSON text, kept until the node changes. A flush then re-serialises only what changed
   * since the last one: a full JSON.stringify of 15,000 nodes blocked the event loop for ~100 ms
   * every flush while a ping job ran (measured: `stats` p99 114 ms); this keeps it to a few ms.
   */
  private readonly byId = new Map<string, FleetNode>();
  /** ip -> nodes on that ip (several accounts can share an address). */
  private readonly byIp = new Map<string, FleetNode[]>();
  /** Node id -> id of the job that holds it (a node is in at most one running job). */
  private readonly leases = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private dirty = false;
  private closed = false;
  lastWriteError: Error | null = null;
  /**
   * Set when DATA_DIR cannot be written (a read-only mount, no permission): the store is read and
   * served, changes stay in memory and are never written; commands that change data are refused.
   */
  readOnly: string | null = null;

  /**
   * Each node's JSON text, kept until the node changes: a write re-serialises only what changed
   * since the last one. A full JSON.stringify of 15,000 nodes on every flush blocked the event loop
   * for ~100 ms while a ping job ran. Whatever changes a node must go through this class.
   */
  private readonly nodeJson = new WeakMap<FleetNode, string>();
  private readonly auditJson = new WeakMap<object, string>();
  /** Set while a write streams the file: changes made meanwhile must not leak into it. */
  private snapshot: Snapshot | null = null;

  private readonly db: Low<StoreData>;
  private readonly file: AtomicJsonFile<StoreData>;
  private readonly releaseLock: () => void;
  private readonly opts: Required<Pick<StoreOptions, 'flushDelayMs' | 'now'>> & Pick<StoreOptions, 'onWriteError' | 'onWriteOk'>;
  readonly openReport: { interruptedJobs: string[]; migratedFrom: number | null; created: boolean };
  private constructor(
    db: Low<StoreData>,
    file: AtomicJsonFile<StoreData>,
    releaseLock: () => void,
    opts: Required<Pick<StoreOptions, 'flushDelayMs' | 'now'>> & Pick<StoreOptions, 'onWriteError' | 'onWriteOk'>,
    /** What open() found: jobs it marked interrupted, the version it migrated from. */
    openReport: { interruptedJobs: string[]; migratedFrom: number | null; created: boolean },
  ) {
    this.db = db;
    this.file = file;
    this.releaseLock = releaseLock;
    this.opts = opts;
    this.openReport = openReport;
    for (const node of db.data.nodes) this.index(node);
  }

  /** Opens DATA_DIR/connexa.json; throws StoreFileCorrupt (never overwriting) when it cannot be read. */
  static async open(dataDir: string, options: StoreOptions = {}): Promise<Store> {
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
      const now = options.now ?? (() => new Date().toISOString());
      let migratedFrom: number | null = null;
      const path = join(dataDir, 'connexa.json');
      let store: Store | null = null;
      const file = new AtomicJsonFile<StoreData>(path, (raw) => {
        const migrated = migrate(raw);
        if (!migrated.ok) throw new StoreFileCorrupt(`${path} cannot be read: ${migrated.reason}; it was left untouched`);
        migratedFrom = migrated.migratedFrom;
        const parsed = storeSchema.safeParse(migrated.data);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new StoreFileCorrupt(`${path} does not match the store schema at ${issue?.path.join('.') || '(top)'}: ${issue?.message}; it was left untouched`);
        }
        return parsed.data;
      }, (data) => store!.serialize(data));
      if (options.readChunkBytes) file.readChunkBytes = options.readChunkBytes;
      const db = new Low<StoreData>(file, emptyStore(now()));
      const existing = await file.read();
      const created = existing === null;
      if (existing) db.data = existing;
      const interrupted: string[] = [];
      for (const job of db.data.jobs) {
        if (job.state === 'running') {
          job.state = 'interrupted';
          job.finishedAt = now();
          job.note = `interrupted by a restart after ${job.done} of ${job.total}`;
          interrupted.push(job.id);
        }
      }
      store = new Store(db, file, release, { flushDelayMs: options.flushDelayMs ?? 1000, now, onWriteError: options.onWriteError, onWriteOk: options.onWriteOk }, { interruptedJobs: interrupted, migratedFrom, created });
      store.readOnly = readOnly;
      if (!readOnly && (created || interrupted.length > 0 || migratedFrom !== null)) {
        store.dirty = true;
        await store.flush();
      }
      return store;
    } catch (err) {
      release();
      throw err;
    }
  }

  /** How many times the file has been written since open. */
  get writeCount(): number {
    return this.file.writes;
  }

  // ---- nodes ----

  nodes(): readonly FleetNode[] {
    return this.db.data.nodes;
  }

  get(id: string): FleetNode | undefined {
    return this.byId.get(id);
  }

  onIp(ip: string): readonly FleetNode[] {
    return this.byIp.get(ip) ?? [];
  }

  /** Adds nodes (status not_tested) and returns them with their new ids. */
  addNodes(fields: readonly NodeFields[], importedFrom: string | null): FleetNode[] {
    const now = this.opts.now();
    const added: FleetNode[] = [];
    for (const f of fields) {
      const node = newNode(`n${this.db.data.meta.nextNodeId++}`, f, importedFrom, now);
      this.db.data.nodes.push(node);
      this.index(node);
      added.push(node);
    }
    if (added.length) this.changed();
    return added;
  }

  /** Changes fields that are not the status (probe details, credentials, location). */
  patchNode(id: string, patch: NodePatch): FleetNode | undefined {
    const node = this.byId.get(id);
    if (!node) return undefined;
    this.beforeChange(node);
    Object.assign(node, patch, { updatedAt: this.opts.now() });
    this.changed();
    return node;
  }

  /**
   * Compare-and-set on status. When the node is no longer in `from`, the result is recorded in its
   * history (applied: false) and nothing else changes, so a stale result never overwrites a newer status.
   */
  transition(req: TransitionRequest): TransitionOutcome {
    const node = this.byId.get(req.id);
    if (!node) return { ok: false, why: 'not_found' };
    this.beforeChange(node);
    const at = this.opts.now();
    if (node.status !== req.from) {
      this.pushHistory(node, { from: req.from, to: req.to, reason: `${req.reason} (not applied: node was ${node.status})`, actor: req.actor, at, applied: false });
      this.changed();
      return { ok: false, why: 'changed_meanwhile', node };
    }
    if (req.from !== req.to && !isLegalChange(req.from, req.to)) {
      return { ok: false, why: 'illegal', node, reason: `${req.from} -> ${req.to} is not a transition of the status machine` };
    }
    if (req.patch) Object.assign(node, req.patch);
    node.updatedAt = at;
    const changed = node.status !== req.to;
    if (changed) {
      node.status = req.to;
      this.pushHistory(node, { from: req.from, to: req.to, reason: req.reason, actor: req.actor, at });
    }
    this.changed();
    return { ok: true, node, changed };
  }

  /** Removes nodes; the caller stops services of online nodes first. Leased nodes are not removed. */
  deleteNodes(ids: readonly string[]): { deleted: string[]; busy: string[] } {
    const drop = new Set<string>();
    const busy: string[] = [];
    for (const id of ids) {
      if (!this.byId.has(id)) continue;
      if (this.leases.has(id)) busy.push(id);
      else drop.add(id);
    }
    if (drop.size) {
      this.db.data.nodes = this.db.data.nodes.filter((n) => !drop.has(n.id));
      for (const id of drop) {
        const node = this.byId.get(id)!;
        this.byId.delete(id);
        const same = (this.byIp.get(node.ip) ?? []).filter((n) => n.id !== id);
        if (same.length) this.byIp.set(node.ip, same);
        else this.byIp.delete(node.ip);
      }
      this.changed();
    }
    return { deleted: [...drop], busy };
  }

  // ---- leases: a node is in at most one running job ----

  /** Takes the lease on each free node for `jobId`; nodes held by another job come back as busy. */
  lease(ids: readonly string[], jobId: string): { taken: string[]; busy: string[] } {
    const taken: string[] = [];
    const busy: string[] = [];
    for (const id of ids) {
      const holder = this.leases.get(id);
      if (holder !== undefined && holder !== jobId) busy.push(id);
      else {
        this.leases.set(id, jobId);
        taken.push(id);
      }
    }
    return { taken, busy };
  }

  release(ids: readonly string[], jobId: string): void {
    for (const id of ids) if (this.leases.get(id) === jobId) this.leases.delete(id);
  }

  leaseHolder(id: string): string | undefined {
    return this.leases.get(id);
  }

  // ---- jobs ----

  createJob(job: Omit<JobRecord, 'id' | 'createdAt' | 'finishedAt' | 'state' | 'done' | 'counts' | 'note'>): JobRecord {
    const record: JobRecord = { ...job, id: `j${this.db.data.meta.nextJobId++}`, state: 'running', createdAt: this.opts.now(), finishedAt: null, done: 0, counts: {}, note: null };
    this.db.data.jobs.push(record);
    // Keep the jobs list bounded: the newest 500 finished jobs are plenty for `jobs`.
    if (this.db.data.jobs.length > 600) {
      const running = this.db.data.jobs.filter((j) => j.state === 'running');
      const finished = this.db.data.jobs.filter((j) => j.state !== 'running').slice(-500);
      this.db.data.jobs = [...finished, ...running];
    }
    this.changed();
    return record;
  }

  updateJob(id: string, patch: Partial<Omit<JobRecord, 'id'>>): JobRecord | undefined {
    const job = this.db.data.jobs.find((j) => j.id === id);
    if (!job) return undefined;
    Object.assign(job, patch);
    this.changed();
    return job;
  }

  jobs(): readonly JobRecord[] {
    return this.db.data.jobs;
  }

  // ---- audit trail ----

  appendAudit(entry: AuditEntry): void {
    const audit = this.db.data.audit;
    audit.push(entry);
    if (audit.length > AUDIT_LIMIT + 500) audit.splice(0, audit.length - AUDIT_LIMIT);
    this.changed();
  }

  audit(): readonly AuditEntry[] {
    return this.db.data.audit;
  }

  // ---- settings (alert channel, monitor on/off, ...) ----

  setting<T>(key: string): T | undefined {
    return this.db.data.settings[key] as T | undefined;
  }

  setSetting(key: string, value: unknown): void {
    this.db.data.settings[key] = value;
    this.changed();
  }

  // ---- persistence ----

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

  private changed(): void {
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
          }, 5_000);
          this.timer.unref?.();
        }
      });
    }, this.opts.flushDelayMs);
    this.timer.unref?.();
  }

  /** Called before a node is changed: a write in progress keeps the node as it was when it began. */
  private beforeChange(node: FleetNode): void {
    if (this.snapshot?.pending.delete(node)) this.snapshot.captured.set(node, JSON.stringify(node));
    this.nodeJson.delete(node);
  }

  /**
   * The file's text in chunks, as it was when the write began: everything but the nodes is taken
   * at once; nodes come from the cache, or from a copy taken just before they changed
   * (beforeChange), or are serialised when their chunk is reached if they have not changed.
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
            text = JSON.stringify(n);
            snapshot.pending.delete(n);
            this.nodeJson.set(n, text);
          }
          parts.push(text);
        }
        yield (i ? ',\n' : '') + parts.join(',\n');
        await new Promise((r) => setImmediate(r));
      }
      yield '\n]}\n';
    } finally {
      if (this.snapshot === snapshot) this.snapshot = null;
    }
  }

  private index(node: FleetNode): void {
    this.byId.set(node.id, node);
    const list = this.byIp.get(node.ip);
    if (list) list.push(node);
    else this.byIp.set(node.ip, [node]);
  }

  private pushHistory(node: FleetNode, entry: FleetNode['history'][number]): void {
    node.history.push(entry);
    if (node.history.length > HISTORY_LIMIT) node.history.splice(0, node.history.length - HISTORY_LIMIT);
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
