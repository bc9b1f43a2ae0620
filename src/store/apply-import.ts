import type { FleetNode, NodeFields } from '../fleet/node.ts';
import type { Store } from './store.ts';

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
): ImportCounts & { addedNodes: FleetNode[]; updatedNodes: FleetNode[]; conflicts: ImportConflict[] } {
  const counts: ImportCounts = { added: 0, updated: 0, duplicate: 0 };
  const toAdd: NodeFields[] = [];
  // Accounts added earlier in this same file, keyed ip + login (they are not in the store yet).
  const pending = new Map<string, NodeFields>();
  // Every account seen in this file: the password it was last given, and its conflict if any.
  const seen = new Map<string, { password: string; conflict: ImportConflict | null; line: number }>();
  const conflicts: ImportConflict[] = [];
  const updatedNodes: FleetNode[] = [];
  const updatedIds = new Set<string>();
  for (const rec of records) {
    const key = `${rec.ip}\u0000${rec.login}`;
    const line = rec.line ?? 0;
    const before = seen.get(key);
    if (before) {
      if (before.password === rec.password) {
        counts.duplicate++;
        continue;
      }
      if (!before.conflict) {
        before.conflict = { ip: rec.ip, login: rec.login, lines: [before.line] };
        conflicts.push(before.conflict);
      }
      before.conflict.lines.push(line);
      before.password = rec.password;
      const earlier = pending.get(key);
      if (earlier) earlier.password = rec.password;
      else {
        const existing = store.onIp(rec.ip).find((n) => n.login === rec.login);
        if (existing && existing.password !== rec.password) {
          store.patchNode(existing.id, { password: rec.password });
          if (!updatedIds.has(existing.id)) {
            updatedIds.add(existing.id);
            updatedNodes.push(existing);
          }
        }
      }
      continue;
    }
    seen.set(key, { password: rec.password, conflict: null, line });
    const existing = store.onIp(rec.ip).find((n) => n.login === rec.login);
    if (!existing) {
      const copy = { ...rec };
      delete copy.line;
      pending.set(key, copy);
      toAdd.push(copy);
    } else if (existing.password === rec.password) {
      counts.duplicate++;
    } else {
      store.patchNode(existing.id, { password: rec.password });
      updatedIds.add(existing.id);
      updatedNodes.push(existing);
      counts.updated++;
    }
  }
  const addedNodes = store.addNodes(toAdd, source);
  counts.added = addedNodes.length;
  return { ...counts, addedNodes, updatedNodes, conflicts };
}
