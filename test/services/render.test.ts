import { describe, expect, it } from 'vitest';
import { layoutFor } from '../../src/services/ovpn/layout.ts';
import { quoteConfigWord, renderClientProfile, renderServerConfig } from '../../src/services/ovpn/render.ts';

const layout = layoutFor(21003);
const paths = { ca: '/d/pki/ca.crt', cert: '/d/pki/server.crt', key: '/d/pki/server.key', tlsCrypt: '/d/pki/tls-crypt.key', crl: '/d/pki/crl.pem', pidFile: '/d/ovpn/n7.pid' };

describe('server config', () => {
  it('serves one node: its port, subnet, device, CRL, and only its own client certificate', () => {
    const conf = renderServerConfig({ nodeId: 'n7', nodeLabel: '203.0.113.5 · US, Ohio\nAkron', layout, paths });
    const lines = conf.split('\n');
    for (const l of [
      'port 21003',
      'proto udp',
      'dev cxo21003',
      'dev-type tun',
      'topology subnet',
      `server ${layout.network} 255.255.255.0`,
      'ca /d/pki/ca.crt',
      'cert /d/pki/server.crt',
      'key /d/pki/server.key',
      'dh none',
      'tls-crypt /d/pki/tls-crypt.key',
      'crl-verify /d/pki/crl.pem',
      'remote-cert-tls client',
      'verify-x509-name connexa-node-n7 name',
      'push "redirect-gateway def1 ipv6 bypass-dhcp"',
      'writepid /d/ovpn/n7.pid',
    ]) expect(lines, l).toContain(l);
    // The label cannot inject a directive through a line break.
    expect(lines.filter((l) => l.startsWith('Akron'))).toHaveLength(0);
  });

  it('keeps client DNS and IPv6 inside the tunnel: IPv6 routed in and refused, the resolvers pushed', () => {
    const lines = renderServerConfig({ nodeId: 'n7', nodeLabel: 'x', layout, paths, dns: ['1.1.1.1', '9.9.9.9'] }).split('\n');
    for (const l of [
      'push "redirect-gateway def1 ipv6 bypass-dhcp"',
      'push "ifconfig-ipv6 fd63:6e78:6f76::2/64 fd63:6e78:6f76::1"',
      'push "block-ipv6"',
      'block-ipv6',
      'push "dhcp-option DNS 1.1.1.1"',
      'push "dhcp-option DNS 9.9.9.9"',
      'push "block-outside-dns"',
    ]) expect(lines, l).toContain(l);
    const none = renderServerConfig({ nodeId: 'n7', nodeLabel: 'x', layout, paths, dns: [] });
    expect(none).not.toContain('dhcp-option');
    expect(none).toContain('push "block-ipv6"');
  });

  it('lets several users share a node profile (duplicate-cn), and drops root after start when told to', () => {
    const lines = renderServerConfig({ nodeId: 'n7', nodeLabel: 'x', layout, paths, runAs: { user: 'nobody', group: 'nogroup' } }).split('\n');
    for (const l of ['duplicate-cn', 'persist-key', 'persist-tun', 'user nobody', 'group nogroup']) expect(lines, l).toContain(l);
    const root = renderServerConfig({ nodeId: 'n7', nodeLabel: 'x', layout, paths, runAs: null });
    expect(root).not.toMatch(/^(user|group) /m);
  });

  it('quotes paths with spaces and refuses line breaks', () => {
    expect(quoteConfigWord('/data dir/ca.crt')).toBe('"/data dir/ca.crt"');
    expect(quoteConfigWord('/plain/ca.crt')).toBe('/plain/ca.crt');
    expect(() => quoteConfigWord('/a\nkey /etc/shadow')).toThrow();
    const conf = renderServerConfig({ nodeId: 'n7', nodeLabel: 'x', layout, paths: { ...paths, ca: '/my data/ca.crt' } });
    expect(conf).toContain('ca "/my data/ca.crt"');
  });
});

describe('client profile', () => {
  const input = { nodeId: 'n7', nodeLabel: '203.0.113.5', remoteHost: 'vpn.example.net', port: 21003, caPem: '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n', certPem: '-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----', keyPem: '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n', tlsCryptKey: '#\n-----BEGIN OpenVPN Static key V1-----\nabc\n-----END OpenVPN Static key V1-----\n' };

  it('is self-contained: remote, server checks, and every key inline', () => {
    const p = renderClientProfile(input);
    const lines = p.split('\n');
    for (const l of ['client', 'dev tun', 'proto udp', 'remote vpn.example.net 21003', 'nobind', 'remote-cert-tls server', 'verify-x509-name connexa-server name']) expect(lines, l).toContain(l);
    expect(p).toContain('<ca>\n-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n</ca>');
    expect(p).toContain('<cert>\n-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n</cert>');
    expect(p).toContain('<key>\n-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n</key>');
    expect(p).toContain('<tls-crypt>\n#\n-----BEGIN OpenVPN Static key V1-----\nabc\n-----END OpenVPN Static key V1-----\n</tls-crypt>');
    expect(p).not.toMatch(/^(ca|cert|key|tls-crypt) /m); // nothing refers to a file on the bot host
  });

  it('refuses a remote host that is not a plain name or address', () => {
    expect(() => renderClientProfile({ ...input, remoteHost: 'a b' })).toThrow();
    expect(() => renderClientProfile({ ...input, remoteHost: 'x\nscript-security 2' })).toThrow();
    expect(renderClientProfile({ ...input, remoteHost: '198.51.100.7' })).toContain('remote 198.51.100.7 21003');
  });
});
