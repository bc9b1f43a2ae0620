/**
 * The bot side of the services plane, against a gateway that records what it is asked (the gateway
 * side is tested for real in start-stop.test.ts and the lab): stop revokes the profile FIRST, and
 * the OpenVPN ports of an older data directory move from allocations.json into the node records.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFilter } from '../../src/chat/args.ts';
import { selectNodes } from '../../src/fleet/filter.ts';
import type { FleetNode } from '../../src/fleet/node.ts';
import { GatewayControl } from '../../src/gateway/control.ts';
import type { GatewayPort, StartRequest } from '../../src/gateway/port.ts';
import { createLogger } from '../../src/log.ts';
import { Leases } from '../../src/pipeline/leases.ts';
import { lazyPki } from '../../src/services/ovpn/pki-material.ts';
import { Store } from '../../src/store/store.ts';
import { useTempDir } from '../kit/temp-dir.ts';

const tmp = useTempDir('cnx-control-');

/** A gateway that runs nothing: it answers starts and records every call (at a stop, what `revoked` says then). */
function recordingGateway(revoked: (nodeId: string) => Promise<boolean>, name = 'local') {
  const calls: Array<{ verb: string; nodeId: string; req?: StartRequest; revoked?: boolean }> = [];
  const running = new Set<string>();
  const gw = {
    name,
    local: true,
    calls,
    async start(req: StartRequest) {
      calls.push({ verb: 'start', nodeId: req.node.id, req });
      running.add(req.node.id);
      const socks = req.keep?.socks ?? { host: 'gw.example.net', port: 20001, login: 'l', password: 'socks-secret-1' };
      return { ok: true as const, services: { socks, ovpnPort: req.keep ? req.keep.ovpnPort : 21001, ovpnServer: true, tunnel: { iface: 'ppp0', localAddress: '10.0.0.2', setupMs: 1 }, startMs: 1 } };
    },
    async stop(nodeId: string) {
      calls.push({ verb: 'stop', nodeId, revoked: await revoked(nodeId) });
      running.delete(nodeId);
    },
    async check() {
      return { ok: true as const };
    },
    async list() {
      return [...running].map((nodeId) => ({ nodeId, socksPort: 20001, ovpnPort: 21001, ovpnServer: true, tunnel: null, tunnelError: null }));
    },
  };
  return gw as typeof gw & GatewayPort;
}

async function setup() {
  const store = await Store.open(tmp.path);
  const pki = lazyPki(path.join(tmp.path, 'pki'), () => null);
  const gw = recordingGateway(async (id) => {
    const serial = store.get(id)?.ovpn?.serial;
    return serial !== undefined && (await pki()).isRevoked(serial);
  });
  const control = new GatewayControl({ gateways: [gw], store, leases: new Leases(), log: createLogger('error', () => {}), pki, dataDir: tmp.path, tunnelOpenTimeoutMs: 5000 });
  return { store, pki, gw, control };
}

function speedOk(store: Store, ip: string): FleetNode {
  const [n] = store.addNodes([{ ip, login: 'u', password: 'pptp-secret-9' }], 'test');
  store.transition({ id: n!.id, from: 'not_tested', to: 'ping_ok', reason: 'test', actor: 'test' });
  store.transition({ id: n!.id, from: 'ping_ok', to: 'speed_ok', reason: 'test', actor: 'test' });
  return store.get(n!.id)!;
}

