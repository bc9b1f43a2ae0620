/**
 * A remote gateway for a test: a real LocalGateway (in a temp DATA_DIR of its own, no OpenVPN server
 * side) served over BullMQ on the test's Redis, as `connexa gateway` serves one. `wrap` lets a test
 * watch calls arriving on the gateway side. `close()` stops serving and removes the directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalGateway, type LocalGateway } from '../../src/gateway/local.ts';
import type { GatewayPort } from '../../src/gateway/port.ts';
import { type ServedGateway, serveGateway } from '../../src/gateway/remote/serve.ts';
import { createLogger } from '../../src/log.ts';
import type { TunnelDriver } from '../../src/probes/tunnel/types.ts';

export interface ServedLocalGateway {
  gateway: LocalGateway;
  served: ServedGateway;
  close(): Promise<void>;
}

export async function serveLocalGateway(o: { name: string; redisUrl: string; driver: TunnelDriver | null; ports: { socks: number; ovpn: number }; wrap?: (g: LocalGateway) => GatewayPort }): Promise<ServedLocalGateway> {
  const dir = await mkdtemp(join(tmpdir(), `cnx-${o.name}-`));
  const log = createLogger('error', () => {});
  const { gateway } = createLocalGateway({
    name: o.name,
    config: { dataDir: dir, TUNNEL_DRIVER: o.driver ? 'pppd' : 'none', SOCKS_BIND: '127.0.0.1', SOCKS_PORT_RANGE: { from: o.ports.socks, to: o.ports.socks + 9 }, OVPN_PORT_RANGE: { from: o.ports.ovpn, to: o.ports.ovpn + 9 } },
    log,
    tunnels: { driver: o.driver, capability: () => ({ ok: true }) },
    ovpnHost: () => ({ capability: { ok: false, missing: ['the openvpn binary'], message: 'x' }, openvpn: null, ip: null, nft: null }),
  });
  let served: ServedGateway;
  try {
    served = await serveGateway({ name: o.name, redisUrl: o.redisUrl, port: o.wrap ? o.wrap(gateway) : gateway, log, heartbeatMs: 200 });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let closed = false;
  return {
    gateway,
    served,
    async close() {
      if (closed) return;
      closed = true;
      await served.close();
      await gateway.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
