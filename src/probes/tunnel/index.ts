/**
 * Tunnel drivers (TUNNEL_DRIVER): `pppd` opens real PPTP tunnels; `none` opens nothing and says so.
 */
import path from 'node:path';
import type { HostProbe } from './capability.ts';
import { PppdDriver } from './pppd.ts';
import type { TunnelDriver } from './types.ts';

export * from './types.ts';
export { checkTunnelCapability, checkPppdHost, realHost, type HostProbe } from './capability.ts';
export { PppdDriver } from './pppd.ts';
export { quotePppdWord, targetProblem, PPTP_PORT } from './pppd-options.ts';

export interface TunnelSettings {
  TUNNEL_DRIVER: 'pppd' | 'none';
  /** The resolved DATA_DIR: options files go to DATA_DIR/run. */
  dataDir: string;
}

/** The directory for per-tunnel options files (0700; each file 0600, removed after use). */
export function runDirOf(dataDir: string): string {
  return path.join(dataDir, 'run');
}

/** The configured driver, or null for TUNNEL_DRIVER=none (checkTunnelCapability explains why). */
export function createTunnelDriver(s: TunnelSettings, host?: HostProbe): TunnelDriver | null {
  if (s.TUNNEL_DRIVER === 'none') return null;
  return new PppdDriver({ runDir: runDirOf(s.dataDir), ...(host ? { host } : {}) });
}
