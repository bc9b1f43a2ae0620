/**
 * What this host can do, asked in one place: open PPTP tunnels (kernel PPP, pppd, CAP_NET_ADMIN, a
 * configured driver) and run OpenVPN servers (openvpn, ip, nft, /dev/net/tun). Answers are structured
 * Capability values (what is missing, how to fix it); the refusals below are built from those parts.
 */
import { checkTunnelCapability, NO_TUNNEL_DRIVER } from '../probes/tunnel/capability.ts';
import type { Capability } from '../probes/tunnel/types.ts';
import { checkOvpnHost, type OvpnHost } from './ovpn/capability.ts';

export interface HostCapabilityOptions {
  TUNNEL_DRIVER: 'pppd' | 'none';
  /** Whether a tunnel driver exists at all (none: tunnels are off whatever the host has). */
  hasDriver: () => boolean;
  /** Default: checkTunnelCapability(TUNNEL_DRIVER). Tests describe any host here. */
  tunnels?: () => Capability;
  /** Default: checkOvpnHost(). */
  ovpn?: () => OvpnHost;
}

const DRIVER_OFF: Capability = { ok: false, missing: [NO_TUNNEL_DRIVER], message: 'tunnels are off: TUNNEL_DRIVER=none', fix: 'set TUNNEL_DRIVER=pppd on a host with kernel PPP, pppd and pptp' };

export class HostCapability {
  private ovpnCache: OvpnHost | null = null;
  private readonly o: HostCapabilityOptions;
  constructor(o: HostCapabilityOptions) {
    this.o = o;
  }

  /** Asked each time: a host may gain PPP (modprobe) while the bot runs. */
  tunnels(): Capability {
    if (!this.o.hasDriver()) return DRIVER_OFF;
    return (this.o.tunnels ?? (() => checkTunnelCapability(this.o.TUNNEL_DRIVER)))();
  }

  /** Asked once: the servers' binaries and paths are fixed for the life of the process. */
  ovpn(): OvpnHost {
    this.ovpnCache ??= (this.o.ovpn ?? (() => checkOvpnHost()))();
    return this.ovpnCache;
  }
}

/** One line when `cap` says tunnels cannot be opened, for `what` (e.g. "start"), else null. */
export function tunnelRefusal(what: 'start' | 'speed', cap: Capability): string | null {
  if (cap.ok) return null;
  const fix = cap.fix ? ` — ${cap.fix}` : '';
  if (cap.missing.includes(NO_TUNNEL_DRIVER)) {
    return what === 'start' ? `start is off: TUNNEL_DRIVER=none, so no node tunnel can be opened${fix}` : `speed tests are off: TUNNEL_DRIVER=none${fix}`;
  }
  const need = what === 'start' ? 'start needs a PPTP tunnel per node' : 'speed tests need PPTP tunnels';
  return `${need}, which this host cannot open: missing ${cap.missing.join(', ')}${fix}`;
}

/** Said wherever profiles are handed out while the host that serves them cannot run their servers. */
export function ovpnServerNote(cap: Capability): string | null {
  if (cap.ok) return null;
  return `the OpenVPN server side is NOT running on this host (missing ${cap.missing.join(', ')}): profiles are issued, but they will not connect until it runs`;
}
