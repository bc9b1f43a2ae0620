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
