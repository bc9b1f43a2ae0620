/**
 * Reads what pppd (with `logfd 1 nodetach`) and its pptp child print, line by line, into the state
 * of one tunnel, and turns pppd's exit code plus that state into a typed failure.
 *
 * Lines pppd 2.4.9 prints (shared/notes/vm-lab.md, verified against Debian's pptpd):
 *   Using interface ppp0
 *   CHAP authentication succeeded
 *   MPPE 128-bit stateless compression enabled
 *   local  IP address 192.168.77.10        (two spaces)
 *   remote IP address 192.168.77.1
 *   MS-CHAP authentication failed: Access denied / CHAP authentication failed   -> exit 19
 */
import type { TunnelFailureKind } from './types.ts';

export interface PppdState {
  iface: string | null;
  localAddress: string | null;
  remoteAddress: string | null;
  authOk: boolean;
  /** The server's words when it refused the credentials. */
  authFailed: string | null;
  mppe: boolean;
  /** pptp could not open the control connection (refused, no route). */
  connectFailed: string | null;
  /** The last line that reads like an error, for reasons. */
  lastError: string | null;
  /** pppd gave up LCP or IPCP negotiation (no answer, or rejected options). */
  negotiationFailed: string | null;
}

export function initialState(): PppdState {
  return { iface: null, localAddress: null, remoteAddress: null, authOk: false, authFailed: null, mppe: false, connectFailed: null, lastError: null, negotiationFailed: null };
}

const IPV4 = '(\\d{1,3}(?:\\.\\d{1,3}){3})';
const RULES: Array<{ re: RegExp; apply: (s: PppdState, m: RegExpMatchArray, line: string) => void }> = [
  { re: /^Using interface (ppp\d+)\b/, apply: (s, m) => (s.iface = m[1]!) },
  { re: new RegExp(`^local\\s+IP address ${IPV4}`), apply: (s, m) => (s.localAddress = m[1]!) },
  { re: new RegExp(`^remote\\s+IP address ${IPV4}`), apply: (s, m) => (s.remoteAddress = m[1]!) },
  { re: /^(?:MS-)?CHAP authentication succeeded/, apply: (s) => (s.authOk = true) },
  {
    re: /^(?:MS-)?CHAP authentication failed(?::\s*(.*))?|^CHAP authentication failed|authentication failed/i,
    apply: (s, m, line) => {
      // Keep the server's own words ("Access denied", "E=691 ...") when it gave them.
      if (!s.authFailed || m[1]) s.authFailed = (m[1] ?? line).trim() || line;
    },
  },
  { re: /^MPPE \d+-bit .*enabled/, apply: (s) => (s.mppe = true) },
  {
    re: /Could not open control connection|connect: (?:Connection refused|No route to host|Network is unreachable|Connection timed out)|Connection refused|No route to host|Network is unreachable/i,
    apply: (s, _m, line) => (s.connectFailed ??= line.replace(/^.*?(?:pptp\[\d+\]:\s*|anon log\[[^\]]*\]\s*)/, '').trim()),
  },
  { re: /LCP: timeout sending Config-Requests|IPCP: timeout sending Config-Requests|MPPE required but peer negotiation failed|MPPE required, but kernel has no support|Peer refused to agree to our IP address|No network protocols running/, apply: (s, _m, line) => (s.negotiationFailed ??= line.trim()) },
];

/** Folds one output line into the state. Returns true when the line changed something. */
export function parseLine(state: PppdState, raw: string): boolean {
  const line = raw.replace(/\r$/, '').trim();
  if (!line) return false;
  let hit = false;
  for (const r of RULES) {
    const m = line.match(r.re);
    if (m) {
      r.apply(state, m, line);
      hit = true;
    }
  }
  if (/fail|error|refused|denied|timeout|terminated|hangup|cannot|can't|lacks/i.test(line) && !/succeeded/.test(line)) state.lastError = line;
  return hit;
}

export function tunnelReady(s: PppdState): boolean {
  return s.iface !== null && s.localAddress !== null && s.remoteAddress !== null;
}

/** pppd's exit statuses (pppd(8), "EXIT STATUS"). */
export const PPPD_EXIT: Readonly<Record<number, string>> = {
  0: 'exited normally',
  1: 'fatal error',
  2: 'option error',
  3: 'not run as root',
  4: 'the kernel has no PPP support',
  5: 'terminated by a signal',
  6: 'serial port lock failed',
  7: 'serial port open failed',
  8: 'connect script failed',
  9: 'pty command failed',
  10: 'PPP negotiation failed',
  11: 'the peer failed to authenticate',
  12: 'idle timeout',
  13: 'connect time limit',
  14: 'callback',
  15: 'the peer stopped answering LCP echoes',
  16: 'the link hung up',
  17: 'loopback detected',
  18: 'init script failed',
  19: 'authentication to the peer failed',
  20: 'traffic limit',
  21: 'CNID authentication failed',
};

export interface ExitClassification {
  kind: TunnelFailureKind;
  reason: string;
}

/**
 * Why pppd exited before the tunnel was up, as a typed failure. The exit code decides where it is
 * unambiguous (19 = the server refused our credentials; 4 = no kernel PPP); the output decides the
 * rest (a hang-up before any PPP traffic is an unreachable server, after it a protocol failure).
 */
export function classifyExit(code: number | null, signal: string | null, s: PppdState): ExitClassification {
  const detail = s.lastError ? `: ${s.lastError}` : '';
  if (code === 19 || s.authFailed) return { kind: 'auth_failed', reason: `the server refused the credentials${s.authFailed ? ` (${s.authFailed})` : ''}` };
  if (code === 3 || code === 4) return { kind: 'host_not_capable', reason: `pppd: ${PPPD_EXIT[code]}${detail}` };
  if (code === 2) return { kind: 'local_error', reason: `pppd rejected its options${detail}` };
  if (s.connectFailed) return { kind: 'unreachable', reason: `no PPTP control connection: ${s.connectFailed}` };
  if (code === 10 || s.negotiationFailed) return { kind: 'protocol_error', reason: `PPP negotiation failed${s.negotiationFailed ? `: ${s.negotiationFailed}` : detail}` };
  if (code === 8 || code === 9 || code === 16) {
    // The pty (pptp) went away. Before authentication that means no usable PPTP call at all.
    if (!s.authOk) return { kind: 'unreachable', reason: `the PPTP connection closed before PPP started (pppd: ${PPPD_EXIT[code]})${detail}` };
    return { kind: 'protocol_error', reason: `the server hung up after authentication (pppd: ${PPPD_EXIT[code]})${detail}` };
  }
  if (code === 15) return { kind: 'protocol_error', reason: 'the server stopped answering LCP echoes' };
  if (code === null) return { kind: 'local_error', reason: `pppd was killed by ${signal ?? 'a signal'}${detail}` };
  return { kind: 'protocol_error', reason: `pppd exited with ${code} (${PPPD_EXIT[code] ?? 'unknown status'})${detail}` };
}
