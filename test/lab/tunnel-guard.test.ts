/**
 * A hostile node: the PPTP server at the far end of a node's tunnel tries to reach this host and,
 * with ip_forward on (as the OpenVPN side sets it), what this host can route to. Root; iproute2,
 * nftables, curl. The tunnel is a veth into the peer's namespace (veth-tunnel.ts):
 *
 *   [client ns] 10.213.B.2 ── 10.213.B.1 [host: the bot, its SOCKS proxy, an HTTP listener on 0.0.0.0]
 *                                        │ 10.214.X.1 = node egress (the "tunnel")
 *                                        └── 10.214.X.2 [peer ns: the node; HTTP on 10.213.A.5]
 *
 * Checked: from the peer, new connections to the host (its tunnel address and its other addresses)
 * and through the host to the client namespace fail; the SOCKS proxy through the same tunnel still
 * reaches the peer's web server (replies come in); the guard goes with the node.
 * Run: flock /tmp/connexa-lab.lock npx vitest run -c vitest.lab.config.ts test/lab/tunnel-guard.test.ts
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetNode } from '../../src/fleet/node.ts';
import { confirmed } from '../kit/confirmed.ts';
import { OPERATOR } from '../kit/app.ts';
import { curlViaSocks } from '../services/helpers.ts';
import { servicesApp, speedOkNodes, testRanges, type ServicesTestApp } from '../kit/services-app.ts';
import { createNamespacePair, NODE_HOST_TOOLS, requireLab, type NamespacePair } from './netns.ts';
import { VethTunnelDriver } from './veth-tunnel.ts';

const WEB_PORT = 8080;
const WEB_SCRIPT = `require('http').createServer((q, s) => s.end('you are ' + q.socket.remoteAddress + '\\n')).listen(${WEB_PORT}, '0.0.0.0', () => console.log('listening'))`;
const INNER_PORT = 8081;
const INNER_SCRIPT = `require('http').createServer((q, s) => s.end('inner\\n')).listen(${INNER_PORT}, '0.0.0.0', () => console.log('listening'))`;

let peer: NamespacePair | undefined;
let client: NamespacePair | undefined;
let driver: VethTunnelDriver;
let t: ServicesTestApp | undefined;
let hostServer: http.Server | undefined;
let hostPort: number;
let webAddr: string;
let forwardingBefore: string | undefined;

const node = (): FleetNode => structuredClone(t!.app.store.nodes()[0]!);

/** curl from inside a namespace (async: the host listener answers from this very process). */
function curlIn(ns: string, url: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns, 'curl', '-sS', '--max-time', '3', url], { encoding: 'utf8' }, (err, stdout) => resolve({ code: err ? Number((err as { code?: unknown }).code) : 0, out: stdout }));
  });
}

describe('a node tunnel lets in only replies (lab)', () => {
  beforeAll(async () => {
    requireLab(NODE_HOST_TOOLS);
    forwardingBefore = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    // What the OpenVPN side does on a real host: the attack below needs it on.
    fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', '1\n');
    peer = await createNamespacePair({ prefix: 'cnxpeer' });
    client = await createNamespacePair({ prefix: 'cnxcli' });
    webAddr = peer.routedAddress(1);
    await peer.exec('ip', ['addr', 'add', `${webAddr}/32`, 'dev', 'lo']);
    peer.spawn(process.execPath, ['-e', WEB_SCRIPT]);
    await peer.waitForListener(WEB_PORT);
    client.spawn(process.execPath, ['-e', INNER_SCRIPT]);
    await client.waitForListener(INNER_PORT);
    await client.exec('ip', ['route', 'add', 'default', 'via', client.hostAddr]);
    hostServer = http.createServer((_q, s) => s.end('host\n'));
    await new Promise<void>((r) => hostServer!.listen(0, '0.0.0.0', r));
    hostPort = (hostServer.address() as AddressInfo).port;
    driver = new VethTunnelDriver(peer.ns);
    t = await servicesApp({
      driver,
      env: { ...testRanges(31100, 20), SOCKS_BIND: client.hostAddr, SOCKS_PUBLIC_HOST: client.hostAddr, OVPN_PUBLIC_HOST: client.hostAddr },
      gateway: {
        tunnelCapability: () => ({ ok: true }),
        lookup: async (name) => {
          throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
        },
      },
    });
    speedOkNodes(t.app.store, [{ ip: '203.0.113.30' }]);
    expect((await t.run('start', OPERATOR)).kind).toBe('ok');
    await t.app.jobs.idle();
    expect(node().status, JSON.stringify(node().history.at(-1))).toBe('online');
  });

  afterAll(async () => {
    await t?.dispose();
    await driver?.closeAll();
    await client?.cleanup();
    await peer?.cleanup();
    hostServer?.close();
    if (forwardingBefore !== undefined) fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', `${forwardingBefore}\n`);
  });

  it('the peer cannot open a connection to this host, nor through it to another namespace; the proxy still works', async () => {
    const n = node();
    const egress = t!.host.status(n.id)!.tunnel!;
    const peerIf = `${egress.iface}p`;
    // The host listener answers where it is allowed to (the client's side), so a failure below is the guard.
    expect(await curlIn(client!.ns, `http://${client!.hostAddr}:${hostPort}/`)).toEqual({ code: 0, out: 'host\n' });
    // The hostile peer routes the client's network at us, through the tunnel.
    await peer!.exec('ip', ['route', 'add', client!.linkPrefix, 'via', egress.localAddress, 'dev', peerIf]);
    expect((await curlIn(peer!.ns, `http://${egress.localAddress}:${hostPort}/`)).code).toBe(28); // the host, on the tunnel address
    expect((await curlIn(peer!.ns, `http://${client!.hostAddr}:${hostPort}/`)).code).toBe(28); // the host, on another address
    expect((await curlIn(peer!.ns, `http://${client!.nsAddr}:${INNER_PORT}/`)).code).toBe(28); // another namespace, forwarded
    // Replies to what this host opened still come in: the proxy reaches the peer's web server.
    const r = await curlViaSocks({ proxyHost: n.socks!.host, proxyPort: n.socks!.port, creds: n.socks, url: `http://${webAddr}:${WEB_PORT}/`, netns: client!.ns });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`you are ${egress.localAddress}\n`);
  });

  it('the rules go with the node', async () => {
    const iface = t!.host.status(node().id)!.tunnel!.iface;
    const guarded = () => execFileSync('nft', ['list', 'set', 'inet', 'connexa', 'guarded'], { encoding: 'utf8' });
    expect(guarded()).toContain(`"${iface}"`);
    // No rule per node in the host's shared chains.
    expect(execFileSync('iptables', ['-w', '-S'], { encoding: 'utf8' })).not.toContain(iface);
    expect((await confirmed(t!.run, 'stop all', OPERATOR)).kind).toBe('ok');
    await t!.app.jobs.idle();
    expect(node().status).toBe('speed_ok');
    expect(guarded()).not.toContain(`"${iface}"`);
  });
});
