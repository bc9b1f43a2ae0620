import type { App, CommandServices } from '../src/app.ts';
import type { TunnelRuntime } from '../src/gateway/local.ts';
import type { FleetNode } from '../src/fleet/node.ts';
import type { GatewayPort } from '../src/gateway/port.ts';
import { gatewayPingStage, pingStage } from '../src/pipeline/stages/ping.ts';
import { SPEED_DEFAULTS, speedStage } from '../src/pipeline/stages/speed.ts';
import { probePolicy } from '../src/probes/pptp/policy.ts';
import { targetProblem } from '../src/probes/tunnel/index.ts';
import { splitByStatus } from '../src/fleet/status-machine.ts';
import type { Selection } from './selection.ts';

/** The ping and speed stages the commands start (ping, speed, import test=…), configured once. */
export function pingStageFor({ config: c }: Pick<CommandServices, 'config'>) {
  return pingStage({ concurrency: c.PING_CONCURRENCY, timeoutMs: c.PING_TIMEOUT_MS, retries: c.PING_RETRIES, policy: probePolicy(c.PROBE_ALLOW) });
}

/** `ping … from=NAME`: the handshakes run on that gateway, under this bot's PROBE_ALLOW. */
export function gatewayPingStageFor({ config: c }: Pick<CommandServices, 'config'>, gateway: GatewayPort) {
  return gatewayPingStage({ gateway, concurrency: c.PING_CONCURRENCY, timeoutMs: c.PING_TIMEOUT_MS, retries: c.PING_RETRIES, probeAllow: c.PROBE_ALLOW });
}

/**
 * A speed stage over the gateways that can open tunnels now (the bot's host alone without
 * REDIS_URL), SPEED_CONCURRENCY tests at once on each.
 */
export async function speedStageFor({ config: c, gateways }: Pick<CommandServices, 'config' | 'gateways'>) {
  const on = await gateways.speedGateways();
  return speedStage({ gateways: on, perGateway: c.SPEED_CONCURRENCY, url: c.SPEED_URL ?? '', minMbps: c.SPEED_MIN_MBPS, openTimeoutMs: c.TUNNEL_OPEN_TIMEOUT_MS, ...SPEED_DEFAULTS });
}

/** The tunnel driver and the host check a speed job uses on the bot's host. */
export type SpeedRuntime = TunnelRuntime;

/** Replaces the tunnel driver and host check of one app's local gateway (tests). */
export function useSpeedRuntime(app: App, runtime: SpeedRuntime): void {
  app.gateways.local()?.useTunnels(runtime);
}

/**
 * Why speed cannot run at all on this host with this configuration, in one line, or null. Asked
 * before any job starts, so an incapable host never marks a node failed.
 */
export function speedRefusal({ config, gateways }: Pick<CommandServices, 'config' | 'gateways'>): string | null {
  const refusal = gateways.tunnelRefusal('speed');
  if (refusal) return refusal;
  if (!config.SPEED_URL) return 'speed tests need SPEED_URL: the http(s) URL of a large file (or a speed server) reachable through the tunnels';
  return null;
}

export type Undialable = Array<{ node: FleetNode; reason: string }>;

/**
 * Splits nodes into those speed may run on, a count of the others by status, and the nodes this
 * driver cannot dial (host names, other ports), each with its reason.
 */
export function speedable(nodes: readonly FleetNode[]): Omit<Selection, 'words'> & { undialable: Undialable } {
  const { runnable: allowed, refused } = splitByStatus('speed', nodes);
  const runnable: FleetNode[] = [];
  const undialable: Undialable = [];
  for (const n of allowed) {
    // The password plays no part in whether it can be dialled; a placeholder keeps it out of reach.
    const problem = targetProblem({ ip: n.ip, port: n.port, login: n.login, password: '' });
    if (problem) undialable.push({ node: n, reason: problem });
    else runnable.push(n);
  }
  return { runnable, refused, undialable };
}
