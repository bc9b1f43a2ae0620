import type { Store } from '../src/store/store.ts';
import type { FleetNode } from '../src/fleet/node.ts';

/** The nodes an `<ip|id>` argument names: an id is one node; an ip may hold several accounts. */
export function nodesNamed(store: Pick<Store, 'get' | 'onIp'>, target: string): FleetNode[] {
  const byId = store.get(target);
  if (byId) return [byId];
  return [...store.onIp(target)];
}
