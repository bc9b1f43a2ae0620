/**
 * A per-channel sliding window for message edits. Discord buckets edits per channel (about 5 per
 * 5 s); the core's EditBudget spreads progress edits over a whole port, so this is the second,
 * local guard: several jobs reporting in one channel wait here instead of collecting 429s. (A 429
 * that still happens is retried by discord.js after retry_after; it counts toward Discord's
 * 10,000-invalid-requests ban, which is why the bot should not rely on it.)
 */
export class ChannelEditWindow {
  private readonly recent = new Map<string, number[]>();
  private readonly queues = new Map<string, Promise<void>>();
  /** Milliseconds edits spent waiting for their window. */
  waitedMs = 0;

  private readonly limit;
  private readonly windowMs;
  private readonly now: () => number;
  constructor(limit = 5, windowMs = 5000, now: () => number = Date.now) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.now = now;
  }

  /** Resolves when an edit in `channelId` may be sent; edits of one channel keep their order. */
  acquire(channelId: string): Promise<void> {
    const prev = this.queues.get(channelId) ?? Promise.resolve();
    const turn = prev.then(() => this.take(channelId));
    this.queues.set(channelId, turn);
    void turn.finally(() => {
      if (this.queues.get(channelId) === turn) this.queues.delete(channelId);
    });
    return turn;
  }

  private async take(channelId: string): Promise<void> {
    for (;;) {
      const now = this.now();
      const times = (this.recent.get(channelId) ?? []).filter((t) => now - t < this.windowMs);
      if (times.length < this.limit) {
        times.push(now);
        this.recent.set(channelId, times);
        return;
      }
      const wait = this.windowMs - (now - times[0]!) + 1;
      this.waitedMs += wait;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
