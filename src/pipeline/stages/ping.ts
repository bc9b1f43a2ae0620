import type { FleetNode, PptpResult } from '../../fleet/node.ts';
import type { GatewayPort } from '../../gateway/port.ts';
import { probePptp, toStoredPptp, type PptpOutcome, type PptpProbeResult, type ProbePolicy } from '../../probes/pptp/index.ts';
import type { Stage, StageOutcome } from '../stage.ts';

export interface PingSettings {
  concurrency: number;
  timeoutMs: number;
  retries: number;
  /** Which addresses may be probed (PROBE_ALLOW); default: not this host, loopback, link-local. */
  policy?: ProbePolicy;
}

/** Outcomes that say nothing about the server (this host could not try): the node keeps its status. */
const INCONCLUSIVE: ReadonlySet<PptpOutcome> = new Set(['cancelled', 'local_error']);

/** How long a probe with its retries can take: every attempt's deadline plus the pauses between them. */
export function probeDeadlineMs(timeoutMs: number, retries: number): number {
  return (timeoutMs + 500) * (retries + 1);
}

/**
 * A stage that starts with the PPTP handshake (ping and the monitor): one deadline rule, one probe
 * call, and an inconclusive probe (this host could not try) never reaches `decide`.
 */
export function handshakeStage(
  kind: 'ping' | 'monitor',
  s: PingSettings,
  /** Time the stage needs after the handshake (the monitor's service checks). */
  afterMs: number,
  decide: (node: FleetNode, probe: PptpProbeResult, signal: AbortSignal) => Promise<StageOutcome> | StageOutcome,
): Stage {
  return {
    kind,
    action: kind,
    concurrency: s.concurrency,
    // Every attempt has its own deadline; the node deadline covers them all plus the retry pauses.
    nodeDeadlineMs: probeDeadlineMs(s.timeoutMs, s.retries) + afterMs,
    async run(node, signal): Promise<StageOutcome> {
      const r = await probePptp({ host: node.ip, port: node.port }, { timeoutMs: s.timeoutMs, retries: s.retries, signal, ...(s.policy ? { policy: s.policy } : {}) });
      if (INCONCLUSIVE.has(r.outcome)) return { result: 'inconclusive', outcome: r.outcome, reason: r.reason, patch: {} };
      return decide(node, r, signal);
    },
  };
}

/** The ping stage: a real PPTP control-connection handshake (probes/pptp), stored in node.pptp. */
export function pingStage(s: PingSettings): Stage {
  return handshakeStage('ping', s, 1000, (_node, r) => ({ result: r.ok ? 'ok' : 'fail', outcome: r.outcome, reason: r.reason, patch: { pptp: toStoredPptp(r, new Date()) } }));
}

/** How long a remote gateway may take to answer on top of the probe itself (RemoteGateway's answer time, with margin). */
const GATEWAY_ANSWER_MS = 16_000;
/**
 * Handshakes at once on a remote gateway: half its command queue (serve.ts runs 64 at once), so its
 * starts and checks still run, and no handshake waits there long enough to lose its answer time.
 */
const GATEWAY_PING_CONCURRENCY = 32;

/**
 * The ping stage run from a gateway (`ping … from=NAME`): the handshake is the gateway's, under the
 * bot's PROBE_ALLOW sent with each request, and the bot stores what it answers. A gateway that fails
 * or falls silent says nothing about the node: inconclusive.
 */
export function gatewayPingStage(s: Omit<PingSettings, 'policy'> & { probeAllow: string; gateway: Pick<GatewayPort, 'name' | 'local' | 'handshake'> }): Stage {
  const gw = s.gateway;
  return {
    kind: 'ping',
    action: 'ping',
    concurrency: gw.local ? s.concurrency : Math.min(s.concurrency, GATEWAY_PING_CONCURRENCY),
    nodeDeadlineMs: probeDeadlineMs(s.timeoutMs, s.retries) + 1000 + (gw.local ? 0 : GATEWAY_ANSWER_MS),
    async run(node, signal): Promise<StageOutcome> {
      let pptp: PptpResult;
      try {
        pptp = await gw.handshake({ node: { id: node.id, ip: node.ip, port: node.port }, timeoutMs: s.timeoutMs, retries: s.retries, probeAllow: s.probeAllow }, signal);
      } catch (err) {
        return { result: 'inconclusive', outcome: signal.aborted ? 'cancelled' : 'gateway_error', reason: `gateway ${gw.name}: ${(err as Error).message}`, patch: {} };
      }
      if (INCONCLUSIVE.has(pptp.result as PptpOutcome)) return { result: 'inconclusive', outcome: pptp.result, reason: pptp.error, patch: {} };
      return { result: pptp.ok ? 'ok' : 'fail', outcome: pptp.result, reason: pptp.error, patch: { pptp } };
    },
  };
}
