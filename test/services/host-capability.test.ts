/** The host's capability, asked in one place, and the refusals built from its structured parts. */
import { describe, expect, it } from 'vitest';
import { HostCapability, ovpnServerNote, tunnelRefusal } from '../../src/services/host-capability.ts';
import type { OvpnHost } from '../../src/services/ovpn/capability.ts';

const NO_PPP = { ok: false as const, missing: ['kernel PPP (no /dev/ppp)', 'pppd'], message: 'anything at all — not parsed', fix: 'use the VM lab (npm run test:vm)' };

describe('host capability', () => {
  it('no driver: tunnels are off whatever the host has, and start and speed say so in their own words', () => {
    const cap = new HostCapability({ TUNNEL_DRIVER: 'none', hasDriver: () => false, tunnels: () => ({ ok: true }) }).tunnels();
    expect(cap).toMatchObject({ ok: false, missing: ['a tunnel driver'] });
    expect(tunnelRefusal('start', cap)).toBe('start is off: TUNNEL_DRIVER=none, so no node tunnel can be opened — set TUNNEL_DRIVER=pppd on a host with kernel PPP, pppd and pptp');
    expect(tunnelRefusal('speed', cap)).toBe('speed tests are off: TUNNEL_DRIVER=none — set TUNNEL_DRIVER=pppd on a host with kernel PPP, pppd and pptp');
  });

  it('a host without PPP: the refusal names the missing pieces and the fix from the structured parts, never from the message', () => {
    const cap = new HostCapability({ TUNNEL_DRIVER: 'pppd', hasDriver: () => true, tunnels: () => NO_PPP }).tunnels();
    expect(tunnelRefusal('start', cap)).toBe('start needs a PPTP tunnel per node, which this host cannot open: missing kernel PPP (no /dev/ppp), pppd — use the VM lab (npm run test:vm)');
    expect(tunnelRefusal('speed', cap)).toBe('speed tests need PPTP tunnels, which this host cannot open: missing kernel PPP (no /dev/ppp), pppd — use the VM lab (npm run test:vm)');
    // Without a known fix, no dash and nothing invented.
    expect(tunnelRefusal('start', { ok: false, missing: ['pptp'], message: 'x — y' })).toBe('start needs a PPTP tunnel per node, which this host cannot open: missing pptp');
    expect(tunnelRefusal('start', { ok: true })).toBeNull();
  });

  it('the OpenVPN side is asked once and its note names what is missing', () => {
    let asked = 0;
    const host: OvpnHost = { capability: { ok: false, missing: ['the openvpn binary', 'nft'], message: 'm', fix: 'apt-get install -y openvpn nftables' }, openvpn: null, ip: null, nft: null };
    const c = new HostCapability({ TUNNEL_DRIVER: 'pppd', hasDriver: () => true, ovpn: () => (asked++, host) });
    expect(c.ovpn()).toBe(host);
    expect(c.ovpn()).toBe(host);
    expect(asked).toBe(1);
    expect(ovpnServerNote(c.ovpn().capability)).toBe('the OpenVPN server side is NOT running on this host (missing the openvpn binary, nft): profiles are issued, but they will not connect until it runs');
    expect(ovpnServerNote({ ok: true })).toBeNull();
  });
});
