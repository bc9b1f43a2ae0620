/**
 * Services of online nodes: SOCKS5 proxies, OpenVPN PKI/servers/profiles, bundles, and the manager
 * that runs them. Composition (src/compose.ts) needs only this module:
 *
 *   const services = createServices({ config, store, leases: jobs.leases, log, tunnels }); // App.services
 *   new Monitor({ ..., checks: [services.monitorCheck()] });             // tunnel + proxy + server up
 *   void services.restore();                                             // after the store is open
 *   ...
 *   await monitor.stop(); jobs.cancelAll('shutdown'); await jobs.idle();
 *   await services.close(); await store.close();
 */
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Leases } from '../pipeline/leases.ts';
import type { Capability, TunnelDriver } from '../probes/tunnel/types.ts';
import type { Store } from '../store/store.ts';
import { ServiceManager, type ServiceManagerOptions } from './manager.ts';

export { ServiceManager, StartFailure, nodeLabel, type RestoreSummary, type ServiceManagerOptions, type ServicesConfig, type StartedServices } from './manager.ts';
export { startStage, stopStage, START_CONCURRENCY, STOP_CONCURRENCY } from './stages.ts';
export { buildBundles, BundleTooSmall, type BundleNode } from './bundle/bundle.ts';

/**
 * The manager for a configuration. `tunnels` is App.tunnels: the one tunnel driver the speed tests
 * and the services share (it queues tunnels to the same server, which pptpd serves one at a time).
 */
export function createServices(
  deps: { config: Config; store: Store; leases: Leases; log: Logger; tunnels: { driver: TunnelDriver | null; capability(): Capability } },
  overrides: Partial<ServiceManagerOptions> = {},
): ServiceManager {
  return new ServiceManager({
    config: deps.config,
    store: deps.store,
    leases: deps.leases,
    log: deps.log,
    driver: deps.tunnels.driver,
    tunnelCapability: () => deps.tunnels.capability(),
    ...overrides,
  });
}


