/**
 * After a restart of the bot (or of a gateway): every online and offline node whose services its
 * gateway does not list is started again with `keep` (same ports, credentials, profile), a few at
 * a time, each held by a lease so no job touches it meanwhile.
 */
import pLimit from 'p-limit';
import type { FleetNode } from '../fleet/node.ts';
import type { Logger } from '../log.ts';
import type { Leases } from '../pipeline/leases.ts';
import type { Store } from '../store/store.ts';
import type { GatewayPort, StartResult } from './port.ts';

export interface RestoreSummary {
  restored: number;
  /** Proxies up but the tunnel is not (yet): they answer "network unreachable" meanwhile. */
  tunnelDown: number;
  failed: Array<{ nodeId: string; reason: string }>;
  busy: number;
  ms: number;
}

export interface RestoreDeps {
  store: Store;
  leases: Leases;
  log: Logger;
  gateways: Iterable<GatewayPort>;
  gatewayOf(node: FleetNode): GatewayPort | undefined;
  /** A keep-start of one live node on its gateway. */
  resume(node: FleetNode, gw: GatewayPort): Promise<StartResult>;
  /** Live nodes with services (online/offline with node.socks), re-read per node. */
  restorable(node: FleetNode | undefined): node is FleetNode;
  /** True once shutdown has begun: nothing more is started. */
  closing(): boolean;
  /** Why tunnels cannot be opened here (the nodes still get their listeners), or null. */
  refusal: string | null;
  concurrency: number;
  /** Only the nodes of this gateway (one that came back, or spoke for the first time since the bot started). */
  only?: string;
}

const RESTORE_LEASE = 'services-restore';

export async function restoreLiveNodes(d: RestoreDeps): Promise<RestoreSummary> {
  const t0 = Date.now();
  const summary: RestoreSummary = { restored: 0, tunnelDown: 0, failed: [], busy: 0, ms: 0 };
  const nodes = d.store.nodes().filter((n) => d.restorable(n) && (d.only === undefined || d.gatewayOf(n)?.name === d.only));
  if (!nodes.length) return { ...summary, ms: Date.now() - t0 };
  if (d.refusal) d.log.warn('online nodes are restored without tunnels', { nodes: nodes.length, reason: d.refusal });
  const running = new Set<string>();
  const answering = new Set<string>();
  for (const gw of d.gateways) {
    answering.add(gw.name);
    for (const r of await gw.list()) running.add(`${gw.name}/${r.nodeId}`);
  }
  const { taken, busy } = d.leases.lease(nodes.map((n) => n.id), RESTORE_LEASE);
  summary.busy = busy.length;
  const limit = pLimit(d.concurrency);
  try {
    await Promise.all(
      taken.map((id) =>
        limit(async () => {
          const node = d.store.get(id);
          if (!d.restorable(node) || d.closing()) return;
          const gw = d.gatewayOf(node);
          if (!gw) return void summary.failed.push({ nodeId: id, reason: `its gateway ${node.gateway} is not known` });
          if (running.has(`${gw.name}/${id}`)) return;
          // A remote gateway not heard from yet: its nodes are restored when it speaks (restoreGateway).
          if (!answering.has(gw.name)) return;
          const r = await d.resume(node, gw);
          if (r.ok) {
            summary.restored++;
            if (!r.services.tunnel) summary.tunnelDown++;
          } else {
            summary.failed.push({ nodeId: id, reason: r.reason });
            d.log.error('node services could not be restored', { node: id, error: r.reason });
          }
        }),
      ),
    );
  } finally {
    d.leases.release(taken, RESTORE_LEASE);
  }
  summary.ms = Date.now() - t0;
  d.log.info('node services restored', { ...summary, failed: summary.failed.length });
  return summary;
}
