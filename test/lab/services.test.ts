/**
 * Services end to end with real peers, in network namespaces (root; iproute2, nftables, openvpn,
 * curl, unzip). This host has no kernel PPP, so the node's tunnel is a veth into the lab namespace
 * (veth-tunnel.ts) with the same policy routing the pppd driver sets up. Topology:
 *
 *   [client ns] 10.213.B.2 ── 10.213.B.1 [host: the bot, its SOCKS proxies and OpenVPN servers]
 *                                        │ 10.214.X.1 = node egress (one veth "tunnel" per node)
 *                                        └── 10.214.X.2 [web ns: "the internet", HTTP on 10.213.A.5]
 *
 * Checked: curl (in the client ns) through a started node's proxy reaches the web server, which sees
 * the node's egress address, and bytes cross the node's tunnel interface; wrong/no credentials are
 * refused (exit 97); the Debian openvpn client with the .ovpn from the bundle zip completes
 * "Initialization Sequence Completed" against the server the bot started, and its traffic leaves
 * through the node's tunnel; a restarted bot serves the same proxy and profile; after `stop` the
 * profile is refused (CRL) by any server. Run: npx vitest run -c vitest.lab.config.ts test/lab/services.test.ts
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetNode } from '../../src/fleet/node.ts';
import { confirmed } from '../kit/confirmed.ts';
import { OPERATOR } from '../kit/app.ts';
import { curlViaSocks } from '../services/helpers.ts';
import { privateZips, servicesApp, speedOkNodes, testRanges, type ServicesTestApp } from '../kit/services-app.ts';
import { runOvpnClient } from '../services/ovpn-client.ts';
import { createNamespacePair, NODE_HOST_TOOLS, requireLab, type NamespacePair } from './netns.ts';
import { VethTunnelDriver } from './veth-tunnel.ts';

const WEB_PORT = 8080;
/** A tiny HTTP server for inside the web namespace: answers with the address it saw. */
const WEB_SCRIPT = `require('http').createServer((q, s) => s.end('you are ' + q.socket.remoteAddress + '\\n')).listen(${WEB_PORT}, '0.0.0.0', () => console.log('listening'))`;

let web: NamespacePair | undefined;
let client: NamespacePair | undefined;
let driver: VethTunnelDriver;
let t: ServicesTestApp | undefined;
let webAddr: string;
let forwardingBefore: string;
const timings: Record<string, number[]> = { startMs: [], tunnelSetupMs: [], ovpnHandshakeMs: [] };

const txBytes = (iface: string) => Number(fs.readFileSync(`/sys/class/net/${iface}/statistics/tx_bytes`, 'utf8'));
const node = (ip: string): FleetNode => structuredClone(t!.app.store.nodes().find((n) => n.ip === ip)!);

function unzipBundle(data: Buffer): { entries: string[]; read(e: string): string } {
  const p = path.join(t!.dir, `bundle-${Date.now()}-${Math.random().toString(36).slice(2)}.zip`);
  fs.writeFileSync(p, data);
  return { entries: execFileSync('unzip', ['-Z1', p], { encoding: 'utf8' }).trim().split('\n'), read: (e) => execFileSync('unzip', ['-p', p, e], { encoding: 'utf8' }) };
}

const viaProxy = (n: FleetNode, creds: { login: string; password: string } | null, url = `http://web.lab.test:${WEB_PORT}/`) =>
  curlViaSocks({ proxyHost: n.socks!.host, proxyPort: n.socks!.port, creds, url, netns: client!.ns });

