/**
 * The speed stage: each node is measured through its own PPTP tunnel by a gateway that can open
 * tunnels (gateway.speedTest; services/speed-test.ts says what each outcome means). The stage writes
 * no status itself: the job runner commits the outcome with its compare-and-set.
 */
import type { GatewayPort, SpeedRequest } from '../../gateway/port.ts';
import { nodeTarget } from '../../gateway/target.ts';
import { transferTimeoutMs } from '../../probes/speed/measure.ts';
import type { Stage, StageOutcome } from '../stage.ts';

export interface SpeedSettings extends Omit<SpeedRequest, 'node'> {
  /** The gateway that measures (null: no gateway can open tunnels; the command refuses before a job, this is the backstop). */
  gateway: Pick<GatewayPort, 'speedTest'> | null;
  concurrency: number;
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

export function speedNodeDeadlineMs(s: SpeedSettings): number {
  const transfers = s.uploadBytes > 0 ? 2 : 1;
  // + 5 s for closing the tunnel (SIGTERM grace) and the policy route.
  return s.openTimeoutMs + transfers * transferTimeoutMs(s) + 5_000;
}

export function speedStage(s: SpeedSettings): Stage {
  const { gateway, concurrency, ...limits } = s;
  return {
    kind: 'speed',
    action: 'speed',
    concurrency,
    nodeDeadlineMs: speedNodeDeadlineMs(s),
    async run(node, signal): Promise<StageOutcome> {
      if (!gateway) return { result: 'inconclusive', outcome: 'no_driver', reason: 'TUNNEL_DRIVER=none: no tunnel can be opened', patch: {} };
      return gateway.speedTest({ ...limits, node: nodeTarget(node) }, signal);
    },
  };
}
