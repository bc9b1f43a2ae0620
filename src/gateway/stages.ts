/**
 * The start and stop stages: what the job runner runs per node, through the bot-side control.
 * Status writes stay with the job runner (a compare-and-set against the status the job started
 * from); a stage only reports. After the job, services whose result lost that race are undone
 * (afterJob), and `start` leaves the bundle of what it put online as a value for its command.
 */
import type { FleetNode } from '../fleet/node.ts';
import type { Stage, StageOutcome } from '../pipeline/stage.ts';
import type { BundleValue } from './bundles.ts';
import type { GatewayControl } from './control.ts';

export const START_CONCURRENCY = 4;
// Stopping is mostly waiting (OpenVPN tells its UDP clients it is going, ~2 s): many at once.
export const STOP_CONCURRENCY = 64;

/** Outcomes that say nothing happened to the node: it keeps its status and nothing is recorded. */
const NOT_A_RESULT = new Set(['cancelled', 'shutting_down']);

/** A node's start (or move): the tunnel, then the OpenVPN server (well under a second here, 15 s at most), then margin. */
const servicesDeadlineMs = (tunnelOpenTimeoutMs: number) => tunnelOpenTimeoutMs + 15_000 + 10_000;

export interface StartStage extends Stage {
  /** After the job: the bundle of the nodes it put online (null when none). */
  bundle(): BundleValue | null;
}

/** `placeOf`: where each node goes (placement, decided before the job); default: the default gateway. */
export function startStage(control: GatewayControl, opts: { concurrency?: number; tunnelOpenTimeoutMs: number; placeOf?: (nodeId: string) => string | undefined }): StartStage {
  const started = new Set<string>();
  let bundle: BundleValue | null = null;
  return {
    kind: 'start',
    action: 'start',
    concurrency: opts.concurrency ?? START_CONCURRENCY,
    nodeDeadlineMs: servicesDeadlineMs(opts.tunnelOpenTimeoutMs),
    bundle: () => bundle,
    async run(node: FleetNode, signal: AbortSignal): Promise<StageOutcome> {
      let r: Awaited<ReturnType<GatewayControl['start']>>;
      try {
        r = await control.start(node, signal, opts.placeOf?.(node.id));
      } catch (err) {
        r = { ok: false, outcome: 'error', reason: (err as Error).message, hostSide: false };
      }
      if (r.ok) {
        if (signal.aborted) {
          // Past the deadline the runner has already recorded a failure: undo, never leave a stray proxy.
          await control.stop({ ...node, ...r.patch });
          return { result: 'inconclusive', outcome: 'cancelled', reason: 'cut short', patch: {} };
        }
        started.add(node.id);
        return { result: 'ok', outcome: 'ok', reason: null, patch: r.patch };
      }
      if (NOT_A_RESULT.has(r.outcome) || signal.aborted) return { result: 'inconclusive', outcome: signal.aborted ? 'cancelled' : r.outcome, reason: r.reason, patch: {} };
      return { result: 'fail', outcome: r.outcome, reason: r.reason, patch: {} };
    },
    async afterJob() {
      // A result that lost its compare-and-set left services for a node that is not online: undo them.
      await control.reconcile();
      const online = control.onlineNodes([...started]);
      bundle = online.length ? await control.bundle(online) : null;
    },
  };
}

export function stopStage(control: GatewayControl, opts: { concurrency?: number } = {}): Stage {
  return {
    kind: 'stop',
    action: 'stop',
    concurrency: opts.concurrency ?? STOP_CONCURRENCY,
    nodeDeadlineMs: 30_000,
    async run(node: FleetNode): Promise<StageOutcome> {
      try {
        const patch = await control.stop(node);
        return { result: 'ok', outcome: 'ok', reason: null, patch };
      } catch (err) {
        // Revocation comes first in stop: if it failed, nothing was torn down and the node stays
        // online, so `stop` can simply be run again.
        return { result: 'inconclusive', outcome: 'revoke_failed', reason: `the profile could not be revoked: ${(err as Error).message}`, patch: {} };
      }
    },
    async afterJob() {
      await control.reconcile();
    },
  };
}

/**
 * Moves live nodes to other gateways (`move`, `gateway drain`): new credentials and profile there,
 * the old profile revoked and the old services stopped. The status stays; the patch carries the new
 * socks/ovpn/gateway. After the job, strays are reconciled and the bundle of what moved is left for
 * the command to send (old profiles no longer work).
 */
export function moveStage(control: GatewayControl, opts: { tunnelOpenTimeoutMs: number; placeOf: (nodeId: string) => string | undefined; concurrency?: number }): StartStage {
  const moved = new Set<string>();
  let bundle: BundleValue | null = null;
  return {
    kind: 'move',
    action: 'move',
    concurrency: opts.concurrency ?? START_CONCURRENCY,
    nodeDeadlineMs: servicesDeadlineMs(opts.tunnelOpenTimeoutMs),
    bundle: () => bundle,
    async run(node: FleetNode, signal: AbortSignal): Promise<StageOutcome> {
      const to = opts.placeOf(node.id);
      if (!to) return { result: 'inconclusive', outcome: 'no_gateway', reason: 'no gateway was chosen for it', patch: {} };
      let r: Awaited<ReturnType<GatewayControl['move']>>;
      try {
        r = await control.move(node, to, signal);
      } catch (err) {
        r = { ok: false, outcome: 'error', reason: (err as Error).message, hostSide: true };
      }
      if (!r.ok) {
        // A failed move leaves the node running where it was: nothing about the node was learnt.
        return { result: r.hostSide || signal.aborted ? 'inconclusive' : 'fail', outcome: signal.aborted ? 'cancelled' : r.outcome, reason: r.reason, patch: {} };
      }
      moved.add(node.id);
      return { result: 'ok', outcome: 'ok', reason: `moved to ${to}`, patch: r.patch };
    },
    async afterJob() {
      await control.reconcile();
      const nodes = [...moved].map((id) => control.node(id)).filter((n): n is FleetNode => n !== undefined && (n.status === 'online' || n.status === 'offline'));
      bundle = nodes.length ? await control.bundle(nodes) : null;
    },
  };
}
