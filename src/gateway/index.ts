/**
 * The services plane as composition (src/compose.ts) needs it:
 *
 *   const gateways = createGateways({ config, store, leases: jobs.leases, log, tunnels }); // App.gateways
 *   new Monitor({ ..., checks: [gateways.monitorCheck()] });   // tunnel + proxy + server up
 *   void gateways.restore();                                   // after the store is open
 *   ...
 *   await monitor.stop(); jobs.cancelAll('shutdown'); await jobs.idle();
 *   await gateways.close(); await store.close();
 *
 * One gateway for now: the bot's own host (local.ts). Remote gateways join the same control.
 */
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Leases } from '../pipeline/leases.ts';
import type { Store } from '../store/store.ts';
import { GatewayControl, type GatewayControlOptions } from './control.ts';
import type { GatewayDirectory } from './directory.ts';
import { createLocalGateway, type LocalGatewaySetup, type TunnelRuntime } from './local.ts';

export { GatewayControl } from './control.ts';
export type { RestoreSummary } from './restore.ts';
export { LocalGateway, type TunnelRuntime } from './local.ts';
export { startStage, stopStage, START_CONCURRENCY, STOP_CONCURRENCY } from './stages.ts';

export interface GatewaysDeps {
  config: Config;
  store: Store;
  leases: Leases;
  log: Logger;
  /** The one tunnel driver (speed tests and services share it: it queues tunnels to the same server, which pptpd serves one at a time). */
  tunnels: TunnelRuntime;
  /** Every gateway the bot knows; the local one is added to it here. */
  directory?: GatewayDirectory;
}

export interface GatewaysOverrides {
  local?: Partial<Omit<LocalGatewaySetup, 'config' | 'log' | 'tunnels'>>;
  control?: Partial<Pick<GatewayControlOptions, 'restoreConcurrency'>>;
}

export function createGateways(deps: GatewaysDeps, o: GatewaysOverrides = {}): GatewayControl {
  const { gateway, pki } = createLocalGateway({ config: deps.config, log: deps.log, tunnels: deps.tunnels, ...o.local });
  deps.directory?.addLocal(gateway);
  return new GatewayControl({
    directory: deps.directory,
    gateways: [gateway],
    store: deps.store,
    leases: deps.leases,
    log: deps.log,
    pki,
    dataDir: deps.config.dataDir,
    tunnelOpenTimeoutMs: deps.config.TUNNEL_OPEN_TIMEOUT_MS,
    ...o.control,
  });
}
