import type { FleetNode, NodeFields } from '../fleet/node.ts';
import { locateForImport } from '../geo/import-locator.ts';
import { addressOf, inAddressOrder, positionOf } from '../geo/address-order.ts';
import { isUnroutedV4 } from '../geo/ip-database.ts';
import type { GeoLocation, Locate } from '../geo/location.ts';
import { ipToInt } from '../fleet/filter.ts';
import { publish } from '../ops/events.ts';
import type { Store } from './store.ts';

export interface ImportOptions {
  /** Where each added or updated node's IP really is; null: do not locate (benchmarks). Default: the local IP database (locateForImport). */
  locate?: Locate | null;
}

export interface ImportCounts {
  added: number;
  updated: number;
  duplicate: number;
}

/** One account (ip + login) given several passwords within one file; the last line wins. */
export interface ImportConflict {
  ip: string;
  login: string;
  /** The lines that gave a different password, in file order; the last one was kept. */
  lines: number[];
}

/**
 * The duplicate rules of DESIGN.md: the same ip+login+password is a duplicate; the same ip+login with a
 * new password updates the password; the same ip with another login is another account (a new node).
 * Records are applied in file order, so a repeat within one file is a duplicate too, and a repeat with
 * another password is a conflict: the last line wins and the report says so (not a silent "updated").
 */
export function applyImport(
  store: Store,
  records: readonly (NodeFields & { line?: number })[],
  source: string,
  opts: ImportOptions = {},
): ImportResult {
  const a = new Applier(store, opts);
  for (const rec of records) a.take(rec);
  return a.finish(store.addNodes(a.toAdd, source));
}

export type ImportResult = ImportCounts & { addedNodes: FleetNode[]; updatedNodes: FleetNode[]; conflicts: ImportConflict[] };

/** How long one slice of applying may hold the event loop before it yields. */
const APPLY_SLICE_MS = 15;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Imports into one store run one after another, so their slices never interleave. */
const running = new WeakMap<Store, Promise<unknown>>();

/**
 * applyImport in slices of about APPLY_SLICE_MS, yielding to the event loop between them (a
 * 100,000-line import otherwise holds it for seconds). Same rules and result as applyImport.
 */
export function applyImportSliced(store: Store, records: readonly (NodeFields & { line?: number })[], source: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const before = running.get(store) ?? Promise.resolve();
  const mine = before.catch(() => undefined).then(async () => {
    const a = new Applier(store, opts);
    let until = performance.now() + APPLY_SLICE_MS;
    // Checked every 256 records, and awaited only when the slice is used up (an await per record costs).
    const due = (i: number) => (i & 255) === 255 && performance.now() > until;
    const pause = async () => {
      await yieldToLoop();
      until = performance.now() + APPLY_SLICE_MS;
    };
    // Off the main thread when the locator can (started now, beside the pass below, awaited after
    // it); else located first, here.
    const offThread = a.locate?.many ? locateOffThread(a.locate, records) : null;
    offThread?.catch(() => {}); // awaited below; a pass that throws first must not leave it unhandled
    if (a.locate && !offThread) a.located = await locateHere(a.locate, records, due, pause);
    a.deferGeo = offThread !== null;
    for (let i = 0; i < records.length; i++) {
      if (due(i)) await pause();
      a.take(records[i]!, i);
    }
    if (offThread) {
      let located: readonly GeoLocation[];
      try {
        located = await offThread;
      } catch (err) {
        // The thread failed (it is started again next time): this import is located here instead.
        publish('geo.fallback', { reason: (err as Error).message });
        located = await locateHere(a.locate!, records, due, pause);
      }
      a.fillGeo(located);
    }
    const added: FleetNode[] = [];
    for (let i = 0; i < a.toAdd.length; i += 2000) {
      if (i) await yieldToLoop();
      added.push(...store.addNodes(a.toAdd.slice(i, i + 2000), source));
    }
    return a.finish(added);
  });
  running.set(store, mine);
  return mine;
}

/** NodeFields with every key present (the compiler then names a field a copy would leave out). */
type EveryField = { [K in keyof Required<NodeFields>]: NodeFields[K] };

