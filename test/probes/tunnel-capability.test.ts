import { describe, expect, it } from 'vitest';
import { checkPppdHost, checkTunnelCapability, realHost, type HostProbe } from '../../src/probes/tunnel/capability.ts';

const ALL_CAPS = 0x1ffffffffffn;
function host(o: { files?: Record<string, string>; bins?: string[]; caps?: bigint | null; release?: string } = {}): HostProbe {
  const files = o.files ?? {};
  const bins = o.bins ?? ['pppd', 'pptp', 'ip', 'modprobe'];
  return {
    exists: (p) => p in files,
    readText: (p) => files[p] ?? null,
    which: (b) => (bins.includes(b) ? `/usr/sbin/${b}` : null),
    kernelRelease: () => o.release ?? '6.1.0-50-amd64',
    effectiveCaps: () => (o.caps === undefined ? ALL_CAPS : o.caps),
  };
}
const WITH_PPP = { '/dev/ppp': '', '/sys/module/ppp_generic': '', '/sys/module/ppp_mppe': '' };
const LOADABLE = {
  '/lib/modules/6.1.0-50-amd64/modules.dep': 'kernel/drivers/net/ppp/ppp_generic.ko: kernel/drivers/net/slip/slhc.ko\nkernel/drivers/net/ppp/ppp_mppe.ko: kernel/drivers/net/ppp/ppp_generic.ko kernel/lib/crypto/libarc4.ko\n',
};

describe('the capability check', () => {
  it('a host with /dev/ppp, MPPE, pppd, pptp, ip and CAP_NET_ADMIN is capable', () => {
    const c = checkPppdHost(host({ files: WITH_PPP }));
    expect(c.capability).toEqual({ ok: true });
    expect(c.modprobe).toBeNull();
    expect(c.pppdPath).toBe('/usr/sbin/pppd');
  });

  it('loadable modules count as capable; the driver will modprobe them', () => {
    const c = checkPppdHost(host({ files: LOADABLE }));
    expect(c.capability).toEqual({ ok: true });
    expect(c.modprobe).toEqual(['/usr/sbin/modprobe', '-a', 'ppp_generic', 'ppp_async', 'ppp_mppe']);
  });

  it('no kernel PPP: one line that says what is missing and what to do', () => {
    const c = checkPppdHost(host({ release: '6.18.44-fc' }));
    expect(c.capability.ok).toBe(false);
    if (c.capability.ok) return;
    expect(c.capability.message).not.toContain('\n');
    expect(c.capability.message).toBe(
      "speed tests need PPTP tunnels, which this host cannot open: missing kernel PPP (no /dev/ppp and no ppp_generic module for kernel 6.18.44-fc) — run on a host whose kernel has PPP (e.g. Debian's stock kernel) or use the VM lab (npm run test:vm)",
    );
  });

  it('missing binaries name their Debian packages', () => {
    const c = checkPppdHost(host({ files: WITH_PPP, bins: ['ip'] }));
    expect(c.capability.ok).toBe(false);
    if (c.capability.ok) return;
    expect(c.capability.missing).toEqual(['pppd', 'pptp']);
    expect(c.capability.message).toMatch(/missing pppd, pptp — apt-get install -y ppp pptp-linux$/);
  });

  it('no MPPE, no modprobe, no privilege: each said once, in one line', () => {
    const noMppe = checkPppdHost(host({ files: { '/dev/ppp': '', '/sys/module/ppp_generic': '' } })).capability;
    expect(!noMppe.ok && noMppe.message).toMatch(/missing MPPE \(no ppp_mppe module/);
    const noModprobe = checkPppdHost(host({ files: LOADABLE, bins: ['pppd', 'pptp', 'ip'] })).capability;
    expect(!noModprobe.ok && noModprobe.message).toMatch(/missing modprobe .*apt-get install -y kmod/);
    const noPriv = checkPppdHost(host({ files: WITH_PPP, caps: 0n })).capability;
    expect(!noPriv.ok && noPriv.message).toMatch(/missing permission to run pppd and add routes \(CAP_NET_ADMIN\) — run connexa as root or grant it CAP_NET_ADMIN$/);
  });

  it('TUNNEL_DRIVER=none refuses clearly', () => {
    const c = checkTunnelCapability('none', host({ files: WITH_PPP }));
    expect(c).toEqual({ ok: false, missing: ['a tunnel driver'], message: 'speed tests are off: TUNNEL_DRIVER=none — set TUNNEL_DRIVER=pppd on a host with kernel PPP, pppd and pptp', fix: 'set TUNNEL_DRIVER=pppd on a host with kernel PPP, pppd and pptp' });
  });

  it('THIS machine kind has no kernel PPP: the real check refuses and says so', () => {
    const c = checkTunnelCapability('pppd', realHost);
    if (realHost.exists('/dev/ppp') || realHost.exists('/sys/module/ppp_generic')) return; // a PPP-capable host runs this file too
    expect(c.ok).toBe(false);
    expect(!c.ok && c.message).toMatch(/^speed tests need PPTP tunnels, which this host cannot open: missing kernel PPP/);
  });
});
