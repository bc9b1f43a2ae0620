import { createHash } from 'node:crypto';
import type { CommandInput } from '../src/chat/command.ts';
import { describeFilter, isEmptyFilter, selectNodes } from '../src/fleet/filter.ts';
import type { FleetNode } from '../src/fleet/node.ts';
import type { Store } from '../src/store/store.ts';

/**
 * Commands that change many nodes refuse an empty filter: `reset` or `delete` with nothing after it
 * is far more often a slip than a wish. `all` says it on purpose.
 */
export function requireSelection(input: CommandInput<unknown>, command: string): string | null {
  return isEmptyFilter(input.filter) ? `${command} needs a filter (e.g. \`${command} status:ping_failed\`), or \`all\` to mean every node` : null;
}

export function selected(store: Store, input: CommandInput<unknown>): FleetNode[] {
  return selectNodes(store.nodes(), input.filter);
}

/** A short code that names exactly this set of nodes: a confirmation is void once the set changes. */
export function selectionCode(nodes: readonly FleetNode[]): string {
  const h = createHash('sha256');
  for (const n of nodes) h.update(`${n.id}\n`);
  return h.digest('hex').slice(0, 6);
}

export function selectionWords(input: CommandInput<unknown>): string {
  return describeFilter(input.filter);
}
