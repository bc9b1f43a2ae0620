/**
 * The local gateway behind the port: it describes the bot's host (capability with what is missing,
 * ports, capacity, version), runs the PPTP handshake under the bot's PROBE_ALLOW, and speed-tests
 * through its own tunnel driver (none here: inconclusive, nothing recorded).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createLocalGateway } from '../../src/gateway/local.ts';
import { LOCAL_GATEWAY } from '../../src/gateway/port.ts';
import { createLogger } from '../../src/log.ts';
import { useSimFleet } from '../kit/sim-fleet.ts';
import { useTempDir } from '../kit/temp-dir.ts';

const tmp = useTempDir('cnx-local-gw-');
const fleet = useSimFleet({ count: 4, seed: 3, mix: { good: 0.5, closed: 0.5 } });

function gateway() {
  return createLocalGateway({
    config: { dataDir: tmp.path, TUNNEL_DRIVER: 'none', SOCKS_BIND: '127.0.0.1', SOCKS_PORT_RANGE: { from: 29000, to: 29009 }, OVPN_PORT_RANGE: { from: 29100, to: 29199 } },
    log: createLogger('error', () => {}),
    tunnels: { driver: null, capability: () => ({ ok: true }) },
    ovpnHost: () => ({ capability: { ok: false, missing: ['the openvpn binary'], message: 'x', fix: 'apt-get install -y openvpn' }, openvpn: null, ip: null, nft: null }),
  }).gateway;
}

describe('local gateway', () => {
  it('describes the host: capabilities with what is missing, port ranges, capacity, public hosts, version', async () => {
    const d = await gateway().describe();
    expect(d).toMatchObject({
      name: LOCAL_GATEWAY,
      publicHost: { socks: '127.0.0.1' },
      tunnels: { ok: false, missing: ['a tunnel driver'] },
      ovpn: { ok: false, missing: ['the openvpn binary'], fix: 'apt-get install -y openvpn' },
      ports: { socks: { from: 29000, to: 29009 } },
      capacity: { total: 10, free: 10 },
      running: 0,
      version: (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version,
    });
    expect(d.warnings).toContain('SOCKS_PUBLIC_HOST is not set: the proxies are listed as 127.0.0.1');
  });

  it('handshakes under the PROBE_ALLOW it is given: refused for loopback by default, answered when allowed', async () => {
    const gw = gateway();
    const good = fleet.servers.find((s) => s.behaviour === 'good')!;
    const node = { id: 'n1', ip: good.ip, port: good.port };
    const refused = await gw.handshake({ node, timeoutMs: 1000, retries: 0, probeAllow: '' });
    expect(refused.ok).toBe(false);
    const ok = await gw.handshake({ node, timeoutMs: 1000, retries: 0, probeAllow: '127.0.0.0/8' });
    expect(ok).toMatchObject({ ok: true, vendor: good.vendor, hostname: good.hostname });
  });

  it('a speed test without a tunnel driver is inconclusive and records nothing', async () => {
    const r = await gateway().speedTest({ node: { id: 'n1', ip: '203.0.113.1', port: 1723, login: 'u', password: 'p', label: 'x' }, url: 'http://127.0.0.1:1/', minMbps: 1, openTimeoutMs: 1000, downloadBytes: 1, maxSeconds: 1, uploadBytes: 0, stallMs: 100 });
    expect(r).toEqual({ result: 'inconclusive', outcome: 'no_driver', reason: 'TUNNEL_DRIVER=none: no tunnel can be opened', patch: {} });
  });
});
