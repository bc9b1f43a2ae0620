/**
 * Keeps an online node's tunnel open: its egress. The first open is the caller's (a failed start
 * fails the node); after that a tunnel that drops is reopened with backoff (5 s, 10 s, 20 s ... 5 min)
 * until the node is stopped. The new tunnel may have a new local address: listeners are told
 * (`up`), and in between they are told it is gone (`down`) so nothing leaves by another path.
 * Failures that say the HOST cannot open tunnels are not retried: retrying cannot help.
 */
import type { Logger } from '../log.ts';
import { HOST_SIDE_FAILURES, type OpenResult, type Tunnel } from '../probes/tunnel/types.ts';

export interface TunnelKeeperHooks {
  up(tunnel: Tunnel): Promise<void> | void;
  down(reason: string): Promise<void> | void;
}

export interface Backoff {
  firstMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { firstMs: 5_000, maxMs: 5 * 60_000 };

export class TunnelKeeper {
  private current: Tunnel | null = null;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private lastError: string | null = null;

  private readonly open: (signal?: AbortSignal) => Promise<OpenResult>;
  private readonly hooks: TunnelKeeperHooks;
  private readonly log: Logger;
  private readonly tag: Record<string, unknown>;
  private readonly backoff: Backoff;
  constructor(
    open: (signal?: AbortSignal) => Promise<OpenResult>,
    hooks: TunnelKeeperHooks,
    log: Logger,
    tag: Record<string, unknown>,
    backoff: Backoff = DEFAULT_BACKOFF,
  ) {
    this.open = open;
    this.hooks = hooks;
    this.log = log;
    this.tag = tag;
    this.backoff = backoff;
  }

  get tunnel(): Tunnel | null {
    return this.current;
  }

  /** Why the tunnel is down right now (null while up). */
  get error(): string | null {
    return this.current ? null : this.lastError;
  }

  /** One attempt; on success the tunnel is watched and reopened when it drops. */
  async openOnce(signal?: AbortSignal): Promise<OpenResult> {
    const r = await this.open(signal);
    if (r.ok) {
      if (this.closed) {
        await r.tunnel.close();
        return { ok: false, kind: 'cancelled', reason: 'the node was stopped while its tunnel opened', elapsedMs: r.tunnel.setupMs };
      }
      this.adopt(r.tunnel);
    } else this.lastError = `${r.kind}: ${r.reason}`;
    return r;
  }

  /** Keeps trying in the background (after a failed first open at restore). */
  retryLater(): void {
    this.schedule();
  }

  private adopt(t: Tunnel): void {
    this.current = t;
    this.attempt = 0;
    this.lastError = null;
    void t.closed.then(async (c) => {
      if (this.current !== t) return;
      this.current = null;
      if (this.closed || c.why === 'closed') return;
      this.lastError = c.reason;
      this.log.warn('a node tunnel dropped; reopening', { ...this.tag, reason: c.reason });
      try {
        await this.hooks.down(c.reason);
      } catch (err) {
        this.log.error('could not switch the node to "tunnel down"', { ...this.tag, error: (err as Error).message });
      }
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    const ms = Math.min(this.backoff.maxMs, this.backoff.firstMs * 2 ** Math.min(this.attempt, 10));
    this.attempt++;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.retry();
    }, ms);
    this.timer.unref();
  }

  private async retry(): Promise<void> {
    if (this.closed) return;
    const r = await this.openOnce();
    if (this.closed) return;
    if (r.ok) {
      this.log.info('node tunnel reopened', { ...this.tag, iface: r.tunnel.iface, localAddress: r.tunnel.localAddress });
      try {
        await this.hooks.up(r.tunnel);
      } catch (err) {
        this.log.error('the tunnel came back but the node services could not follow it', { ...this.tag, error: (err as Error).message });
      }
      return;
    }
    if (HOST_SIDE_FAILURES.has(r.kind) && r.kind !== 'local_error') {
      this.log.warn('node tunnel cannot be reopened on this host; giving up', { ...this.tag, reason: r.reason });
      return;
    }
    this.log.debug('node tunnel still down', { ...this.tag, reason: r.reason, attempt: this.attempt });
    this.schedule();
  }

  /** Stops retrying and closes the tunnel. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const t = this.current;
    this.current = null;
    await t?.close();
  }
}
