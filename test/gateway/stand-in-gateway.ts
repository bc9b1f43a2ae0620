/**
 * STAND-IN for LocalGateway (src/gateway/local.ts, written in another branch): a GatewayPort that
 * does real, observable work without tunnels: it records every call, keeps the nodes it "runs" in a
 * map (what list/check answer from), can be told to fail a method with a given reason, and can hold
 * a start at a gate until the test opens it. The remote transport is what is under test.
 */
import type { PptpResult } from '../../src/fleet/node.ts';
import type { CheckResult, GatewayDescription, GatewayPort, HandshakeRequest, RunningNode, ServerTrust, SpeedRequest, StartRequest, StartResult } from '../../src/gateway/port.ts';
import type { StageOutcome } from '../../src/pipeline/stage.ts';

export interface Call {
  method: string;
  arg?: unknown;
}

export class StandInGateway implements GatewayPort {
  readonly name: string;
  readonly local = true;
  readonly calls: Call[] = [];
  readonly running = new Map<string, RunningNode>();
  readonly trusted: ServerTrust[] = [];
  /** Method name -> the reason it fails with. */
  readonly failures = new Map<string, string>();
  /** When set, start waits for it (and for an abort). */
  gate: Promise<void> | null = null;
  /** When set, speedTest waits for it; speedNow/speedPeak count the tests running at once. */
  speedGate: Promise<void> | null = null;
  speedNow = 0;
  speedPeak = 0;
  /** Signals seen aborted by a method, by method name. */
  readonly aborted: string[] = [];
  private nextPort = 20_000;

  constructor(name: string) {
    this.name = name;
  }

  private enter(method: string, arg?: unknown): void {
    this.calls.push(arg === undefined ? { method } : { method, arg });
    const reason = this.failures.get(method);
    if (reason) throw new Error(reason);
  }

  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  async describe(): Promise<GatewayDescription> {
    this.enter('describe');
    return {
      name: this.name,
      publicHost: { socks: `${this.name}.example.test`, ovpn: `${this.name}.example.test` },
      warnings: [],
      tunnels: { ok: false, missing: ['pppd'], message: 'pppd is not installed' },
      ovpn: { ok: true },
      ports: { socks: { from: 20_000, to: 20_099 }, ovpn: { from: 21_000, to: 21_099 } },
      capacity: { total: 100, free: 100 - this.running.size },
      running: this.running.size,
      version: '0.0.0-stand-in',
    };
  }

  async start(req: StartRequest, signal?: AbortSignal): Promise<StartResult> {
    this.enter('start', req);
    if (this.gate) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          this.aborted.push('start');
          reject(new Error(`start of ${req.node.id} cancelled: ${String(signal!.reason)}`));
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        void this.gate!.then(resolve);
      });
    }
    const socksPort = req.keep?.socks.port ?? this.nextPort++;
    this.running.set(req.node.id, { nodeId: req.node.id, socksPort, ovpnPort: null, ovpnServer: false, tunnel: null, tunnelError: null });
    return { ok: true, services: { socks: { host: '127.0.0.1', port: socksPort, login: 'u', password: 'p' }, ovpnPort: null, ovpnServer: false, tunnel: null, startMs: 1 } };
  }

  async stop(nodeId: string): Promise<void> {
    this.enter('stop', nodeId);
    this.running.delete(nodeId);
  }

  async check(nodeId: string): Promise<CheckResult> {
    this.enter('check', nodeId);
    return this.running.has(nodeId) ? { ok: true } : { ok: false, outcome: 'not_running', reason: `${nodeId} does not run here` };
  }

  async list(): Promise<RunningNode[]> {
    this.enter('list');
    return [...this.running.values()];
  }

  async speedTest(req: SpeedRequest): Promise<StageOutcome> {
    this.enter('speedTest', req);
    this.speedPeak = Math.max(this.speedPeak, ++this.speedNow);
    try {
      if (this.speedGate) await this.speedGate;
    } finally {
      this.speedNow--;
    }
    return { result: 'ok', outcome: 'ok', reason: null, patch: {} };
  }

  async handshake(req: HandshakeRequest): Promise<PptpResult> {
    this.enter('handshake', req);
    return { ok: true, latencyMs: 3, vendor: 'stand-in', hostname: null, firmware: null, result: 'ok', error: null, checkedAt: '2026-01-01T00:00:00.000Z' } as PptpResult;
  }

  async trust(t: ServerTrust): Promise<void> {
    this.enter('trust', t);
    this.trusted.push(t);
  }
}
