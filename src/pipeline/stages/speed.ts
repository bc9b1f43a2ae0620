/**
 * The speed stage: each node is measured through its own PPTP tunnel by a gateway that can open
 * tunnels (gateway.speedTest; services/speed-test.ts says what each outcome means). A job's nodes
 * share the PPP-capable gateways, each running at most `perGateway` tests at once (GatewaySlots).
 * The stage writes no status itself: the job runner commits the outcome with its compare-and-set.
 */
import type { GatewayPort, SpeedRequest } from '../../gateway/port.ts';
import { GatewaySlots } from '../../gateway/slots.ts';
import { nodeTarget } from '../../gateway/target.ts';
import { transferTimeoutMs } from '../../probes/speed/measure.ts';
import type { Stage, StageOutcome } from '../stage.ts';

export type SpeedGateway = Pick<GatewayPort, 'name' | 'local' | 'speedTest'>;

export interface SpeedSettings extends Omit<SpeedRequest, 'node'> {
  /**
   * The gateways that measure (the speed-capable ones). Empty: none can open tunnels; the command
   * refuses before a job, this is the backstop.
   */
  gateways: readonly SpeedGateway[];
  /** Speed tests at once on each gateway (SPEED_CONCURRENCY); the job runs gateways × this at once. */
  perGateway: number;
}

/** Measuring limits; the tunnel-open deadline is TUNNEL_OPEN_TIMEOUT_MS. */
export const SPEED_DEFAULTS = {
  /** Download at most this many bytes ... */
  downloadBytes: 25 * 1024 * 1024,
  /** ... or for at most this many seconds of measuring, whichever comes first. */
  maxSeconds: 10,
  /** Upload this many bytes as well (0: download only, upMbps stays null). */
  uploadBytes: 0,
  /** No progress for this long fails a transfer as stalled. */
  stallMs: 8_000,
} as const;

export function speedNodeDeadlineMs(s: Omit<SpeedRequest, 'node'>): number {
  const transfers = s.uploadBytes > 0 ? 2 : 1;
  // + 5 s for closing the tunnel (SIGTERM grace) and the policy route.
  return s.openTimeoutMs + transfers * transferTimeoutMs(s) + 5_000;
}

const inconclusive = (outcome: string, reason: string): StageOutcome => ({ result: 'inconclusive', outcome, reason, patch: {} });

/** A remote gateway's answer is given up this long before the node's deadline, so its silence is never the node's failure. */
const REMOTE_MARGIN_MS = 2_000;

export function speedStage(s: SpeedSettings): Stage {
  const { gateways, perGateway, ...limits } = s;
  const byName = new Map(gateways.map((g) => [g.name, g]));
  const slots = gateways.length ? new GatewaySlots([...byName.keys()], perGateway) : null;
  const nodeDeadlineMs = speedNodeDeadlineMs(limits);
  return {
    kind: 'speed',
    action: 'speed',
    // Every node that runs finds a free slot: the job never runs more than the gateways take.
    concurrency: slots?.total ?? 1,
    nodeDeadlineMs,
    async run(node, signal): Promise<StageOutcome> {
      if (!slots) return inconclusive('no_driver', 'TUNNEL_DRIVER=none: no tunnel can be opened');
      const req = { ...limits, node: nodeTarget(node) };
      const name = await slots.acquire(signal);
      const gw = byName.get(name)!;
      // The bot's own host throws only for its own bugs (the runner records those).
      if (gw.local) return gw.speedTest(req, signal).finally(() => slots.release(name));
      const answerBy = AbortSignal.timeout(nodeDeadlineMs - REMOTE_MARGIN_MS);
      try {
        return await gw.speedTest(req, AbortSignal.any([signal, answerBy]));
      } catch (err) {
        // A remote gateway that failed or fell silent mid-test says nothing about the node.
        if (signal.aborted) return inconclusive('cancelled', `gateway ${gw.name}: ${(err as Error).message}`);
        if (answerBy.aborted) return inconclusive('gateway_timeout', `gateway ${gw.name} gave no answer within ${Math.round((nodeDeadlineMs - REMOTE_MARGIN_MS) / 1000)} s`);
        return inconclusive('gateway_error', `gateway ${gw.name} could not finish the test: ${(err as Error).message}`);
      } finally {
        slots.release(name);
      }
    },
  };
}
