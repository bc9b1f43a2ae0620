import type { FleetNode } from '../fleet/node.ts';
import type { Action, StageResult } from '../fleet/status-machine.ts';
import type { NodePatch } from '../store/store.ts';
import type { JobSummary } from './job-runner.ts';

/**
 * What a stage reports for one node. `inconclusive` means the check could not be made at all
 * (cancelled, this host out of sockets): the node keeps its status, because nothing was learnt about it.
 */
export interface StageOutcome {
  result: StageResult | 'inconclusive';
  /** A short code counted in the summary, e.g. ok, refused, timeout_reply. */
  outcome: string;
  /** Why, in words a person understands; null when ok. */
  reason: string | null;
  /** Results stored on the node (pptp.*, speed.*), written with the status in one transition. */
  patch: NodePatch;
  /**
   * Monitor only: whether this failure is the MONITOR_FAILS-th in a row. Before that, an online
   * node stays online (the failure is counted in node.monitor.fails).
   */
  failsReached?: boolean;
}

export interface Stage {
  /** The job kind shown to users (ping, speed, ...). */
  kind: string;
  /** The status-machine action whose table decides where a result leads. */
  action: Action;
  concurrency: number;
  /** The deadline for one node, all attempts included; past it the node fails with `deadline`. */
  nodeDeadlineMs: number;
  run(node: FleetNode, signal: AbortSignal): Promise<StageOutcome>;
  /**
   * Runs once every node is done, before the job's report is final (start and stop undo services
   * whose result lost its compare-and-set). A failure is logged; the job's results stand.
   */
  afterJob?(summary: JobSummary): Promise<void>;
}
