/**
 * The bot's view of its gateways, wired: the directory (liveness by heartbeat), the Redis
 * connections to remote gateways when REDIS_URL is set, and what a change of a gateway's state sets
 * off. Kept out of compose.ts so the wiring of several hosts reads in one place.
 *
 *   down  -> a monitor run: its nodes fail a decisive check and go offline, in one grouped alert
 *   up    -> its nodes it no longer runs are started there again as they were, then a monitor run
 *            brings them back online (a gateway cut off but still running them needs only the run)
 *   seen  -> (first heartbeat since the bot started) what it does not run of its nodes is restored
 */
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { publish } from '../ops/events.ts';
import type { Store } from '../store/store.ts';
import type { GatewayControl } from './control.ts';
import { GatewayDirectory } from './directory.ts';
import type { GatewayConnections } from './remote/control.ts';

const DRAINING_SETTING = 'gateways.draining';

export interface GatewayFleet {
  directory: GatewayDirectory;
  /** Connects to Redis (REDIS_URL) and starts watching heartbeats; nothing without REDIS_URL. */
  connect(control: GatewayControl, monitor: { runAfter(trigger: string): Promise<unknown> }): Promise<void>;
  close(): Promise<void>;
}

export function gatewayFleet(o: { config: Config; store: Store; log: Logger }): GatewayFleet {
  let remote: GatewayConnections | null = null;
  let control: GatewayControl | null = null;
  let monitor: { runAfter(trigger: string): Promise<unknown> } | null = null;
  // A run that starts after the event: one going may have checked the gateway's nodes before it.
  const runMonitor = (why: string) => void monitor?.runAfter(why).catch((err: Error) => o.log.error('monitor run failed', { error: err.message }));
  const restore = async (name: string) => {
    const r = await control!.restoreGateway(name);
    if (r.restored || r.failed.length) o.log.info('nodes of a gateway restarted there', { gateway: name, restored: r.restored, failed: r.failed.length });
  };
  const directory = new GatewayDirectory({
    deadAfterMs: o.config.GATEWAY_DEAD_AFTER,
    connect: (name) => {
      if (!remote) throw new Error(`gateway ${name} is remote, and REDIS_URL is not set`);
      return remote.port(name);
    },
    drained: { get: () => o.store.setting<string[]>(DRAINING_SETTING) ?? [], set: (names) => o.store.setSetting(DRAINING_SETTING, names) },
    events: {
      down: (g, silentMs) => {
        o.log.warn('gateway down: no heartbeat', { gateway: g.name, silentMs });
        publish('gateway.state', { gateway: g.name, up: false });
        runMonitor(`gateway ${g.name} down`);
      },
      up: (g, how) => {
        o.log.info('gateway back', { gateway: g.name, rebooted: how.rebooted });
        publish('gateway.state', { gateway: g.name, up: true });
        void restore(g.name)
          .catch((err: Error) => o.log.error('the nodes of a gateway could not be restored', { gateway: g.name, error: err.message }))
          .finally(() => runMonitor(`gateway ${g.name} back`));
      },
      seen: (g) => {
        o.log.info('gateway heard', { gateway: g.name, version: g.description?.version });
        void restore(g.name).catch((err: Error) => o.log.error('the nodes of a gateway could not be restored', { gateway: g.name, error: err.message }));
      },
    },
  });
  return {
    directory,
    async connect(c, m) {
      control = c;
      monitor = m;
      if (!o.config.REDIS_URL) return;
      // Gateways the records name are expected: one that never speaks again is seen down.
      directory.expect(new Set(o.store.nodes().flatMap((n) => (n.gateway && n.gateway !== c.defaultGateway ? [n.gateway] : []))));
      const { connectGateways } = await import('./remote/control.ts');
      remote = await connectGateways({ redisUrl: o.config.REDIS_URL, log: o.log, onHeartbeat: (hb) => directory.heartbeat(hb), signCsr: (csr, name) => c.signServerCsr(csr, name) });
      directory.start();
    },
    async close() {
      directory.stop();
      await remote?.close();
    },
  };
}
