/**
 * start / stop / bundle through the real dispatcher, job runner and store, with a loopback tunnel
 * driver (each tunnel is a distinct 127.77.x.y egress address) and the OpenVPN server side reported
 * as not runnable (the lab test runs the real openvpn). curl is the SOCKS client.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OvpnHost } from '../../src/services/ovpn/capability.ts';
import { Pki } from '../../src/services/ovpn/pki.ts';
import { anyDestination } from '../../src/services/socks/destinations.ts';
import { confirmed } from '../kit/confirmed.ts';
import { OPERATOR, VIEWER } from '../kit/app.ts';
import { curlViaSocks, RawSocks, whoAmIServer, type WhoAmI } from '../services/helpers.ts';
import { privateZips, servicesApp, speedOkNodes, testRanges, type ServicesTestApp, type ServicesTestOptions } from '../kit/services-app.ts';
import { LoopbackTunnelDriver } from '../services/loopback-tunnel.ts';

const NO_OPENVPN: OvpnHost = { capability: { ok: false, missing: ['the openvpn binary'], message: 'x' }, openvpn: null, ip: null, nft: null };

let web: WhoAmI;
let t: ServicesTestApp | null = null;
let driver: LoopbackTunnelDriver;

beforeAll(async () => {
  web = await whoAmIServer('127.0.0.1');
});
afterAll(async () => web.close());
afterEach(async () => {
  await t?.dispose();
  t = null;
});

async function app(o: Partial<ServicesTestOptions> & { env?: Record<string, string> } = {}): Promise<ServicesTestApp> {
  driver = new LoopbackTunnelDriver();
  t = await servicesApp({
    driver,
    ...o,
    env: { ...testRanges(26000), SOCKS_BIND: '127.0.0.1', OVPN_PUBLIC_HOST: 'vpn.example.net', ...o.env },
    gateway: { tunnelCapability: () => ({ ok: true }), ovpnHost: () => NO_OPENVPN, allowDestination: anyDestination, tunnelBackoff: { firstMs: 50, maxMs: 200 }, ...o.gateway },
  });
  return t;
}

const curlAs = (n: { socks: { port: number; login: string; password: string } | null }, creds = n.socks) =>
  curlViaSocks({ proxyHost: '127.0.0.1', proxyPort: n.socks!.port, creds: creds ? { login: creds.login, password: creds.password } : null, url: web.url() });

function unzipList(a: ServicesTestApp, data: Buffer): { entries: string[]; read(e: string): string } {
  const p = path.join(a.dir, `b-${Math.random().toString(36).slice(2)}.zip`);
  fs.writeFileSync(p, data);
  return { entries: execFileSync('unzip', ['-Z1', p], { encoding: 'utf8' }).trim().split('\n'), read: (e) => execFileSync('unzip', ['-p', p, e], { encoding: 'utf8' }) };
}

describe('start', () => {
  it('refuses with one line, before any job, when the host cannot open tunnels', async () => {
    const a = await app({ gateway: { tunnelCapability: () => ({ ok: false, missing: ['kernel PPP (no /dev/ppp)'], message: 'speed tests need PPTP tunnels, which this host cannot open: missing kernel PPP (no /dev/ppp) — use the VM lab (npm run test:vm)', fix: 'use the VM lab (npm run test:vm)' }) } });
    speedOkNodes(a.app.store, [{ ip: '203.0.113.1' }]);
    const out = await a.run('start', OPERATOR);
    expect(out).toMatchObject({ kind: 'failed', message: 'start needs a PPTP tunnel per node, which this host cannot open: missing kernel PPP (no /dev/ppp) — use the VM lab (npm run test:vm)' });
    expect(a.app.store.jobs()).toHaveLength(0);
    expect(a.app.store.nodes()[0]!.status).toBe('speed_ok');
    expect(a.port.privateText().split('\n')).toHaveLength(1);
  });

  it('TUNNEL_DRIVER=none refuses too', async () => {
    const a = await app({ driver: null });
    speedOkNodes(a.app.store, [{ ip: '203.0.113.1' }]);
    expect(await a.run('start', OPERATOR)).toMatchObject({ kind: 'failed', message: expect.stringContaining('TUNNEL_DRIVER=none') });
  });

  it('puts speed_ok nodes online: a proxy each, bound to its own egress; the bundle goes by DM; nothing secret in public', async () => {
    const a = await app();
    const nodes = speedOkNodes(a.app.store, [{ ip: '203.0.113.1' }, { ip: '203.0.113.2' }, { ip: '203.0.113.3' }]);
    a.app.store.addNodes([{ ip: '203.0.113.9', login: 'u', password: 'p' }], 'test'); // not_tested: not selected
    expect((await a.run('start', OPERATOR)).kind).toBe('ok');
    expect(a.port.privateText()).toContain('Starting 3 nodes');
    expect(a.port.privateText()).toContain('the OpenVPN server side is NOT running on this host (missing the openvpn binary)');
    await a.app.jobs.idle();
    const online = nodes.map((n) => a.app.store.get(n.id)!);
    expect(online.map((n) => n.status)).toEqual(['online', 'online', 'online']);
    const ports = online.map((n) => n.socks!.port);
    expect(new Set(ports).size).toBe(3);
    const [from, to] = a.config.SOCKS_PORT_RANGE ? [a.config.SOCKS_PORT_RANGE.from, a.config.SOCKS_PORT_RANGE.to] : [0, 0];
    for (const p of ports) expect(p >= from && p <= to).toBe(true);
    for (const n of online) {
      expect(n.socks!.host).toBe('127.0.0.1');
      expect(n.socks!.password).toMatch(/^[A-Za-z0-9]{24}$/);
      expect(n.ovpn).toMatchObject({ serial: expect.stringMatching(/^[0-9a-f]{32}$/), revokedAt: null });
      expect(n.history.at(-1)).toMatchObject({ from: 'speed_ok', to: 'online' });
    }
    // Each proxy leaves from its own tunnel's address.
    const seen = new Set<string>();
    for (const n of online) {
      const r = await curlAs(n);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^you are 127\.77\.\d+\.\d+\n$/);
      seen.add(r.stdout);
      expect(a.host.status(n.id)!.tunnel!.localAddress).toBe(r.stdout.trim().slice('you are '.length));
    }
    expect(seen.size).toBe(3);
    // The bundle: one zip by DM, with the three profiles and socks.txt; the channel saw no secret.
    const zips = privateZips(a.port);
    expect(zips).toHaveLength(1);
    expect(a.port.calls.find((c) => c.verb === 'sendDirect' && c.msg.files?.length)).toBeDefined();
    const z = unzipList(a, zips[0]!.data);
    expect(z.entries.sort()).toEqual(['README.txt', 'n1-203.0.113.1.ovpn', 'n2-203.0.113.2.ovpn', 'n3-203.0.113.3.ovpn', 'socks.txt']);
    expect(z.read('socks.txt').trim().split('\n').sort()).toEqual(online.map((n) => `127.0.0.1:${n.socks!.port}:${n.socks!.login}:${n.socks!.password}`).sort());
    expect(z.read('n1-203.0.113.1.ovpn')).toContain('remote vpn.example.net ');
    expect(z.read('README.txt')).toContain('NOTE: the OpenVPN server side is NOT running on this host');
    const publicText = a.port.publicText();
    expect(publicText).toContain('✅ **start j1** finished');
    for (const n of online) {
      expect(publicText).not.toContain(n.socks!.password);
      expect(publicText).not.toContain(n.password);
    }
    for (const l of a.logs) for (const n of online) expect(l).not.toContain(n.socks!.password);
  });

  it('a node whose tunnel fails stays speed_ok with the reason in the failure thread; nothing is left allocated', async () => {
    const a = await app();
    const [good, bad] = speedOkNodes(a.app.store, [{ ip: '203.0.113.1' }, { ip: '203.0.113.2', login: 'wrong' }]);
    driver.failures.set('wrong', { kind: 'auth_failed', reason: 'the server refused the credentials (MS-CHAP authentication failed: Access denied)' });
    const before = await a.gateways.capacity();
    await a.run('start', OPERATOR);
    await a.app.jobs.idle();
    expect(a.app.store.get(good!.id)!.status).toBe('online');
    const b = a.app.store.get(bad!.id)!;
    expect(b.status).toBe('speed_ok');
    expect(b.socks).toBeNull();
    const thread = a.port.calls.find((c) => c.verb === 'post' && c.where.startsWith('thread:'));
    expect(thread?.verb === 'post' && thread.msg.text).toContain('auth_failed');
    expect(thread?.verb === 'post' && thread.msg.text).toContain('MS-CHAP authentication failed');
    const after = await a.gateways.capacity();
    expect(after).toEqual({ socks: before.socks - 1, ovpn: before.ovpn - 1 });
    expect(driver.liveCount()).toBe(1);
  });

  it('refuses a selection larger than the free ports, with the range named', async () => {
    const a = await app({ env: { SOCKS_PORT_RANGE: '28990-28991' } });
    speedOkNodes(a.app.store, [{ ip: '203.0.113.1' }, { ip: '203.0.113.2' }, { ip: '203.0.113.3' }]);
    expect(await a.run('start', OPERATOR)).toMatchObject({ kind: 'failed', message: 'only 2 ports free in SOCKS_PORT_RANGE 28990-28991 for 3 nodes: select fewer (e.g. `limit:2`) or widen the range' });
    expect(a.app.store.jobs()).toHaveLength(0);
  });

  it('many nodes at once: every node its own port, even when a port is taken by another program', async () => {
    const a = await app();
    const range = a.config.SOCKS_PORT_RANGE;
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(range.from + 1, '127.0.0.1', r));
    const nodes = speedOkNodes(a.app.store, Array.from({ length: 20 }, (_, i) => ({ ip: `203.0.113.${i + 1}` })));
    await a.run('start', OPERATOR);
    await a.app.jobs.idle();
    const ports = nodes.map((n) => a.app.store.get(n.id)!.socks!.port);
    expect(new Set(ports).size).toBe(20);
    expect(ports).not.toContain(range.from + 1);
    squatter.close();
  });
});

describe('stop', () => {
  it('needs a filter; then takes nodes to speed_ok, closes the proxy, revokes the profile, closes the tunnel', async () => {
    const a = await app();
    const [n] = speedOkNodes(a.app.store, [{ ip: '203.0.113.1' }]);
    await a.run('start', OPERATOR);
    await a.app.jobs.idle();
    const live = structuredClone(a.app.store.get(n!.id)!);
    expect((await curlAs(live)).code).toBe(0);
    expect(await a.run('stop', OPERATOR)).toMatchObject({ kind: 'failed', message: expect.stringContaining('stop needs a filter') });
    expect((await confirmed(a.run, 'stop status:online', OPERATOR)).kind).toBe('ok');
    await a.app.jobs.idle();
    const stopped = a.app.store.get(n!.id)!;
    expect(stopped.status).toBe('speed_ok');
    expect(stopped.socks).toBeNull();
    expect(stopped.ovpn).toMatchObject({ serial: live.ovpn!.serial, revokedAt: expect.any(String) });
    expect((await curlAs(live)).code).toBe(7); // nothing listens any more: curl cannot connect
    const crl = execFileSync('openssl', ['crl', '-in', path.join(a.config.dataDir, 'pki', 'crl.pem'), '-noout', '-text'], { encoding: 'utf8' });
    expect(crl.toLowerCase()).toContain(live.ovpn!.serial);
    expect(driver.liveCount()).toBe(0);
    expect(await a.run('bundle', OPERATOR)).toMatchObject({ kind: 'failed' });
    // Started again, it gets fresh credentials and a new certificate.
    await a.run('start', OPERATOR);
    await a.app.jobs.idle();
    const again = a.app.store.get(n!.id)!;
    expect(again.status).toBe('online');
    expect(again.socks!.password).not.toBe(live.socks!.password);
    expect(again.ovpn!.serial).not.toBe(live.ovpn!.serial);
    expect((await curlAs(again, live.socks)).code).toBe(97); // the old password is refused
  });

  it('a stop whose revocation cannot be written leaves the node online, and the next stop revokes it', async () => {
    const a = await app();
    const [n] = speedOkNodes(a.app.store, [{ ip: '203.0.113.1' }]);
    await a.run('start', OPERATOR);
    await a.app.jobs.idle();
    const live = structuredClone(a.app.store.get(n!.id)!);
    const crlFile = path.join(a.config.dataDir, 'pki', 'crl.pem');
    // A non-empty directory where crl.pem goes: its atomic replace fails, as on a full disk.
    fs.renameSync(crlFile, `${crlFile}.saved`);
    fs.mkdirSync(path.join(crlFile, 'x'), { recursive: true });
    await confirmed(a.run, 'stop status:online', OPERATOR);
    await a.app.jobs.idle();
    expect(a.app.store.get(n!.id)).toMatchObject({ status: 'online', ovpn: { serial: live.ovpn!.serial, revokedAt: null } });
    expect((await curlAs(live)).code).toBe(0); // nothing torn down: the stop is reported as not done
    fs.rmSync(crlFile, { recursive: true });
    fs.renameSync(`${crlFile}.saved`, crlFile);
    await confirmed(a.run, 'stop status:online', OPERATOR);
    await a.app.jobs.idle();
    expect(a.app.store.get(n!.id)).toMatchObject({ status: 'speed_ok', ovpn: { serial: live.ovpn!.serial, revokedAt: expect.any(String) } });
    const crl = execFileSync('openssl', ['crl', '-in', crlFile, '-noout', '-text'], { encoding: 'utf8' });
    expect(crl.toLowerCase()).toContain(live.ovpn!.serial);
  });
  it('a certificate no node names (its revocation failed before a restart) is revoked at the next start-up', async () => {
    const a = await app();
    const [n] = speedOkNodes(a.app.store, [{ ip: '203.0.113.1' }]);
    await a.run('start', OPERATOR);
    await a.app.jobs.idle();
    const live = a.app.store.get(n!.id)!;
    const ghost = await (await Pki.open(path.join(a.config.dataDir, 'pki'))).issueClient(n!.id);
    await a.restart();
    const pki = await Pki.open(path.join(a.config.dataDir, 'pki'));
    expect(pki.isRevoked(ghost.serial)).toBe(true);
    expect(pki.isRevoked(live.ovpn!.serial)).toBe(false);
    const crl = execFileSync('openssl', ['crl', '-in', pki.paths.crl, '-noout', '-text'], { encoding: 'utf8' }).toLowerCase();
    expect(crl).toContain(ghost.serial);
  });
});

describe('restart and tunnel drops', () => {
  it('a restarted bot brings the proxies back on the same ports and credentials, tunnels reopened', async () => {
    const a = await app();
    const nodes = speedOkNodes(a.app.store, [{ ip: '203.0.113.1' }, { ip: '203.0.113.2' }]);
    await a.run('start', OPERATOR);
    await a.app.jobs.idle();
    const before = nodes.map((n) => a.app.store.get(n.id)!);
    const summary = await a.restart();
    expect(summary).toMatchObject({ restored: 2, tunnelDown: 0, failed: [] });
    for (const b of before) {
      const n = a.app.store.get(b.id)!;
      expect(n.status).toBe('online');
      expect(n.socks).toEqual(b.socks);
      const r = await curlAs(n);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^you are 127\.77\./);
    }
    // Bundles after the restart carry the same certificates.
    await a.run('bundle', OPERATOR);
    const z = unzipList(a, privateZips(a.port).at(-1)!.data);
    expect(z.read('n1-203.0.113.1.ovpn')).toContain('<cert>');
    expect(driver.opens).toBe(4);
  });

  it('a dropped tunnel is reopened; meanwhile the proxy refuses rather than leaving by another path', async () => {
    const a = await app({ gateway: { tunnelCapability: () => ({ ok: true }), ovpnHost: () => NO_OPENVPN, allowDestination: anyDestination, tunnelBackoff: { firstMs: 400, maxMs: 400 } } });
    const [n] = speedOkNodes(a.app.store, [{ ip: '203.0.113.1' }]);
    await a.run('start', OPERATOR);
    await a.app.jobs.idle();
    const node = a.app.store.get(n!.id)!;
    const first = (await curlAs(node)).stdout;
    // A relay open through the tunnel when it drops is closed at once, not at the idle timeout.
    const relay = await RawSocks.connect(node.socks!.port);
    expect(await relay.login(node.socks!.login, node.socks!.password)).toBe(0);
    expect(await relay.connectIPv4('127.0.0.1', web.port)).toBe(0);
    expect(driver.drop('203.0.113.1')).toBe(1);
    expect(await relay.waitClosed(1000)).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(a.host.status(node.id)!.tunnel).toBeNull();
    expect((await curlAs(node)).code).toBe(97);
    for (let i = 0; i < 100 && !a.host.status(node.id)!.tunnel; i++) await new Promise((r) => setTimeout(r, 20));
    const second = await curlAs(node);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toBe(first); // a new tunnel, a new address
  });

  it('the monitor check: ok while up, tunnel_down after a drop, and it resumes services a restore could not bring back', async () => {
    const a = await app({ gateway: { tunnelCapability: () => ({ ok: true }), ovpnHost: () => NO_OPENVPN, allowDestination: anyDestination, tunnelBackoff: { firstMs: 60_000, maxMs: 60_000 } } });
    const [n] = speedOkNodes(a.app.store, [{ ip: '203.0.113.1' }]);
    await a.run('start', OPERATOR);
    await a.app.jobs.idle();
    const check = a.gateways.monitorCheck();
    const signal = new AbortController().signal;
    expect(await check(a.app.store.get(n!.id)!, signal)).toEqual({ ok: true });
    driver.drop('203.0.113.1');
    await new Promise((r) => setTimeout(r, 20));
    expect(await check(a.app.store.get(n!.id)!, signal)).toMatchObject({ ok: false, outcome: 'tunnel_down' });

    // After a restart the proxy's port is held by another program: restore fails for the node ...
    const port = a.app.store.get(n!.id)!.socks!.port;
    await a.gateways.close();
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', r));
    const summary = await a.restart();
    expect(summary.failed).toEqual([{ nodeId: n!.id, reason: expect.stringContaining(`SOCKS port ${port} cannot be bound`) }]);
    const check2 = a.gateways.monitorCheck();
    expect(await check2(a.app.store.get(n!.id)!, signal)).toMatchObject({ ok: false, outcome: 'services_down' });
    // ... and the monitor's next check brings it back once the port is free: same port, same credentials.
    await new Promise<void>((r) => squatter.close(() => r()));
    expect(await check2(a.app.store.get(n!.id)!, signal)).toEqual({ ok: true });
    expect((await curlAs(a.app.store.get(n!.id)!)).code).toBe(0);
  });

  it('restores proxies even when the tunnel cannot be opened, and keeps retrying', async () => {
    const a = await app();
    const [n] = speedOkNodes(a.app.store, [{ ip: '203.0.113.1', login: 'flaky' }]);
    await a.run('start', OPERATOR);
    await a.app.jobs.idle();
    driver.failures.set('flaky', { kind: 'unreachable', reason: 'no answer' });
    const summary = await a.restart();
    expect(summary).toMatchObject({ restored: 1, tunnelDown: 1 });
    const node = a.app.store.get(n!.id)!;
    expect((await curlAs(node)).code).toBe(97);
    driver.failures.delete('flaky');
    for (let i = 0; i < 100 && !a.host.status(node.id)?.tunnel; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await curlAs(node)).code).toBe(0);
  });
});

describe('bundle, reconcile, retire', () => {
  it('bundle is for operators, goes privately, and splits under the platform limit', async () => {
    const a = await app({ limits: { maxFileBytes: 12 * 1024 } });
    speedOkNodes(a.app.store, Array.from({ length: 12 }, (_, i) => ({ ip: `203.0.113.${i + 1}` })));
    await a.run('start', OPERATOR);
    await a.app.jobs.idle();
    a.port.clear();
    expect(await a.run('bundle', VIEWER)).toMatchObject({ kind: 'denied' });
    expect((await a.run('bundle', OPERATOR)).kind).toBe('ok');
    const zips = privateZips(a.port);
    expect(zips.length).toBeGreaterThan(1);
    const lines: string[] = [];
    for (const z of zips) {
      expect(z.data.length).toBeLessThanOrEqual(12 * 1024);
      lines.push(...unzipList(a, z.data).read('socks.txt').trim().split('\n'));
    }
    expect(lines).toHaveLength(12);
    expect(a.port.publicText()).toMatch(/^Sent otto a bundle of 12 nodes \(.*\) privately in \d+ zips\.$/m);
    for (const n of a.app.store.nodes()) expect(a.port.publicText()).not.toContain(n.socks!.password);
  });

  it('reconcile tears down services of a node that is no longer online; retire (for delete) revokes and frees', async () => {
    const a = await app();
    const [x, y] = speedOkNodes(a.app.store, [{ ip: '203.0.113.1' }, { ip: '203.0.113.2' }]);
    await a.run('start', OPERATOR);
    await a.app.jobs.idle();
    const nx = structuredClone(a.app.store.get(x!.id)!);
    // Someone else moved it meanwhile (what a lost compare-and-set looks like afterwards).
    a.app.store.transition({ id: nx.id, from: 'online', to: 'speed_ok', reason: 'test', actor: 'test' });
    expect(await a.gateways.reconcile()).toBe(1);
    expect(a.host.status(nx.id)).toBeNull();
    expect((await curlAs(nx)).code).toBe(7);
    expect(a.host.socksPorts.ownerOf(nx.socks!.port)).toBeUndefined();
    expect(a.app.store.get(nx.id)).toMatchObject({ status: 'speed_ok', socks: null, ovpn: { revokedAt: expect.any(String) } });
    const ny = structuredClone(a.app.store.get(y!.id)!);
    await a.gateways.retire([ny]);
    expect(a.host.status(ny.id)).toBeNull();
    const crl = execFileSync('openssl', ['crl', '-in', path.join(a.config.dataDir, 'pki', 'crl.pem'), '-noout', '-text'], { encoding: 'utf8' }).toLowerCase();
    expect(crl).toContain(nx.ovpn!.serial);
    expect(crl).toContain(ny.ovpn!.serial);
    expect(driver.liveCount()).toBe(0);
  });

  it('a node deleted behind the services back: reconcile revokes its certificate and frees its ports', async () => {
    const a = await app();
    const [x] = speedOkNodes(a.app.store, [{ ip: '203.0.113.1' }]);
    await a.run('start', OPERATOR);
    await a.app.jobs.idle();
    const nx = structuredClone(a.app.store.get(x!.id)!);
    a.app.store.deleteNodes([nx.id], a.app.jobs.leases.isLeased);
    expect(await a.gateways.reconcile()).toBe(1);
    expect((await curlAs(nx)).code).toBe(7);
    expect(a.host.socksPorts.ownerOf(nx.socks!.port)).toBeUndefined();
    const crl = execFileSync('openssl', ['crl', '-in', path.join(a.config.dataDir, 'pki', 'crl.pem'), '-noout', '-text'], { encoding: 'utf8' }).toLowerCase();
    expect(crl).toContain(nx.ovpn!.serial);
  });

  it('shutdown closes every proxy and tunnel and revokes nothing', async () => {
    const a = await app();
    const [n] = speedOkNodes(a.app.store, [{ ip: '203.0.113.1' }]);
    await a.run('start', OPERATOR);
    await a.app.jobs.idle();
    const node = a.app.store.get(n!.id)!;
    await a.gateways.close();
    expect(driver.liveCount()).toBe(0);
    expect((await curlAs(node)).code).toBe(7);
    const crl = execFileSync('openssl', ['crl', '-in', path.join(a.config.dataDir, 'pki', 'crl.pem'), '-noout', '-text'], { encoding: 'utf8' });
    expect(crl).toContain('No Revoked Certificates');
  });
});