/**
 * The duplicate rules, one record at a time. Records are applied in file order, so a repeat within
 * one file is a duplicate too, and a repeat with another password is a conflict: the last line wins
 * and the report says so (not a silent "updated").
 */
class Applier {
  readonly counts: ImportCounts = { added: 0, updated: 0, duplicate: 0 };
  readonly toAdd: NodeFields[] = [];
  // Accounts added earlier in this same file, keyed ip + login (they are not in the store yet).
  private readonly pending = new Map<string, NodeFields>();
  // Every account seen in this file: the password it was last given, and its conflict if any.
  private readonly seen = new Map<string, { password: string; conflict: ImportConflict | null; line: number }>();
  private readonly conflicts: ImportConflict[] = [];
  private readonly updatedNodes: FleetNode[] = [];
  private readonly updatedIds = new Set<string>();
  private readonly store: Store;
  readonly locate: Locate | null;
  /** Located beforehand, by record index (applyImportSliced); looked up one by one otherwise. */
  located: GeoLocation[] | null = null;
  /** Locations come after the pass (fillGeo): added copies and updated nodes wait for theirs. */
  deferGeo = false;
  private readonly copyRecord: number[] = [];
  private readonly geoLater: Array<[node: FleetNode, record: number]> = [];
  private index = -1;

  constructor(store: Store, opts: ImportOptions) {
    this.store = store;
    this.locate = opts.locate === undefined ? locateForImport : opts.locate;
  }

  /** The located fields for an IP (a file's claim never goes here); none yet when they come later. */
  private geoOf(ip: string, node: FleetNode): Pick<NodeFields, 'geo'> {
    if (!this.locate) return {};
    if (this.deferGeo) {
      this.geoLater.push([node, this.index]);
      return {};
    }
    return { geo: this.located?.[this.index] ?? this.locate(ip) };
  }

  /** The locations by record index, once they have come: into the added copies and updated nodes. */
  fillGeo(located: readonly GeoLocation[]): void {
    for (let k = 0; k < this.toAdd.length; k++) this.toAdd[k]!.geo = located[this.copyRecord[k]!]!;
    for (const [node, i] of this.geoLater) if (this.store.get(node.id) === node) this.store.patchNode(node.id, { geo: located[i]! });
  }

  take(rec: NodeFields & { line?: number }, index = -1): void {
    this.index = index;
    const { counts, store } = this;
    const key = `${rec.ip}\u0000${rec.login}`;
    const line = rec.line ?? 0;
    const before = this.seen.get(key);
    if (before) {
      if (before.password === rec.password) {
        counts.duplicate++;
        return;
      }
      if (!before.conflict) {
        before.conflict = { ip: rec.ip, login: rec.login, lines: [before.line] };
        this.conflicts.push(before.conflict);
      }
      before.conflict.lines.push(line);
      before.password = rec.password;
      const earlier = this.pending.get(key);
      if (earlier) earlier.password = rec.password;
      else {
        const existing = store.onIp(rec.ip).find((n) => n.login === rec.login);
        if (existing && existing.password !== rec.password) {
          store.patchNode(existing.id, { password: rec.password, ...this.geoOf(rec.ip, existing) });
          this.updated(existing);
        }
      }
      return;
    }
    this.seen.set(key, { password: rec.password, conflict: null, line });
    const existing = store.onIp(rec.ip).find((n) => n.login === rec.login);
    if (!existing) {
      // Without `line`, as one literal with every field, the location included: `delete` made each of
      // 100,000 copies a slow dictionary-mode object, and `geo` added to a rest copy gave each one a
      // second allocation for the extra property (measured: 50 ms per 100,000 located lines).
      const copy: EveryField = {
        ip: rec.ip,
        port: rec.port,
        login: rec.login,
        password: rec.password,
        provider: rec.provider,
        country: rec.country,
        state: rec.state,
        city: rec.city,
        zip: rec.zip,
        comment: rec.comment,
        // null until fillGeo when located off the main thread (same shape: no field added later).
        geo: !this.locate ? rec.geo : this.deferGeo ? null : (this.located?.[this.index] ?? this.locate(rec.ip)),
      };
      this.pending.set(key, copy);
      this.toAdd.push(copy);
      this.copyRecord.push(this.index);
    } else if (existing.password === rec.password) {
      counts.duplicate++;
    } else {
      store.patchNode(existing.id, { password: rec.password, ...this.geoOf(rec.ip, existing) });
      this.updated(existing);
      counts.updated++;
    }
  }

