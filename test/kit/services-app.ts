/**
 * A bot with services for tests: the real store, job runner and dispatcher (compose), the start /
 * stop / bundle commands, the gateway control over a local gateway with an injected tunnel driver,
 * a recording chat port.
 * `restart()` closes everything and composes again on the same DATA_DIR, as a restarted bot would.
 */
import { bundle } from '../../commands/bundle.ts';
import { COMMANDS } from '../../commands/index.ts';
import { start } from '../../commands/start.ts';
import { stop } from '../../commands/stop.ts';
import type { App } from '../../src/app.ts';
import { Dispatcher } from '../../src/chat/dispatcher.ts';
import { CommandRegistry, type AnyCommand } from '../../src/chat/registry.ts';
import type { Actor, PortLimits } from '../../src/chat/types.ts';
import type { Composed } from '../../src/compose.ts';
import type { Config } from '../../src/config.ts';
import type { FleetNode } from '../../src/fleet/node.ts';
import { createGateways, type GatewayControl, type RestoreSummary } from '../../src/gateway/index.ts';
import { checkTunnelCapability } from '../../src/probes/tunnel/capability.ts';
import type { Capability, TunnelDriver } from '../../src/probes/tunnel/types.ts';
import type { GatewayHost, GatewayHostOptions } from '../../src/services/gateway-host.ts';
import type { OvpnHost } from '../../src/services/ovpn/capability.ts';
import type { Store } from '../../src/store/store.ts';
import { ADMIN, testBot } from './app.ts';
import { RecordingPort } from './recording-port.ts';

export interface ServicesTestApp {
  dir: string;
  config: Config;
  composed: Composed;
  app: App;
  /** The bot side: start, stop, reconcile, restore, the monitor's check, bundles. */
  gateways: GatewayControl;
  /** What the local gateway runs (status of a node, its port pools). */
  host: GatewayHost;
  port: RecordingPort;
  logs: string[];
  run(text: string, actor?: Actor): ReturnType<Dispatcher<App>['dispatch']>;
  /** Shutdown (services, jobs, store) and a new bot on the same data; resolves after restore. */
  restart(): Promise<RestoreSummary>;
  dispose(): Promise<void>;
}

export interface ServicesTestOptions {
  env?: Record<string, string>;
  driver: TunnelDriver | null;
  /** The local gateway: its host's capability and its proxies' settings. */
  gateway?: Partial<Pick<GatewayHostOptions, 'socksLimits' | 'sharedConnectionLimit' | 'lookup' | 'allowDestination' | 'tunnelBackoff' | 'ovpnReadyTimeoutMs' | 'tunnelGuard'>> & {
    tunnelCapability?: () => Capability;
    ovpnHost?: () => OvpnHost;
    publicCrlDir?: string;
    restoreConcurrency?: number;
  };
  limits?: Partial<PortLimits>;
}

export const SERVICE_COMMANDS: readonly AnyCommand[] = [start, stop, bundle];

export async function servicesApp(o: ServicesTestOptions): Promise<ServicesTestApp> {
  const bot = await testBot(o.env, 'cnx-svc-');
  const { dir, config, logs } = bot;
  const port = new RecordingPort({ limits: o.limits });
  const known = new Set(COMMANDS.map((c) => c.name));
  const registry = new CommandRegistry([...COMMANDS, ...SERVICE_COMMANDS.filter((c) => !known.has(c.name))]);

  const boot = async () => {
    const { app: composed } = await bot.boot();
    // The composed app's own gateways are replaced before anything used them (nothing started yet).
    await composed.app.gateways.close();
    const { tunnelCapability, ovpnHost, publicCrlDir, restoreConcurrency, ...host } = o.gateway ?? {};
    const tunnels = { driver: o.driver, capability: tunnelCapability ?? (() => checkTunnelCapability(config.TUNNEL_DRIVER)) };
    const gateways = createGateways(
      { config, store: composed.app.store, leases: composed.app.jobs.leases, log: composed.app.log, tunnels },
      { local: { ovpnHost, publicCrlDir, host }, control: { restoreConcurrency } },
    );
    composed.app.gateways = gateways;
    const dispatcher = new Dispatcher<App>({
      registry,
      app: composed.app,
      roles: () => ({ admins: config.CONNEXA_ADMINS, operators: config.CONNEXA_OPERATORS, viewers: config.CONNEXA_VIEWERS }),
      secretsDelivery: config.SECRETS_DELIVERY,
    });
    return { composed, gateways, host: gateways.local()!.host, dispatcher };
  };
  let cur = await boot();
  const shutdown = async () => {
    // The order compose.close() should follow: jobs, then services, then the store.
    cur.composed.app.jobs.cancelAll('shutdown');
    await cur.composed.app.jobs.idle();
    await cur.gateways.close();
    await cur.composed.close();
  };
  const t: ServicesTestApp = {
    dir,
    config,
    port,
    logs,
    get composed() {
      return cur.composed;
    },
    get app() {
      return cur.composed.app;
    },
    get gateways() {
      return cur.gateways;
    },
    get host() {
      return cur.host;
    },
    run: (text, actor = ADMIN) => cur.dispatcher.dispatch(port, { text, files: [], actor, where: { key: 'C1' } }),
    async restart() {
      await shutdown();
      cur = await boot();
      return cur.gateways.restore();
    },
    async dispose() {
      await shutdown();
      await bot.remove();
    },
  };
  return t;
}

/** Adds nodes and walks them to speed_ok through legal transitions (as ping and speed would). */
export function speedOkNodes(store: Store, fields: Array<{ ip: string; login?: string; password?: string; country?: string }>): FleetNode[] {
  const added = store.addNodes(fields.map((f, i) => ({ ip: f.ip, login: f.login ?? `user${i}`, password: f.password ?? `pptp-secret-${i}`, country: f.country ?? 'US' })), 'test');
  for (const n of added) {
    store.transition({ id: n.id, from: 'not_tested', to: 'ping_ok', reason: 'test', actor: 'test' });
    store.transition({ id: n.id, from: 'ping_ok', to: 'speed_ok', reason: 'test', actor: 'test' });
  }
  return added.map((n) => store.get(n.id)!);
}

/** The zips sent privately (DM or ephemeral), in order. */
export function privateZips(port: RecordingPort): Array<{ name: string; data: Buffer; text: string }> {
  const out: Array<{ name: string; data: Buffer; text: string }> = [];
  for (const c of port.calls) {
    if (c.verb !== 'sendDirect' && c.verb !== 'postPrivate') continue;
    for (const f of c.msg.files ?? []) if (f.name.endsWith('.zip')) out.push({ name: f.name, data: f.data, text: c.msg.text });
  }
  return out;
}

/** Port ranges unlikely to collide between test files running at the same time. */
export function testRanges(base: number, size = 50): { SOCKS_PORT_RANGE: string; OVPN_PORT_RANGE: string } {
  const off = (process.pid % 40) * size * 2;
  return { SOCKS_PORT_RANGE: `${base + off}-${base + off + size - 1}`, OVPN_PORT_RANGE: `${base + off + size}-${base + off + 2 * size - 1}` };
}