describe('gateway control', () => {
  it('start records the gateway, the SOCKS endpoint and the OpenVPN port on the node; stop revokes the profile before the gateway tears anything down', async () => {
    const { store, gw, control, pki } = await setup();
    const n = speedOk(store, '203.0.113.1');
    const r = await control.start(n);
    if (!r.ok) throw new Error(r.reason);
    expect(r.patch).toMatchObject({ gateway: 'local', socks: { port: 20001 }, ovpn: { port: 21001, revokedAt: null } });
    store.transition({ id: n.id, from: 'speed_ok', to: 'online', patch: r.patch, reason: 'test', actor: 'test' });
    const online = store.get(n.id)!;
    expect(selectNodes(store.nodes(), parseFilter(['gateway:LOCAL'])).map((x) => x.id)).toEqual([n.id]);
    expect(selectNodes(store.nodes(), parseFilter(['gateway:gw2']))).toEqual([]);

    // The CRL cannot be written (a directory where it goes, as on a full disk): nothing is torn down.
    const crl = path.join(tmp.path, 'pki', 'crl.pem');
    fs.renameSync(crl, `${crl}.saved`);
    fs.mkdirSync(path.join(crl, 'x'), { recursive: true });
    await expect(control.stop(online)).rejects.toThrow();
    expect(gw.calls.filter((c) => c.verb === 'stop')).toEqual([]);
    fs.rmSync(crl, { recursive: true });
    fs.renameSync(`${crl}.saved`, crl);

    // The gateway's stop is asked only once the profile is revoked.
    const patch = await control.stop(online);
    expect(patch).toEqual({ socks: null, ovpn: { serial: online.ovpn!.serial, issuedAt: online.ovpn!.issuedAt, revokedAt: expect.any(String) }, gateway: null });
    expect(gw.calls.filter((c) => c.verb === 'stop')).toEqual([{ verb: 'stop', nodeId: n.id, revoked: true }]);
    expect((await pki()).isRevoked(online.ovpn!.serial)).toBe(true);
    await store.close();
  });

  it('an existing allocations.json moves into the node records once, and the restore keeps those ports', async () => {
    const { store, gw, control } = await setup();
    const n = speedOk(store, '203.0.113.2');
    // An online node as an older Connexa left it: no port and no gateway in the record.
    store.transition({ id: n.id, from: 'speed_ok', to: 'online', patch: { socks: { host: 'h', port: 20002, login: 'l', password: 'socks-secret-2' }, ovpn: { serial: 'ab'.repeat(16), issuedAt: new Date().toISOString(), revokedAt: null } }, reason: 'test', actor: 'test' });
    const file = path.join(tmp.path, 'ovpn', 'allocations.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ version: 1, ports: { [n.id]: 21007, gone: 21008 } }));

    const summary = await control.restore();
    expect(summary).toMatchObject({ restored: 1, failed: [] });
    expect(fs.existsSync(file)).toBe(false);
    expect(store.get(n.id)).toMatchObject({ ovpn: { port: 21007 }, gateway: 'local' });
    const start = gw.calls.find((c) => c.verb === 'start')!;
    expect(start.req).toMatchObject({ ovpn: true, keep: { socks: { port: 20002, password: 'socks-secret-2' }, ovpnPort: 21007 } });
    // On disk: a restarted bot finds the port in the record.
    await store.close();
    const reopened = await Store.open(tmp.path);
    expect(reopened.get(n.id)!.ovpn!.port).toBe(21007);
    await reopened.close();
  });

  it('a move cut short after the new gateway started leaves the node as it was: the new copy undone, the old profile still valid', async () => {
    const { store, gw, pki } = await setup();
    const gw2 = recordingGateway(async () => false, 'gw2');
    const control = new GatewayControl({ gateways: [gw, gw2], store, leases: new Leases(), log: createLogger('error', () => {}), pki, dataDir: tmp.path, tunnelOpenTimeoutMs: 5000 });
    const n = speedOk(store, '203.0.113.3');
    const r = await control.start(n);
    if (!r.ok) throw new Error(r.reason);
    store.transition({ id: n.id, from: 'speed_ok', to: 'online', patch: r.patch, reason: 'test', actor: 'test' });
    const online = store.get(n.id)!;
    const ac = new AbortController();
    ac.abort(new Error('deadline'));
    const moved = await control.move(online, 'gw2', ac.signal);
    expect(moved).toMatchObject({ ok: false, outcome: 'cancelled', hostSide: true });
    // Started on gw2, then stopped there; nothing asked of the old gateway; its profile not revoked.
    expect(gw2.calls.map((c) => c.verb)).toEqual(['start', 'stop']);
    expect(gw.calls.filter((c) => c.verb === 'stop')).toEqual([]);
    const p = await pki();
    expect(p.isRevoked(online.ovpn!.serial)).toBe(false);
    const issued = p.certs().filter((c) => c.nodeId === n.id);
    expect(issued).toHaveLength(2);
    expect(issued.find((c) => c.serial !== online.ovpn!.serial)!.revokedAt).not.toBeNull();
    await store.close();
  });
});
