import type { App } from '../src/app.ts';
import type { FleetNode } from '../src/fleet/node.ts';

/** The nodes an `<ip|id>` argument names: an id is one node; an ip may hold several accounts. */
export function nodesNamed(app: App, target: string): FleetNode[] {
  const byId = app.store.get(target);
  if (byId) return [byId];
  return [...app.store.onIp(target)];
}
