/**
 * What `connexa gateway` serves: this host as a LocalGateway named GATEWAY_NAME, with its own
 * server material (the key made here, the certificate the bot signed) and the same guarded tunnel
 * driver the bot uses on its own host. Clients reach it at GATEWAY_PUBLIC_HOST unless
 * SOCKS_PUBLIC_HOST / OVPN_PUBLIC_HOST say otherwise.
 */
import type { Config } from '../../config.ts';
import type { Logger } from '../../log.ts';
import { checkTunnelCapability, createTunnelDriver } from '../../probes/tunnel/index.ts';
import { NodeFirewall, nftRunner } from '../../services/node-firewall.ts';
import { guardedDriver, TunnelGuard } from '../../services/tunnel-guard.ts';
import { createLocalGateway, type LocalGateway, type LocalGatewaySetup, type TunnelRuntime } from '../local.ts';
import type { ServerMaterial } from '../port.ts';

export function gatewayHostPort(config: Config, log: Logger, material: ServerMaterial, o: { tunnels?: TunnelRuntime; setup?: Partial<LocalGatewaySetup> } = {}): LocalGateway {
  let tunnels = o.tunnels;
  if (!tunnels) {
    const raw = createTunnelDriver({ TUNNEL_DRIVER: config.TUNNEL_DRIVER, dataDir: config.dataDir });
    // Every tunnel lets in only replies from its PPTP server, as on the bot's host.
    tunnels = { driver: raw && guardedDriver(raw, new TunnelGuard(new NodeFirewall(nftRunner()))), capability: () => checkTunnelCapability(config.TUNNEL_DRIVER) };
  }
  const publicHost = config.GATEWAY_PUBLIC_HOST;
  const hostConfig = { ...config, SOCKS_PUBLIC_HOST: config.SOCKS_PUBLIC_HOST ?? publicHost, OVPN_PUBLIC_HOST: config.OVPN_PUBLIC_HOST ?? publicHost };
  return createLocalGateway({ config: hostConfig, log, tunnels, name: config.GATEWAY_NAME, material, ...o.setup }).gateway;
}