describe('services with real peers (lab)', () => {
  beforeAll(async () => {
    requireLab([
      ...NODE_HOST_TOOLS,
      { bin: 'openvpn', pkg: 'openvpn' },
      { bin: 'unzip', pkg: 'unzip' },
    ]);
    forwardingBefore = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    web = await createNamespacePair({ prefix: 'cnxweb' });
    client = await createNamespacePair({ prefix: 'cnxcli' });
    webAddr = web.routedAddress(1);
    await web.exec('ip', ['addr', 'add', `${webAddr}/32`, 'dev', 'lo']);
    web.spawn(process.execPath, ['-e', WEB_SCRIPT]);
    await web.waitForListener(WEB_PORT);
    // The client's "ISP": a default route to the host, as a user at home has (openvpn needs one for def1).
    await client.exec('ip', ['route', 'add', 'default', 'via', client.hostAddr]);
    // The web namespace can answer the client directly (for the "without the proxy" comparison).
    await web.exec('ip', ['route', 'add', client.linkPrefix, 'via', web.hostAddr]);
    // ... and VPN clients too, should their packets ever leave by the host's own routes (a leak
    // would then show up as "you are 100.64.x.y" instead of timing out unseen).
    await web.exec('ip', ['route', 'add', '100.64.0.0/10', 'via', web.hostAddr]);
    driver = new VethTunnelDriver(web.ns);
    t = await servicesApp({
      driver,
      env: { ...testRanges(31000, 20), SOCKS_BIND: client.hostAddr, SOCKS_PUBLIC_HOST: client.hostAddr, OVPN_PUBLIC_HOST: client.hostAddr },
      gateway: {
        tunnelCapability: () => ({ ok: true }),
        tunnelBackoff: { firstMs: 300, maxMs: 1000 },
        // A name for the web server, resolved by the proxy as the client asks (socks5h).
        lookup: async (name) => {
          if (name === 'web.lab.test') return webAddr;
          throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
        },
      },
    });
    speedOkNodes(t.app.store, [{ ip: '203.0.113.10' }, { ip: '203.0.113.20' }]);
  });

  afterAll(async () => {
    await t?.dispose();
    await driver?.closeAll();
    await client?.cleanup();
    await web?.cleanup();
    if (forwardingBefore !== undefined) fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', `${forwardingBefore}\n`);
    // eslint-disable-next-line no-console
    console.log(`lab figures: ${JSON.stringify(timings)}`);
  });

  it('start: both nodes online, an OpenVPN server per node, the bundle by DM', async () => {
    expect((await t!.run('start', OPERATOR)).kind).toBe('ok');
    expect(t!.port.privateText()).not.toContain('NOT running');
    await t!.app.jobs.idle();
    for (const ip of ['203.0.113.10', '203.0.113.20']) {
      const n = node(ip);
      expect(n.status, JSON.stringify(n.history.at(-1))).toBe('online');
      const st = t!.host.status(n.id)!;
      expect(st.ovpnServer).toBe(true);
      expect(st.tunnel!.localAddress).toMatch(/^10\.214\.\d+\.1$/);
    }
    expect(privateZips(t!.port)).toHaveLength(1);
    expect(t!.app.jobs.list()).toHaveLength(0);
  });

  it('curl through the proxy reaches the web namespace from the node egress, across the node tunnel', async () => {
    const n = node('203.0.113.10');
    const egress = t!.host.status(n.id)!.tunnel!;
    const before = txBytes(egress.iface);
    const r = await viaProxy(n, n.socks);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`you are ${egress.localAddress}\n`);
    expect(txBytes(egress.iface) - before).toBeGreaterThan(100); // the request left by the tunnel link
    // The other node leaves by its own tunnel.
    const m = node('203.0.113.20');
    expect((await viaProxy(m, m.socks)).stdout).toBe(`you are ${t!.host.status(m.id)!.tunnel!.localAddress}\n`);
    // Without the proxy the client reaches the same server from its own address: the proxy made the difference.
    expect(execFileSync('ip', ['netns', 'exec', client!.ns, 'curl', '-sS', '--max-time', '10', `http://${webAddr}:${WEB_PORT}/`], { encoding: 'utf8' })).toBe(`you are ${client!.nsAddr}\n`);
  });

  it('wrong password, wrong login or no credentials: refused, curl exit 97', async () => {
    const n = node('203.0.113.10');
    const seen = [
      // The last character changed (to one it is not: a password ending in x stays wrong too).
      await viaProxy(n, { login: n.socks!.login, password: `${n.socks!.password.slice(0, -1)}${n.socks!.password.endsWith('x') ? 'y' : 'x'}` }),
      await viaProxy(n, { login: 'cxnobody', password: n.socks!.password }),
      await viaProxy(n, null),
      // Another node's credentials do not open this node's proxy.
      await viaProxy(n, node('203.0.113.20').socks),
    ];
    for (const r of seen) expect(r.code, r.stderr).toBe(97);
  });

  it('the bundle zip holds a working profile: openvpn completes the handshake and its traffic leaves by the node tunnel', async () => {
    const zip = unzipBundle(privateZips(t!.port)[0]!.data);
    const n = node('203.0.113.10');
    expect(zip.entries).toContain('n1-203.0.113.10.ovpn');
    expect(zip.read('socks.txt')).toContain(`${n.socks!.host}:${n.socks!.port}:${n.socks!.login}:${n.socks!.password}`);
    const profile = zip.read('n1-203.0.113.10.ovpn');
    expect(profile).toContain(`remote ${client!.hostAddr} `);
    const vpn = await runOvpnClient({ profile, netns: client!.ns });
    try {
      expect(vpn.connected, vpn.output.slice(-2000)).toBe(true);
      timings.ovpnHandshakeMs!.push(vpn.ms);
      // The client's traffic now goes through the VPN, and out of the node's tunnel (SNAT to its egress).
      const egress = t!.host.status(n.id)!.tunnel!;
      const out = execFileSync('ip', ['netns', 'exec', client!.ns, 'curl', '-sS', '--max-time', '10', `http://${webAddr}:${WEB_PORT}/`], { encoding: 'utf8' });
      expect(out).toBe(`you are ${egress.localAddress}\n`);
    } finally {
      await vpn.stop();
    }
  });

  it('the profile keeps DNS and IPv6 inside, may be shared by two users at once, and its server runs as nobody', async () => {
    const n = node('203.0.113.10');
    const profile = unzipBundle(privateZips(t!.port)[0]!.data).read('n1-203.0.113.10.ovpn');
    const vpn = await runOvpnClient({ profile, netns: client!.ns });
    try {
      expect(vpn.connected, vpn.output.slice(-2000)).toBe(true);
      expect(vpn.output).toMatch(/PUSH_REPLY.*dhcp-option DNS 1\.1\.1\.1/);
      expect(vpn.output).toMatch(/PUSH_REPLY.*block-ipv6/);
      // IPv6 goes into the tunnel (where block-ipv6 answers it), not out of the user's own link.
      const dev = /dev (\S+)/.exec(execFileSync('ip', ['netns', 'exec', client!.ns, 'ip', '-6', 'route', 'get', '2001:db8::1'], { encoding: 'utf8' }))![1]!;
      expect(fs.existsSync(`/sys/class/net/${dev}`)).toBe(false); // the client's tun lives in its namespace only
      expect(execFileSync('ip', ['netns', 'exec', client!.ns, 'ip', '-o', 'link', 'show', 'dev', dev], { encoding: 'utf8' })).toContain('POINTOPOINT');
      // A second user of the same profile connects and the first one stays connected.
      const second = await runOvpnClient({ profile, netns: client!.ns, handshakeOnly: true });
      try {
        expect(second.connected, second.output.slice(-1500)).toBe(true);
        const out = execFileSync('ip', ['netns', 'exec', client!.ns, 'curl', '-sS', '--max-time', '10', `http://${webAddr}:${WEB_PORT}/`], { encoding: 'utf8' });
        expect(out).toBe(`you are ${t!.host.status(n.id)!.tunnel!.localAddress}\n`);
      } finally {
        await second.stop();
      }
      // The server switched to nobody after start, reading the CRL copy it still can.
      const pid = fs.readFileSync(path.join(t!.config.dataDir, 'ovpn', `${n.id}.pid`), 'utf8').trim();
      expect(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    } finally {
      await vpn.stop();
    }
  });

  it('a restarted bot serves the same proxy (same port and credentials) and the same profile', async () => {
    const before = node('203.0.113.10');
    const profile = unzipBundle(privateZips(t!.port)[0]!.data).read('n1-203.0.113.10.ovpn');
    const summary = await t!.restart();
    expect(summary).toMatchObject({ restored: 2, tunnelDown: 0, failed: [] });
    const after = node('203.0.113.10');
    expect(after.socks).toEqual(before.socks);
    const r = await viaProxy(after, after.socks);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`you are ${t!.host.status(after.id)!.tunnel!.localAddress}\n`);
    const vpn = await runOvpnClient({ profile, netns: client!.ns, handshakeOnly: true });
    await vpn.stop();
    expect(vpn.connected, vpn.output.slice(-1500)).toBe(true);
  });

  it('after stop the same profile is refused: by no server, by the node restarted, by another node', async () => {
    const n = node('203.0.113.10');
    const profile = unzipBundle(privateZips(t!.port)[0]!.data).read('n1-203.0.113.10.ovpn');
    const port = Number(/^remote \S+ (\d+)$/m.exec(profile)![1]);
    expect((await confirmed(t!.run, 'stop 203.0.113.10', OPERATOR)).kind).toBe('ok');
    await t!.app.jobs.idle();
    expect(node('203.0.113.10')).toMatchObject({ status: 'speed_ok', socks: null, ovpn: { revokedAt: expect.any(String) } });
    expect((await viaProxy(n, n.socks)).code).toBe(7); // the proxy is gone

    const asIs = await runOvpnClient({ profile, netns: client!.ns, handshakeOnly: true });
    await asIs.stop();
    expect(asIs.connected).toBe(false);

    // Started again: a new server (new port) with a new certificate. The old profile, pointed at it, is refused by the CRL.
    t!.port.clear();
    await t!.run('start 203.0.113.10', OPERATOR);
    await t!.app.jobs.idle();
    const fresh = unzipBundle(privateZips(t!.port)[0]!.data).read('n1-203.0.113.10.ovpn');
    const newPort = Number(/^remote \S+ (\d+)$/m.exec(fresh)![1]);
    t!.logs.length = 0;
    const retargeted = await runOvpnClient({ profile: profile.replace(`remote ${client!.hostAddr} ${port}`, `remote ${client!.hostAddr} ${newPort}`), netns: client!.ns, handshakeOnly: true });
    await retargeted.stop();
    expect(retargeted.connected).toBe(false);
    expect(t!.logs.join('\n')).toContain('certificate revoked');
    const ok = await runOvpnClient({ profile: fresh, netns: client!.ns, handshakeOnly: true });
    await ok.stop();
    expect(ok.connected, ok.output.slice(-1500)).toBe(true);
    timings.ovpnHandshakeMs!.push(ok.ms);

    // The other node's server refuses it too (revoked, and not that node's certificate anyway).
    const otherProfile = (await t!.gateways.bundle([node('203.0.113.20')])).nodes[0]!.profile!;
    const otherPort = Number(/^remote \S+ (\d+)$/m.exec(otherProfile)![1]);
    const cross = await runOvpnClient({ profile: profile.replace(`remote ${client!.hostAddr} ${port}`, `remote ${client!.hostAddr} ${otherPort}`), netns: client!.ns, handshakeOnly: true });
    await cross.stop();
    expect(cross.connected).toBe(false);
  });

  it('a dropped tunnel: proxy and VPN clients are cut off (kill switch), then follow the reopened tunnel', async () => {
    const n = node('203.0.113.20');
    const profile = (await t!.gateways.bundle([n])).nodes[0]!.profile!;
    const vpn = await runOvpnClient({ profile, netns: client!.ns });
    const viaVpn = () => {
      try {
        return execFileSync('ip', ['netns', 'exec', client!.ns, 'curl', '-sS', '--max-time', '3', `http://${webAddr}:${WEB_PORT}/`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch {
        return 'failed';
      }
    };
    try {
      expect(vpn.connected, vpn.output.slice(-1500)).toBe(true);
      const before = t!.host.status(n.id)!.tunnel!;
      expect(viaVpn()).toBe(`you are ${before.localAddress}\n`);
      // The kill switch is there all along, under the tunnel's route: no window when the device vanishes.
      const table = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).split('\n').filter((l) => / table (2[7-9]|3[0-3])\d{4}/.test(l));
      expect(table.some((l) => l.startsWith(`default via 10.214.`) && l.includes(before.iface) && l.includes('metric 100'))).toBe(true);
      expect(table.some((l) => l.startsWith('unreachable default') && l.includes('metric 4294967295'))).toBe(true);
      // The device vanishes before anyone notices (what the kernel does when pppd dies): no leak, at once.
      execFileSync('ip', ['link', 'del', before.iface]);
      expect(viaVpn()).toBe('failed');
      expect(await driver.drop('203.0.113.20')).toBe(1);
      await new Promise((r) => setTimeout(r, 100));
      expect(t!.host.status(n.id)!.tunnel).toBeNull();
      // Nothing leaves by the host's own route meanwhile: the subnet's table answers "unreachable".
      expect(execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' })).toMatch(/unreachable default table (2[7-9]|3[0-3])\d{4}/);
      expect(viaVpn()).toBe('failed');
      expect((await viaProxy(n, n.socks)).code).toBe(97);
      // The keeper reopens it (backoff 300 ms in this test); both paths follow the new egress.
      for (let i = 0; i < 100 && !t!.host.status(n.id)!.tunnel; i++) await new Promise((r) => setTimeout(r, 50));
      const after = t!.host.status(n.id)!.tunnel!;
      expect(after.localAddress).not.toBe(before.localAddress);
      expect((await viaProxy(n, n.socks)).stdout).toBe(`you are ${after.localAddress}\n`);
      expect(viaVpn()).toBe(`you are ${after.localAddress}\n`);
    } finally {
      await vpn.stop();
    }
  });

  it('an OpenVPN server that dies is restarted by its supervisor, routing and all', async () => {
    const n = node('203.0.113.20');
    const pidFile = path.join(t!.config.dataDir, 'ovpn', `${n.id}.pid`);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const check = t!.gateways.monitorCheck();
    expect(await check(n, new AbortController().signal)).toMatchObject({ ok: false, outcome: 'ovpn_down' });
    for (let i = 0; i < 100 && Number(fs.readFileSync(pidFile, { encoding: 'utf8', flag: 'a+' }) || 0) === pid; i++) await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 100 && !t!.host.status(n.id)!.ovpnServer; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300)); // routing is re-installed right after "ready"
    expect(await check(n, new AbortController().signal)).toEqual({ ok: true });
    const profile = (await t!.gateways.bundle([n])).nodes[0]!.profile!;
    const vpn = await runOvpnClient({ profile, netns: client!.ns });
    try {
      expect(vpn.connected, vpn.output.slice(-1500)).toBe(true);
      const out = execFileSync('ip', ['netns', 'exec', client!.ns, 'curl', '-sS', '--max-time', '10', `http://${webAddr}:${WEB_PORT}/`], { encoding: 'utf8' });
      expect(out).toBe(`you are ${t!.host.status(n.id)!.tunnel!.localAddress}\n`);
    } finally {
      await vpn.stop();
    }
  });

  it('start time per node, and nothing left behind after shutdown', async () => {
    // Time a fresh start of a third node, end to end (tunnel, proxy, certificate, OpenVPN server).
    speedOkNodes(t!.app.store, [{ ip: '203.0.113.30' }]);
    const m = node('203.0.113.30');
    const r = await t!.gateways.start(m);
    if (!r.ok) throw new Error(r.reason);
    timings.startMs!.push(r.services.startMs);
    timings.tunnelSetupMs!.push(r.services.tunnel!.setupMs);
    await t!.gateways.stop({ ...m, ...r.patch });
    await t!.gateways.close();
    expect(execFileSync('ip', ['-4', 'rule', 'show', 'pref', '17724'], { encoding: 'utf8' }).trim()).toBe('');
    for (const table of ['nat', 'mangle', 'filter']) expect(execFileSync('iptables', ['-w', '-t', table, '-S'], { encoding: 'utf8' })).not.toContain('connexa-ovpn:');
    expect(execFileSync('iptables', ['-w', '-S'], { encoding: 'utf8' })).not.toContain('connexa-guard:');
    // Connexa's nftables table goes whole.
    expect(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' })).not.toContain('inet connexa');
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toMatch(/cxo\d+/);
  });
});
