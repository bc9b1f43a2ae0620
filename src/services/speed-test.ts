/**
 * A speed test of one node, run by the gateway that opens its tunnel: open a PPTP tunnel with the
 * node's own login and password (the only real credential check there is), measure throughput
 * through it, close it. What the result means for the node's status is the speed stage's table
 * (pipeline/stages/speed.ts); this only measures and says what happened.
 *
 * - auth_failed  -> result auth_failed;
 * - slow (< minMbps), unreachable, timeout, protocol errors, stalled or dropped transfers -> fail,
 *   with the error recorded in node.speed;
 * - anything that says nothing about the node (this host cannot open tunnels, cancelled, a local
 *   error) -> inconclusive: nothing is recorded.
 * No figure is ever invented: a node gets a downMbps only from bytes that crossed its tunnel.
 */
import type { SpeedResult } from '../fleet/node.ts';
import type { SpeedRequest } from '../gateway/port.ts';
import { locateIp } from '../geo/ip-database.ts';
import type { Locate } from '../geo/location.ts';
import type { StageOutcome } from '../pipeline/stage.ts';
import { describeMeasurement, measureDownload, measureUpload, transferTimeoutMs, type MeasureResult, type Measurement } from '../probes/speed/measure.ts';
import { HOST_SIDE_FAILURES, type Tunnel, type TunnelDriver } from '../probes/tunnel/types.ts';

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

/** Measures one node through a tunnel `driver` opens (null: TUNNEL_DRIVER=none). */
export async function measureNodeSpeed(driver: TunnelDriver | null, s: SpeedRequest, signal: AbortSignal = new AbortController().signal, locate: Locate = locateIp): Promise<StageOutcome> {
  if (!driver) return { result: 'inconclusive', outcome: 'no_driver', reason: 'TUNNEL_DRIVER=none: no tunnel can be opened', patch: {} };
  const node = s.node;
  const opened = await driver.open({ ip: node.ip, port: node.port, login: node.login, password: node.password }, { timeoutMs: s.openTimeoutMs, signal });
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
    const exit: Exit = down.exitIp ? { exitIp: down.exitIp, exitGeo: locate(down.exitIp) } : NO_EXIT;
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
}
