/**
 * One gateway host's node services: a new start takes new ports and credentials; a start with `keep`
 * (after a restart) brings the same port and credentials back, keeps its listeners when the tunnel
 * is down, and never takes a port reserved for another node. Loopback tunnels, curl as the client.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NodeTarget, StartRequest } from '../../src/gateway/port.ts';
import { createLogger } from '../../src/log.ts';
import { GatewayHost } from '../../src/services/gateway-host.ts';
import { HostCapability } from '../../src/services/host-capability.ts';
import { anyDestination } from '../../src/services/socks/destinations.ts';
import { testRanges } from '../kit/services-app.ts';
import { useTempDir } from '../kit/temp-dir.ts';
import { curlViaSocks, whoAmIServer, type WhoAmI } from './helpers.ts';
import { LoopbackTunnelDriver } from './loopback-tunnel.ts';

const tmp = useTempDir('cnx-nodesvc-');
let web: WhoAmI;
const hosts: GatewayHost[] = [];
beforeAll(async () => {
  web = await whoAmIServer('127.0.0.1');
});
afterAll(async () => web.close());
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

const NO_OPENVPN = () => ({ capability: { ok: false as const, missing: ['the openvpn binary'], message: 'x' }, openvpn: null, ip: null, nft: null });

function host(driver: LoopbackTunnelDriver): GatewayHost {
  const r = testRanges(27000, 20);
  const range = (s: string) => ({ from: Number(s.split('-')[0]), to: Number(s.split('-')[1]) });
  const h = new GatewayHost({
    config: { SOCKS_BIND: '127.0.0.1', SOCKS_PORT_RANGE: range(r.SOCKS_PORT_RANGE), OVPN_PORT_RANGE: range(r.OVPN_PORT_RANGE) },
    dir: path.join(tmp.path, 'ovpn'),
    capability: new HostCapability({ TUNNEL_DRIVER: 'pppd', hasDriver: () => true, tunnels: () => ({ ok: true }), ovpn: NO_OPENVPN }),
    driver,
    material: () => Promise.reject(new Error('no OpenVPN server runs here')),
    log: createLogger('error', () => {}),
    allowDestination: anyDestination,
    tunnelBackoff: { firstMs: 50, maxMs: 100 },
  });
  hosts.push(h);
  return h;
}

const target = (login = 'u1'): NodeTarget => ({ id: 'n1', ip: '203.0.113.1', port: 1723, login, password: 'pptp-secret-1', label: '203.0.113.1' });
const req = (o: Partial<StartRequest> = {}): StartRequest => ({ node: target(), ovpn: true, tunnelOpenTimeoutMs: 5000, ...o });
const curl = (port: number, creds: { login: string; password: string }) => curlViaSocks({ proxyHost: '127.0.0.1', proxyPort: port, creds, url: web.url() });

describe('node services on a gateway host', () => {
  it('a keep-start after a restart: the same port and credentials, a new tunnel, and the old password still works', async () => {
    const driver = new LoopbackTunnelDriver();
    const first = host(driver);
    const r = await first.start(req());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { socks, ovpnPort } = r.services;
    expect(ovpnPort).not.toBeNull();
    expect(r.services.ovpnServer).toBe(false); // this host cannot run OpenVPN: the profile only
    expect((await curl(socks.port, socks)).code).toBe(0);
    await first.close();
    expect((await curl(socks.port, socks)).code).toBe(7);

    const second = host(driver);
    second.claim('n1', socks.port, ovpnPort);
    const kept = await second.start(req({ keep: { socks, ovpnPort } }));
    expect(kept).toMatchObject({ ok: true, services: { socks, ovpnPort } });
    const r2 = await curl(socks.port, socks);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).toBe(`you are ${second.status('n1')!.tunnel!.localAddress}\n`);
    expect(second.check('n1')).toEqual({ ok: true });
    await second.stop('n1');
    expect(second.socksPorts.ownerOf(socks.port)).toBeUndefined();
    expect(second.status('n1')).toBeNull();
  });

  it('a keep-start whose tunnel does not open keeps its listeners, reports tunnel_down, and reopens in the background', async () => {
    const driver = new LoopbackTunnelDriver();
    const h = host(driver);
    const r = await h.start(req());
    if (!r.ok) throw new Error(r.reason);
    await h.stop('n1');
    driver.failures.set('u1', { kind: 'unreachable', reason: 'no answer' });
    const kept = await h.start(req({ keep: { socks: r.services.socks, ovpnPort: null } }));
    expect(kept).toMatchObject({ ok: true, services: { tunnel: null, ovpnPort: null } });
    expect(h.check('n1')).toMatchObject({ ok: false, outcome: 'tunnel_down' });
    expect((await curl(r.services.socks.port, r.services.socks)).code).toBe(97); // refused, not leaving by another path
    driver.failures.delete('u1');
    for (let i = 0; i < 100 && !h.status('n1')!.tunnel; i++) await new Promise((res) => setTimeout(res, 20));
    expect(h.check('n1')).toEqual({ ok: true });
  });

  it('a new start never takes a port reserved for a node to be restored; a keep-start on another node\'s port fails', async () => {
    const driver = new LoopbackTunnelDriver();
    const h = host(driver);
    const first = h.socksPorts.range.from;
    expect(h.claim('n9', first, null)).toBe(true);
    const r = await h.start(req());
    if (!r.ok) throw new Error(r.reason);
    expect(r.services.socks.port).not.toBe(first);
    const other = await h.start({ ...req({ keep: { socks: { ...r.services.socks, port: first }, ovpnPort: null } }), node: { ...target(), id: 'n2' } });
    expect(other).toMatchObject({ ok: false, reason: expect.stringContaining(`SOCKS port ${first} cannot be bound: it is allocated to node n9`) });
    expect(h.socksPorts.ownerOf(first)).toBe('n9');
  });

  it('a failed new start leaves nothing allocated and says whether the node is to blame', async () => {
    const driver = new LoopbackTunnelDriver();
    const h = host(driver);
    const before = h.free();
    driver.failures.set('u1', { kind: 'auth_failed', reason: 'refused' });
    expect(await h.start(req())).toEqual({ ok: false, outcome: 'auth_failed', reason: 'tunnel: refused', hostSide: false });
    expect(h.free()).toEqual(before);
    expect(driver.liveCount()).toBe(0);
  });
});
