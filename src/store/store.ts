import { HISTORY_LIMIT, newNode, type FleetNode, type NodeFields, type Status } from '../fleet/node.ts';
import type { GeoLocation } from '../geo/location.ts';
import { isLegalChange } from '../fleet/status-machine.ts';
import { StoreFileCorrupt, StoreOpenError } from './atomic-file.ts';
import { Persistence, type PersistenceOptions } from './persistence.ts';
import { placeKey } from './places.ts';
import { AUDIT_LIMIT, emptyStore, type AuditEntry, type JobRecord, type StoreData } from './schema.ts';

export { StoreFileCorrupt, StoreOpenError };

export interface StoreOptions extends PersistenceOptions {
  now?: () => string;
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

/** What open() found: jobs it marked interrupted, the version it migrated from, a new file. */
export interface OpenReport {
  interruptedJobs: string[];
  migratedFrom: number | null;
  created: boolean;
}

/**
 * The one store: nodes (indexed by id and ip), jobs, the audit trail and settings, held in memory.
 * Writing them to disk, atomically and coalesced, is persistence.ts's; every change here tells it,
 * and a node is announced before it changes (its cached JSON goes stale). So whatever changes a
 * record must go through this class: what it hands out is for reading.
 */
export class Store {
  private readonly byId = new Map<string, FleetNode>();
  /** ip -> nodes on that ip (several accounts can share an address). */
  private readonly byIp = new Map<string, FleetNode[]>();

  private readonly data: StoreData;
  private readonly file: Persistence;
  private readonly now: () => string;
  readonly openReport: OpenReport;
  private constructor(data: StoreData, file: Persistence, now: () => string, openReport: OpenReport) {
    this.data = data;
    this.file = file;
    this.now = now;
    this.openReport = openReport;
    const places = new Map<string, GeoLocation>();
    for (const node of data.nodes) {
      // The schema's parse copied every location: share one per place again, as an import does.
      if (node.geo) node.geo = shared(places, node.geo);
      if (node.speed?.exitGeo) node.speed.exitGeo = shared(places, node.speed.exitGeo);
      this.index(node);
    }
  }

  /** Opens DATA_DIR/connexa.json; throws StoreFileCorrupt (never overwriting) when it cannot be read. */
  static async open(dataDir: string, options: StoreOptions = {}): Promise<Store> {
    const now = options.now ?? (() => new Date().toISOString());
    const { persistence, data, created, migratedFrom } = await Persistence.open(dataDir, options, () => emptyStore(now()));
    try {
      const interrupted: string[] = [];
      for (const job of data.jobs) {
        if (job.state === 'running') {
          job.state = 'interrupted';
          job.finishedAt = now();
          job.note = `interrupted by a restart after ${job.done} of ${job.total}`;
          interrupted.push(job.id);
        }
      }
      const store = new Store(data, persistence, now, { interruptedJobs: interrupted, migratedFrom, created });
      if (!persistence.readOnly && (created || interrupted.length > 0 || migratedFrom !== null)) {
        persistence.changed();
        await persistence.flush();
      }
      return store;
    } catch (err) {
      persistence.abandon();
      throw err;
    }
  }

  /**
   * Set when DATA_DIR cannot be written (a read-only mount, no permission): the store is read and
   * served, changes stay in memory and are never written; commands that change data are refused.
   */
  get readOnly(): string | null {
    return this.file.readOnly;
  }

  /** The last write's error while writes fail; null once one succeeds. */
  get lastWriteError(): Error | null {
    return this.file.lastWriteError;
  }

  /** How many times the file has been written since open. */
  get writeCount(): number {
    return this.file.writeCount;
  }

  // ---- nodes ----

  nodes(): readonly FleetNode[] {
    return this.data.nodes;
  }

  get(id: string): FleetNode | undefined {
    return this.byId.get(id);
  }

  onIp(ip: string): readonly FleetNode[] {
    return this.byIp.get(ip) ?? [];
  }

  /** Adds nodes (status not_tested) and returns them with their new ids. */
  addNodes(fields: readonly NodeFields[], importedFrom: string | null): FleetNode[] {
    const now = this.now();
    const added: FleetNode[] = [];
    for (const f of fields) {
      const node = newNode(`n${this.data.meta.nextNodeId++}`, f, importedFrom, now);
      this.data.nodes.push(node);
      this.index(node);
      added.push(node);
    }
    if (added.length) this.file.changed();
    return added;
  }

  /** Changes fields that are not the status (probe details, credentials, location). */
  patchNode(id: string, patch: NodePatch): FleetNode | undefined {
    const node = this.byId.get(id);
    if (!node) return undefined;
    this.file.nodeWillChange(node);
    Object.assign(node, patch, { updatedAt: this.now() });
    this.file.changed();
    return node;
  }

