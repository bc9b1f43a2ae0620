/**
 * The tunnel driver port: open a PPTP tunnel to a node with its credentials, hand back the
 * interface and addresses so a probe can bind to the tunnel's local address, close it without
 * leaving anything behind. TUNNEL_DRIVER picks the implementation (pppd, or none).
 */

/**
 * Why a tunnel did not come up.
 * - auth_failed: the server refused the credentials (the only real credential check there is);
 * - unreachable: no PPTP control connection could be made (refused, no route, closed at once);
 * - timeout: no tunnel within the deadline;
 * - protocol_error: the server answered but the PPP/PPTP negotiation failed (no MPPE, hang-up, ...);
 * - host_not_capable: THIS host cannot run tunnels (no kernel PPP, missing binaries, no privilege);
 * - bad_target: the node's record cannot be dialled by this driver (host name, port, credentials);
 * - local_error: something on this host broke (options file, spawn) — says nothing about the node;
 * - busy: another tunnel from this host to the same server address stayed open for the whole
 *   deadline (pptp shares one control connection per server address, and pptpd takes one call on
 *   it, so tunnels to one address are taken one at a time);
 * - cancelled: the caller's signal fired.
 * Only auth_failed, unreachable, timeout, protocol_error and bad_target are facts about the node.
 */
export type TunnelFailureKind =
  | 'auth_failed'
  | 'unreachable'
  | 'timeout'
  | 'protocol_error'
  | 'host_not_capable'
  | 'bad_target'
  | 'local_error'
  | 'busy'
  | 'cancelled';

/** Failures that say nothing about the node: a job keeps the node's status for these. */
export const HOST_SIDE_FAILURES: ReadonlySet<TunnelFailureKind> = new Set(['host_not_capable', 'local_error', 'busy', 'cancelled']);

export interface TunnelTarget {
  /** An IPv4 literal: the pppd driver passes it through pppd's `pty` option, which a shell runs. */
  ip: string;
  port: number;
  login: string;
  password: string;
}

export interface OpenOptions {
  /** The whole open (process start, PPTP, LCP, auth, IPCP, policy route) must finish within this. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface TunnelClosed {
  /** Why the tunnel went down: closed (by us), dropped (pppd exited on its own). */
  why: 'closed' | 'dropped';
  exitCode: number | null;
  reason: string;
}

export interface Tunnel {
  /** e.g. ppp0 */
  iface: string;
  /** Our end of the tunnel: bind sockets here to send through it (a policy route makes it so). */
  localAddress: string;
  /** The server's end. */
  remoteAddress: string;
  /** Milliseconds from open() to a usable tunnel. */
  setupMs: number;
  /** Resolves when the tunnel is down, whoever brought it down. */
  readonly closed: Promise<TunnelClosed>;
  /** Brings the tunnel down and removes everything it added. Idempotent; never rejects. */
  close(): Promise<void>;
}

export type OpenResult = { ok: true; tunnel: Tunnel } | { ok: false; kind: TunnelFailureKind; reason: string; elapsedMs: number };

export interface TunnelDriver {
  readonly name: string;
  open(target: TunnelTarget, opts: OpenOptions): Promise<OpenResult>;
}

/**
 * The outcome of a capability check: capable, or what is missing (`missing`), how to fix it (`fix`,
 * when known) and the whole as one line (`message`). Callers build their own sentences from the
 * structured parts (services/host-capability.ts), never by splitting `message`.
 */
export type Capability = { ok: true } | { ok: false; missing: string[]; message: string; fix?: string };
