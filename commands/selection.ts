import { createHash } from 'node:crypto';
import { plural } from '../src/chat/render.ts';
import type { CommandInput } from '../src/chat/command.ts';
import { describeFilter, isEmptyFilter, selectNodes, type Filter } from '../src/fleet/filter.ts';
import type { FleetNode } from '../src/fleet/node.ts';
import { splitByStatus, type Action } from '../src/fleet/status-machine.ts';

export interface Selection {
  /** The selected nodes `action` may run on (all selected nodes when there is no action). */
  runnable: FleetNode[];
  /** How many selected nodes it may not run on, by status. */
  refused: Record<string, number>;
  /** The selection as typed, or described when the command chose it. */
  words: string;
}

/**
 * The nodes a command acts on: its filter, or `fallback` when none was typed (keeping `limit:`),
 * split by the status machine into those `action` may run on and a count of the others by status.
 */
export function selectFor(fleet: { nodes(): readonly FleetNode[] }, action: Action | null, input: CommandInput<unknown>, fallback?: Filter): Selection {
  const filter = fallback && isEmptyFilter(input.filter) ? { ...fallback, limit: input.filter.limit } : input.filter;
  const nodes = selectNodes(fleet.nodes(), filter);
  return { ...(action ? splitByStatus(action, nodes) : { runnable: nodes, refused: {} }), words: input.filterText || describeFilter(filter) };
}

/** `3 ping_failed, 1 online`: the refused nodes of a selection, by status. */
export function byStatus(refused: Record<string, number>): string {
  return Object.entries(refused).map(([s, n]) => `${n} ${s}`).join(', ');
}

/** A short code that names exactly this set of nodes: a confirmation is void once the set changes. */
export function selectionCode(nodes: readonly FleetNode[]): string {
  const h = createHash('sha256');
  for (const n of nodes) h.update(`${n.id}\n`);
  return h.digest('hex').slice(0, 6);
}

/**
 * The preview of a command that cannot be undone (delete, stop): how many nodes by status, and a
 * code tied to exactly that set. Null when nothing is selected (the command's run explains).
 */
export function preview(nodes: readonly FleetNode[], input: CommandInput<unknown>, does: string): { code: string; summary: string } | null {
  if (!nodes.length) return null;
  const counts = new Map<string, number>();
  for (const n of nodes) counts.set(n.status, (counts.get(n.status) ?? 0) + 1);
  const parts = [...counts].map(([s, c]) => `${c} ${s}`).join(', ');
  return { code: selectionCode(nodes), summary: `This ${does.replace('{n}', `${plural(nodes.length, 'node')} (${parts}) selected by ${selectionWords(input)}`)}` };
}

export function selectionWords(input: CommandInput<unknown>): string {
  return describeFilter(input.filter);
}
