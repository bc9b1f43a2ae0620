/**
 * Per-gateway concurrency for speed tests: a job's nodes share the PPP-capable gateways, each
 * running at most `perGateway` tests at once. A node takes the gateway with the fewest tests
 * running (ties: the first listed), or waits for one to finish.
 */
export class GatewaySlots {
  private readonly busy = new Map<string, number>();
  private readonly waiting: Array<{ resolve(name: string): void; reject(err: unknown): void; signal?: AbortSignal; onAbort?: () => void }> = [];
  private readonly names: readonly string[];
  private readonly perGateway: number;

  constructor(names: readonly string[], perGateway: number) {
    if (!names.length) throw new Error('no gateway to run on');
    this.names = names;
    this.perGateway = Math.max(1, perGateway);
    for (const n of names) this.busy.set(n, 0);
  }

  /** How many can run at once across the gateways: the job's concurrency. */
  get total(): number {
    return this.names.length * this.perGateway;
  }

  acquire(signal?: AbortSignal): Promise<string> {
    const free = this.pick();
    if (free) return Promise.resolve(this.take(free));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const w: (typeof this.waiting)[number] = { resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiting.push(w);
    });
  }

  release(name: string): void {
    this.busy.set(name, Math.max(0, (this.busy.get(name) ?? 1) - 1));
    const w = this.waiting.shift();
    if (!w) return;
    if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
    w.resolve(this.take(this.pick()!));
  }

  private pick(): string | null {
    let best: string | null = null;
    for (const n of this.names) {
      const b = this.busy.get(n)!;
      if (b < this.perGateway && (best === null || b < this.busy.get(best)!)) best = n;
    }
    return best;
  }

  private take(name: string): string {
    this.busy.set(name, this.busy.get(name)! + 1);
    return name;
  }
}
