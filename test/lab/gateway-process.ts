/**
 * TEST ONLY — `connexa gateway` as the lab runs it inside a gateway's network namespace: the real
 * runGateway (Redis, enrolment, queues, heartbeats) serving the real LocalGateway, whose tunnels
 * are the lab's veth driver into the shared web namespace (LAB_WEB_NS, a /16 of its own: LAB_BLOCK)
 * because this host has no kernel PPP. Everything else is configured as in production, by environment.
 */
import { loadConfig } from '../../src/config.ts';
import { gatewayHostPort } from '../../src/gateway/remote/host-port.ts';
import { runGateway } from '../../src/gateway/remote/run.ts';
import { VethTunnelDriver } from './veth-tunnel.ts';

const driver = new VethTunnelDriver(process.env.LAB_WEB_NS!, { block: Number(process.env.LAB_BLOCK) });
const config = loadConfig();
const code = await runGateway(config, {
  port: (material, log) =>
    gatewayHostPort(config, log, material, { tunnels: { driver, capability: () => ({ ok: true }) } }),
});
await driver.closeAll();
process.exit(code);