  /**
   * Compare-and-set on status. When the node is no longer in `from`, the result is recorded in its
   * history (applied: false) and nothing else changes, so a stale result never overwrites a newer status.
   */
  transition(req: TransitionRequest): TransitionOutcome {
    const node = this.byId.get(req.id);
    if (!node) return { ok: false, why: 'not_found' };
    this.file.nodeWillChange(node);
    const at = this.now();
    if (node.status !== req.from) {
      this.pushHistory(node, { from: req.from, to: req.to, reason: `${req.reason} (not applied: node was ${node.status})`, actor: req.actor, at, applied: false });
      this.file.changed();
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
    this.file.changed();
    return { ok: true, node, changed };
  }

  /**
   * Removes nodes; the caller stops services of online nodes first. Nodes `isBusy` names (held by a
   * running job: pipeline/leases.ts) are kept and come back as busy.
   */
  deleteNodes(ids: readonly string[], isBusy: (id: string) => boolean = () => false): { deleted: string[]; busy: string[] } {
    const drop = new Set<string>();
    const busy: string[] = [];
    for (const id of ids) {
      if (!this.byId.has(id)) continue;
      if (isBusy(id)) busy.push(id);
      else drop.add(id);
    }
    if (drop.size) {
      this.data.nodes = this.data.nodes.filter((n) => !drop.has(n.id));
      for (const id of drop) {
        const node = this.byId.get(id)!;
        this.byId.delete(id);
        const same = (this.byIp.get(node.ip) ?? []).filter((n) => n.id !== id);
        if (same.length) this.byIp.set(node.ip, same);
        else this.byIp.delete(node.ip);
      }
      this.file.changed();
    }
    return { deleted: [...drop], busy };
  }

  // ---- jobs ----

  createJob(job: Omit<JobRecord, 'id' | 'createdAt' | 'finishedAt' | 'state' | 'done' | 'counts' | 'note'>): Readonly<JobRecord> {
    const record: JobRecord = { ...job, id: `j${this.data.meta.nextJobId++}`, state: 'running', createdAt: this.now(), finishedAt: null, done: 0, counts: {}, note: null };
    this.data.jobs.push(record);
    // Keep the jobs list bounded: the newest 500 finished jobs are plenty for `jobs`.
    if (this.data.jobs.length > 600) {
      const running = this.data.jobs.filter((j) => j.state === 'running');
      const finished = this.data.jobs.filter((j) => j.state !== 'running').slice(-500);
      this.data.jobs = [...finished, ...running];
    }
    this.file.changed();
    return record;
  }

  updateJob(id: string, patch: Partial<Omit<JobRecord, 'id'>>): Readonly<JobRecord> | undefined {
    const job = this.findJob(id);
    if (!job) return undefined;
    Object.assign(job, patch);
    this.file.changed();
    return job;
  }

  /** A running job's progress: copied into its record, written with the next coalesced flush. */
  recordJobProgress(id: string, progress: { done: number; counts: Readonly<Record<string, number>> }): void {
    const job = this.findJob(id);
    if (!job) return;
    job.done = progress.done;
    job.counts = { ...progress.counts };
    this.file.changed();
  }

  private findJob(id: string): JobRecord | undefined {
    // The running jobs are the newest: search from the end.
    const jobs = this.data.jobs;
    for (let i = jobs.length - 1; i >= 0; i--) if (jobs[i]!.id === id) return jobs[i];
    return undefined;
  }

  jobs(): ReadonlyArray<Readonly<JobRecord>> {
    return this.data.jobs;
  }

  // ---- audit trail ----

  appendAudit(entry: AuditEntry): void {
    const audit = this.data.audit;
    audit.push(entry);
    if (audit.length > AUDIT_LIMIT + 500) audit.splice(0, audit.length - AUDIT_LIMIT);
    this.file.changed();
  }

  audit(): readonly AuditEntry[] {
    return this.data.audit;
  }

  // ---- settings (alert channel, monitor on/off, ...) ----

  setting<T>(key: string): T | undefined {
    return this.data.settings[key] as T | undefined;
  }

  setSetting(key: string, value: unknown): void {
    this.data.settings[key] = value;
    this.file.changed();
  }

  // ---- persistence ----

  /** Writes now if anything changed; resolves when what was in memory at the call is on disk. */
  flush(): Promise<void> {
    return this.file.flush();
  }

  /** Flushes and releases the lock. */
  close(): Promise<void> {
    return this.file.close();
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

/** One frozen object per distinct location (100,000 nodes in a few thousand places). */
function shared(places: Map<string, GeoLocation>, g: GeoLocation): GeoLocation {
  const key = placeKey(g);
  let one = places.get(key);
  if (!one) places.set(key, (one = Object.freeze(g)));
  return one;
}
