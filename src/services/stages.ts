/**
 * The start and stop stages: what the job runner runs per node. Status writes stay with the job
 * runner (a compare-and-set against the status the job started from); a stage only reports.
 */
import type { FleetNode } from '../fleet/node.ts';
import type { Stage, StageOutcome } from '../pipeline/stage.ts';
import { StartFailure, type ServiceManager, type StartedServices } from './manager.ts';

export const START_CONCURRENCY = 4;
// Stopping is mostly waiting (OpenVPN tells its UDP clients it is going, ~2 s): many at once.
export const STOP_CONCURRENCY = 64;

/** Outcomes that say nothing happened to the node: it keeps its status and nothing is recorded. */
const NOT_A_RESULT = new Set(['cancelled', 'shutting_down']);

export interface StartStage extends Stage {
  /** Nodes whose services this job started, with what was started (for the bundle and the figures). */
  readonly started: Map<string, StartedServices>;
}

export function startStage(services: ServiceManager, opts: { concurrency?: number; tunnelOpenTimeoutMs?: number } = {}): StartStage {
  const started = new Map<string, StartedServices>();
  return {
    kind: 'start',
    action: 'start',
    concurrency: opts.concurrency ?? START_CONCURRENCY,
    // Tunnel set-up, then the OpenVPN server (ready in well under a second here, 15 s at most), then margin.
    nodeDeadlineMs: (opts.tunnelOpenTimeoutMs ?? 30_000) + 15_000 + 10_000,
    started,
    async run(node: FleetNode, signal: AbortSignal): Promise<StageOutcome> {
      try {
        const s = await services.startNode(node, signal);
        if (signal.aborted) {
          // Past the deadline the runner has already recorded a failure: undo, never leave a stray proxy.
          await services.stopNode({ ...node, socks: s.socks, ovpn: s.ovpn });
          return { result: 'inconclusive', outcome: 'cancelled', reason: 'cut short', patch: {} };
        }
        started.set(node.id, s);
        return { result: 'ok', outcome: 'ok', reason: null, patch: { socks: s.socks, ovpn: s.ovpn } };
      } catch (err) {
        const outcome = err instanceof StartFailure ? err.outcome : 'error';
        const reason = (err as Error).message;
        if (NOT_A_RESULT.has(outcome) || signal.aborted) return { result: 'inconclusive', outcome: signal.aborted ? 'cancelled' : outcome, reason, patch: {} };
        return { result: 'fail', outcome, reason, patch: {} };
      }
    },
  };
}

export function stopStage(services: ServiceManager, opts: { concurrency?: number } = {}): Stage {
  return {
    kind: 'stop',
    action: 'stop',
    concurrency: opts.concurrency ?? STOP_CONCURRENCY,
    nodeDeadlineMs: 30_000,
    async run(node: FleetNode): Promise<StageOutcome> {
      try {
        const patch = await services.stopNode(node);
        return { result: 'ok', outcome: 'ok', reason: null, patch };
      } catch (err) {
        // Revocation comes first in stopNode: if it failed, nothing was torn down and the node stays
        // online, so `stop` can simply be run again.
        return { result: 'inconclusive', outcome: 'revoke_failed', reason: `the profile could not be revoked: ${(err as Error).message}`, patch: {} };
      }
    },
  };
}
