import type { FleetNode } from '../../fleet/node.ts';
import { toStoredPptp, type ProbePolicy } from '../../probes/pptp/index.ts';
import type { Stage, StageOutcome } from '../stage.ts';
import { handshakeStage } from './ping.ts';

/**
 * A check of one online/offline node beyond the PPTP handshake (its tunnel, its SOCKS listener).
 * `decisive`: the failure is certain, not a blip worth MONITOR_FAILS tries (its gateway is down: no
 * client can reach the node's services), so the node goes offline at once.
 */
export type ServiceCheck = (node: FleetNode, signal: AbortSignal) => Promise<{ ok: true } | { ok: false; outcome: string; reason: string; decisive?: boolean }>;

export interface MonitorSettings {
  concurrency: number;
  timeoutMs: number;
  retries: number;
  /** Which addresses may be probed (PROBE_ALLOW). */
  policy?: ProbePolicy;
  /** Consecutive failures that take an online node offline (MONITOR_FAILS). */
  fails: number;
  /** Further checks, in order; the first failure decides. */
  checks: readonly ServiceCheck[];
}

/**
 * The monitor's stage: the PPTP handshake, then each service check. A pass resets the failure count
 * (and brings an offline node back); a failure counts, and the MONITOR_FAILS-th in a row takes an
 * online node offline. Nothing else is touched: the status machine allows monitor on online and
 * offline nodes only.
 */
export function monitorStage(s: MonitorSettings): Stage {
  // The handshake with its retries, then a few seconds for the service checks.
  return handshakeStage('monitor', s, 5_000, async (node, r, signal) => {
    const now = new Date();
    let failure: { outcome: string; reason: string; decisive?: boolean } | null = r.ok ? null : { outcome: r.outcome, reason: r.reason ?? r.outcome };
    for (const check of s.checks) {
      if (failure) break;
      const c = await check(node, signal);
      if (!c.ok) failure = c;
    }
    const pptp = toStoredPptp(r, now);
    if (!failure) {
      return { result: 'ok', outcome: 'ok', reason: null, patch: { pptp, monitor: { fails: 0, lastOkAt: now.toISOString() } } };
    }
    const fails = (node.monitor?.fails ?? 0) + 1;
    return {
      result: 'fail',
      outcome: failure.outcome,
      reason: `${failure.reason} (${fails} failed check${fails > 1 ? 's' : ''} in a row)`,
      patch: { pptp, monitor: { fails, lastOkAt: node.monitor?.lastOkAt ?? null } },
      failsReached: fails >= s.fails || failure.decisive === true,
    };
  });
}
