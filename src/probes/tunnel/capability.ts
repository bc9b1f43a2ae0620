/**
 * Can this host open PPTP tunnels at all? Checked at start-up and before every speed job, so an
 * incapable host refuses with one line instead of marking a fleet failed.
 *
 * Needed: kernel PPP (/dev/ppp, or a ppp_generic module that modprobe can load) with MPPE, the
 * pppd and pptp binaries, and the privilege to run pppd and add routes (root / CAP_NET_ADMIN).
 * Every probe of the system goes through a HostProbe so the tests can describe any host.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Capability } from './types.ts';

export interface HostProbe {
  exists(p: string): boolean;
  readText(p: string): string | null;
  /** Absolute path of an executable found on PATH or in the sbin directories, or null. */
  which(bin: string): string | null;
  kernelRelease(): string;
  /** Effective capabilities as a bit mask (CapEff in /proc/self/status), or null when unknown. */
  effectiveCaps(): bigint | null;
}

const CAP_NET_ADMIN = 12n;
const SBIN = ['/usr/sbin', '/sbin', '/usr/local/sbin'];

/** The path of an executable on PATH or in the sbin directories (pppd lives there), or null. */
export function findExecutable(bin: string): string | null {
  for (const d of [...(process.env.PATH ?? '').split(':'), ...SBIN]) {
    if (!d) continue;
    const p = path.join(d, bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next directory
    }
  }
  return null;
}

export const realHost: HostProbe = {
  exists: (p) => fs.existsSync(p),
  readText: (p) => {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      return null;
    }
  },
  which: (bin) => findExecutable(bin),
  kernelRelease: () => os.release(),
  effectiveCaps: () => {
    const m = realHost.readText('/proc/self/status')?.match(/^CapEff:\s*([0-9a-f]+)$/m);
    return m ? BigInt(`0x${m[1]}`) : null;
  },
};

/** Is kernel module `name` built in, loaded, or present for the running kernel? */
function moduleAvailable(host: HostProbe, name: string): 'loaded' | 'loadable' | 'absent' {
  if (host.exists(`/sys/module/${name}`)) return 'loaded';
  const dir = `/lib/modules/${host.kernelRelease()}`;
  const builtin = host.readText(`${dir}/modules.builtin`) ?? '';
  if (new RegExp(`/${name}\\.ko\\b`).test(builtin)) return 'loaded';
  const dep = host.readText(`${dir}/modules.dep`) ?? '';
  if (new RegExp(`(^|/)${name}\\.ko(\\.(xz|zst|gz))?:`, 'm').test(dep)) return 'loadable';
  return 'absent';
}

export interface PppdCapability {
  capability: Capability;
  /** Set when kernel PPP is loadable but not loaded: the driver runs `modprobe` with these first. */
  modprobe: string[] | null;
  pppdPath: string | null;
  pptpPath: string | null;
}

export function checkPppdHost(host: HostProbe = realHost): PppdCapability {
  const missing: string[] = [];
  const fixes: string[] = [];
  let modprobe: string[] | null = null;

  const devPpp = host.exists('/dev/ppp');
  const generic = moduleAvailable(host, 'ppp_generic');
  const mppe = moduleAvailable(host, 'ppp_mppe');
  if (!devPpp && generic === 'absent') {
    missing.push(`kernel PPP (no /dev/ppp and no ppp_generic module for kernel ${host.kernelRelease()})`);
    fixes.push('run on a host whose kernel has PPP (e.g. Debian\'s stock kernel) or use the VM lab (npm run test:vm)');
  } else if (mppe === 'absent') {
    missing.push(`MPPE (no ppp_mppe module for kernel ${host.kernelRelease()})`);
    fixes.push('use a kernel built with CONFIG_PPP_MPPE');
  } else if (!devPpp || generic === 'loadable' || mppe === 'loadable') {
    const modprobePath = host.which('modprobe');
    if (!modprobePath) {
      missing.push('modprobe (kernel PPP is a module that is not loaded)');
      fixes.push('apt-get install -y kmod, or load it once: modprobe -a ppp_generic ppp_async ppp_mppe');
    } else modprobe = [modprobePath, '-a', 'ppp_generic', 'ppp_async', 'ppp_mppe'];
  }

  const pppdPath = host.which('pppd');
  const pptpPath = host.which('pptp');
  const pkgs: string[] = [];
  if (!pppdPath) {
    missing.push('pppd');
    pkgs.push('ppp');
  }
  if (!pptpPath) {
    missing.push('pptp');
    pkgs.push('pptp-linux');
  }
  if (!host.which('ip')) {
    missing.push('ip');
    pkgs.push('iproute2');
  }
  if (pkgs.length) fixes.push(`apt-get install -y ${pkgs.join(' ')}`);

  const caps = host.effectiveCaps();
  if (caps !== null && ((caps >> CAP_NET_ADMIN) & 1n) === 0n) {
    missing.push('permission to run pppd and add routes (CAP_NET_ADMIN)');
    fixes.push('run connexa as root or grant it CAP_NET_ADMIN');
  }

  if (!missing.length) return { capability: { ok: true }, modprobe, pppdPath, pptpPath };
  const message = `speed tests need PPTP tunnels, which this host cannot open: missing ${missing.join(', ')} — ${fixes.join('; ')}`;
  return { capability: { ok: false, missing, message, fix: fixes.join('; ') }, modprobe, pppdPath, pptpPath };
}

/** What `missing` names when no tunnel driver is configured (TUNNEL_DRIVER=none): tunnels are off, not broken. */
export const NO_TUNNEL_DRIVER = 'a tunnel driver';

/** The capability of the configured driver (TUNNEL_DRIVER). */
export function checkTunnelCapability(driver: 'pppd' | 'none', host: HostProbe = realHost): Capability {
  if (driver === 'none') {
    return { ok: false, missing: [NO_TUNNEL_DRIVER], message: 'speed tests are off: TUNNEL_DRIVER=none — set TUNNEL_DRIVER=pppd on a host with kernel PPP, pppd and pptp', fix: 'set TUNNEL_DRIVER=pppd on a host with kernel PPP, pppd and pptp' };
  }
  return checkPppdHost(host).capability;
}
