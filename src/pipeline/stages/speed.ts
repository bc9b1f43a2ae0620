/**
 * The speed stage: open a PPTP tunnel to the node with its own login and password (the only real
 * credential check there is), measure throughput through it, close it.
 *
 * - auth_failed  -> result auth_failed (the status machine sends the node to auth_failed);
 * - slow (< SPEED_MIN_MBPS), unreachable, timeout, protocol errors, stalled or dropped transfers
 *   -> fail with the error recorded in node.speed (the node goes back to ping_ok);
 * - anything that says nothing about the node (this host cannot open tunnels, cancelled, a local
 *   error) -> inconclusive: the node keeps its status and nothing is recorded.
 * No figure is ever invented: a node gets a downMbps only from bytes that crossed its tunnel.
 */
import type { SpeedResult } from '../../fleet/node.ts';
import { locateIp } from '../../geo/ip-database.ts';
import type { Locate } from '../../geo/location.ts';
import { describeMeasurement, measureDownload, measureUpload, type MeasureResult, type Measurement } from '../../probes/speed/measure.ts';
import { HOST_SIDE_FAILURES, type Tunnel, type TunnelDriver } from '../../probes/tunnel/types.ts';
import type { Stage, StageOutcome } from '../stage.ts';

export interface SpeedSettings {
  /** null: TUNNEL_DRIVER=none (the command refuses before a job starts; this is the backstop). */
  driver: TunnelDriver | null;
  url: string;
  minMbps: number;
  concurrency: number;
  /** Tunnel set-up deadline (PPTP + LCP + MS-CHAPv2 + IPCP): 2.6-4.4 s in the VM lab, more over the internet. */
  openTimeoutMs: number;
  /** Download at most this many bytes ... */
  downloadBytes: number;
  /** ... or for at most this many seconds of measuring, whichever comes first. */
  maxSeconds: number;
  /** Upload this many bytes as well (0: download only, upMbps stays null). */
  uploadBytes: number;
  /** No progress for this long fails a transfer as stalled. */
  stallMs: number;
  /** Locates the exit address (default: the local IP database). */
  locate?: Locate;
}

export const SPEED_DEFAULTS = {
  openTimeoutMs: 30_000,
  downloadBytes: 25 * 1024 * 1024,
  maxSeconds: 10,
  uploadBytes: 0,
  stallMs: 8_000,
} as const;

/** Per-transfer deadline: the measuring window, plus room to connect and to stall once. */
function transferTimeoutMs(s: SpeedSettings): number {
  return s.maxSeconds * 1000 + s.stallMs + 5_000;
}

export function speedNodeDeadlineMs(s: SpeedSettings): number {
  const transfers = s.uploadBytes > 0 ? 2 : 1;
  // + 5 s for closing the tunnel (SIGTERM grace) and the policy route.
  return s.openTimeoutMs + transfers * transferTimeoutMs(s) + 5_000;
}

/** Where the traffic left, as the speed server saw it, and where that address is. */
type Exit = Pick<SpeedResult, 'exitIp' | 'exitGeo'>;
const NO_EXIT: Exit = { exitIp: null, exitGeo: null };

function record(down: number | null, up: number | null, error: string | null, exit: Exit = NO_EXIT): { speed: SpeedResult } {
  return { speed: { downMbps: down === null ? null : Math.round(down * 100) / 100, upMbps: up === null ? null : Math.round(up * 100) / 100, error, checkedAt: new Date().toISOString(), ...exit } };
}

/** Runs a transfer, cut short (as `tunnel_dropped`) when the tunnel goes down under it. */
async function throughTunnel(tunnel: Tunnel, signal: AbortSignal, go: (signal: AbortSignal) => Promise<MeasureResult>): Promise<MeasureResult | { dropped: string }> {
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let dropped: string | null = null;
  void tunnel.closed.then((c) => {
    if (c.why === 'dropped') {
      dropped = c.reason;
      ac.abort(new Error('tunnel dropped'));
    }
  });
  try {
    const r = await go(ac.signal);
    return dropped !== null && !r.ok ? { dropped } : r;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

export function speedStage(s: SpeedSettings): Stage {
  return {
    kind: 'speed',
    action: 'speed',
    concurrency: s.concurrency,
    nodeDeadlineMs: speedNodeDeadlineMs(s),
    async run(node, signal): Promise<StageOutcome> {
      if (!s.driver) return { result: 'inconclusive', outcome: 'no_driver', reason: 'TUNNEL_DRIVER=none: no tunnel can be opened', patch: {} };
      const opened = await s.driver.open({ ip: node.ip, port: node.port, login: node.login, password: node.password }, { timeoutMs: s.openTimeoutMs, signal });
      if (!opened.ok) {
        if (HOST_SIDE_FAILURES.has(opened.kind)) return { result: 'inconclusive', outcome: opened.kind, reason: opened.reason, patch: {} };
        return { result: opened.kind === 'auth_failed' ? 'auth_failed' : 'fail', outcome: opened.kind, reason: opened.reason, patch: record(null, null, `${opened.kind}: ${opened.reason}`) };
      }
      const tunnel = opened.tunnel;
      try {
        const common = { url: s.url, localAddress: tunnel.localAddress, timeoutMs: transferTimeoutMs(s), stallMs: s.stallMs, minBytes: 64 * 1024 };
        const down = await throughTunnel(tunnel, signal, (sig) => measureDownload({ ...common, bytes: s.downloadBytes, maxSeconds: s.maxSeconds, signal: sig }));
        if ('dropped' in down) return { result: 'fail', outcome: 'tunnel_dropped', reason: `${down.dropped} (during the download)`, patch: record(null, null, `tunnel_dropped: ${down.dropped}`) };
        if (!down.ok) {
          if (down.kind === 'cancelled' || down.kind === 'bad_url') return { result: 'inconclusive', outcome: down.kind, reason: down.reason, patch: {} };
          return { result: 'fail', outcome: down.kind, reason: `download through ${tunnel.iface}: ${down.reason}`, patch: record(null, null, `${down.kind}: ${down.reason}`) };
        }
        const exit: Exit = down.exitIp ? { exitIp: down.exitIp, exitGeo: (s.locate ?? locateIp)(down.exitIp) } : NO_EXIT;
        let up: Measurement | null = null;
        if (s.uploadBytes > 0) {
          const u = await throughTunnel(tunnel, signal, (sig) => measureUpload({ ...common, bytes: s.uploadBytes, signal: sig }));
          if ('dropped' in u) return { result: 'fail', outcome: 'tunnel_dropped', reason: `${u.dropped} (during the upload)`, patch: record(down.mbps, null, `tunnel_dropped: ${u.dropped}`, exit) };
          if (!u.ok) {
            if (u.kind === 'cancelled') return { result: 'inconclusive', outcome: 'cancelled', reason: u.reason, patch: {} };
            return { result: 'fail', outcome: `upload_${u.kind}`, reason: `upload through ${tunnel.iface}: ${u.reason}`, patch: record(down.mbps, null, `upload ${u.kind}: ${u.reason}`, exit) };
          }
          up = u;
        }
        if (down.mbps < s.minMbps) {
          const why = `${describeMeasurement(down)} is below SPEED_MIN_MBPS ${s.minMbps}`;
          return { result: 'fail', outcome: 'slow', reason: why, patch: record(down.mbps, up?.mbps ?? null, `slow: ${why}`, exit) };
        }
        return { result: 'ok', outcome: 'ok', reason: null, patch: record(down.mbps, up?.mbps ?? null, null, exit) };
      } finally {
        await tunnel.close();
      }
    },
  };
}
