/**
 * Can this host run the OpenVPN server side? It needs the openvpn binary, /dev/net/tun, `ip` and
 * `nft` (policy routing and SNAT into the node's tunnel), and CAP_NET_ADMIN. When it cannot,
 * profiles are still issued and every reply says plainly that the server side is not running here.
 */
import { readFileSync } from 'node:fs';
import { realHost, type HostProbe } from '../../probes/tunnel/capability.ts';
import type { Capability } from '../../probes/tunnel/types.ts';

const CAP_NET_ADMIN = 12n;

export interface OvpnHost {
  capability: Capability;
  openvpn: string | null;
  ip: string | null;
  nft: string | null;
  /** Only to sweep the iptables rules a crashed older Connexa left; not needed otherwise. */
  iptables?: string | null;
  /**
   * The account the servers switch to once started (`user`/`group`), or null when this host has
   * none we can use (not root, or no `nobody` account): then they keep running as root.
   */
  runAs?: { user: string; group: string } | null;
}

/** `nobody` with `nogroup` (Debian) or `nobody` (Red Hat) as its group, when we can switch to it. */
export function unprivilegedAccount(): { user: string; group: string } | null {
  if (process.getuid?.() !== 0) return null;
  const names = (file: string) => {
    try {
      return new Set(readFileSync(file, 'utf8').split('\n').map((l) => l.split(':')[0]));
    } catch {
      return new Set<string>();
    }
  };
  if (!names('/etc/passwd').has('nobody')) return null;
  const groups = names('/etc/group');
  const group = groups.has('nogroup') ? 'nogroup' : groups.has('nobody') ? 'nobody' : null;
  return group ? { user: 'nobody', group } : null;
}

export function checkOvpnHost(host: HostProbe = realHost): OvpnHost {
  const missing: string[] = [];
  const pkgs: string[] = [];
  const openvpn = host.which('openvpn');
  const ip = host.which('ip');
  const nft = host.which('nft');
  const iptables = host.which('iptables');
  if (!openvpn) {
    missing.push('the openvpn binary');
    pkgs.push('openvpn');
  }
  if (!ip) {
    missing.push('ip');
    pkgs.push('iproute2');
  }
  if (!nft) {
    missing.push('nft');
    pkgs.push('nftables');
  }
  const fixes = pkgs.length ? [`apt-get install -y ${pkgs.join(' ')}`] : [];
  if (!host.exists('/dev/net/tun')) {
    missing.push('/dev/net/tun');
    fixes.push('load the tun module (modprobe tun) or give the container /dev/net/tun');
  }
  const caps = host.effectiveCaps();
  if (caps !== null && ((caps >> CAP_NET_ADMIN) & 1n) === 0n) {
    missing.push('CAP_NET_ADMIN');
    fixes.push('run connexa as root or grant it CAP_NET_ADMIN');
  }
  if (!missing.length) return { capability: { ok: true }, openvpn, ip, nft, iptables, runAs: unprivilegedAccount() };
  return {
    capability: { ok: false, missing, message: `the OpenVPN server side cannot run on this host: missing ${missing.join(', ')} — ${fixes.join('; ')}`, fix: fixes.join('; ') },
    openvpn,
    ip,
    nft,
    iptables,
  };
}
