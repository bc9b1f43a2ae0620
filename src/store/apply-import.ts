import type { FleetNode, NodeFields } from '../fleet/node.ts';
import type { Store } from './store.ts';

export interface ImportCounts {
  added: number;
  updated: number;
  duplicate: number;
}

/**
 * The duplicate rules of DESIGN.md: the same ip+login+password is a duplicate; the same ip+login with a
 * new password updates the password; the same ip with another login is another account (a new node).
 * Records are applied in file order, so a repeat within one file is a duplicate too.
 */
export function applyImport(store: Store, records: readonly NodeFields[], source: string): ImportCounts & { addedNodes: FleetNode[]; updatedNodes: FleetNode[] } {
  const counts: ImportCounts = { added: 0, updated: 0, duplicate: 0 };
  const toAdd: NodeFields[] = [];
  // Accounts added earlier in this same file, keyed ip + login (they are not in the store yet).
  const pending = new Map<string, NodeFields>();
  const updatedNodes: FleetNode[] = [];
  for (const rec of records) {
    const key = `${rec.ip}\u0000${rec.login}`;
    const earlier = pending.get(key);
    if (earlier) {
      if (earlier.password === rec.password) counts.duplicate++;
      else {
        earlier.password = rec.password;
        counts.updated++;
      }
      continue;
    }
    const existing = store.onIp(rec.ip).find((n) => n.login === rec.login);
    if (!existing) {
      const copy = { ...rec };
      pending.set(key, copy);
      toAdd.push(copy);
    } else if (existing.password === rec.password) {
      counts.duplicate++;
    } else {
      store.patchNode(existing.id, { password: rec.password });
      updatedNodes.push(existing);
      counts.updated++;
    }
  }
  const addedNodes = store.addNodes(toAdd, source);
  counts.added = addedNodes.length;
  return { ...counts, addedNodes, updatedNodes };
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
  records: readonly NodeFields[],
  source: string,
): Promise<{ ok: true; applied: ReturnType<typeof applyImport> } | { ok: false; error: Error }> {
  const before = new Map<FleetNode, string>();
  for (const rec of records) for (const n of store.onIp(rec.ip)) if (n.login === rec.login) before.set(n, n.password);
  const applied = applyImport(store, records, source);
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