  private updated(node: FleetNode): void {
    if (this.updatedIds.has(node.id)) return;
    this.updatedIds.add(node.id);
    this.updatedNodes.push(node);
  }

  finish(addedNodes: FleetNode[]): ImportResult {
    return { ...this.counts, added: addedNodes.length, addedNodes, updatedNodes: this.updatedNodes, conflicts: this.conflicts };
  }
}

/** How many new accounts (ip + login not in the store, counted once) `records` would add. */
export function countNewAccounts(store: Store, records: readonly NodeFields[]): number {
  const seen = new Set<string>();
  for (const rec of records) {
    const key = `${rec.ip}\u0000${rec.login}`;
    if (seen.has(key) || store.onIp(rec.ip).some((n) => n.login === rec.login)) continue;
    seen.add(key);
  }
  return seen.size;
}

/**
 * Applies an import and waits until it is on disk, so that a reply saying "imported" is true even
 * if the process dies right after it. When the write fails (disk full, read-only) the import is
 * taken back out of memory and the error returned: it is reported as not done, and a later retry of
 * the store's write does not bring it back behind the operator's back.
 */
export async function applyImportDurably(
  store: Store,
  records: readonly (NodeFields & { line?: number })[],
  source: string,
  opts: ImportOptions = {},
): Promise<{ ok: true; applied: ImportResult } | { ok: false; error: Error }> {
  const before = new Map<FleetNode, string>();
  for (const rec of records) for (const n of store.onIp(rec.ip)) if (n.login === rec.login) before.set(n, n.password);
  const applied = await applyImportSliced(store, records, source, opts);
  try {
    await store.flush();
    return { ok: true, applied };
  } catch (err) {
    store.deleteNodes(applied.addedNodes.map((n) => n.id));
    for (const n of applied.updatedNodes) {
      const old = before.get(n);
      if (old !== undefined && store.get(n.id) === n) store.patchNode(n.id, { password: old });
    }
    return { ok: false, error: err as Error };
  }
}

/**
 * Every record's location on the locator's own thread, by record index; a record whose address is not
 * IPv4 is located here. Null when no address needs the database (private and reserved blocks are
 * answered here without opening it), or the batch is small: not worth a thread.
 */
function locateOffThread(locate: Locate, records: readonly { ip: string }[]): Promise<readonly GeoLocation[]> | null {
  if (records.length < OFF_THREAD_MIN) return null;
  const ips = new Uint32Array(records.length);
  const others: number[] = [];
  let routed = false;
  for (let i = 0; i < records.length; i++) {
    const n = ipToInt(records[i]!.ip);
    if (n === null) others.push(i);
    else {
      ips[i] = n;
      routed ||= !isUnroutedV4(n);
    }
  }
  if (!routed) return null;
  return locate.many!(ips).then((located) => {
    if (!others.length) return located;
    const all = located.slice();
    for (const i of others) all[i] = locate(records[i]!.ip);
    return all;
  });
}

/** Below this many records an import is located on the main thread (a few ms). */
const OFF_THREAD_MIN = 256;

/**
 * Every record's location on this thread, in address order (address-order.ts; an address that is not
 * IPv4 sorts after every IPv4 one). Yields to the event loop as the apply does.
 */
async function locateHere(locate: Locate, records: readonly { ip: string }[], due: (i: number) => boolean, pause: () => Promise<void>): Promise<GeoLocation[]> {
  const located = new Array<GeoLocation>(records.length);
  const addresses = new Float64Array(records.length);
  for (let i = 0; i < records.length; i++) addresses[i] = ipToInt(records[i]!.ip) ?? 2 ** 32;
  const keys = inAddressOrder(addresses);
  for (let k = 0; k < records.length; k++) {
    if (due(k)) await pause();
    const n = keys ? addressOf(keys[k]!) : addresses[k]!;
    const i = keys ? positionOf(keys[k]!) : k;
    located[i] = n < 2 ** 32 && locate.v4 ? locate.v4(n) : locate(records[i]!.ip);
  }
  return located;
}
