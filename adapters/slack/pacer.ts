interface Bucket {
  tokens: number;
  last: number;
  queue: Promise<void>;
  waiting: number;
}

/**
 * chat.postMessage allows about one message per second per channel, with short bursts. Posts to one
 * channel wait their turn here (in order) instead of tripping a 429, which would pause every call
 * of the client, progress edits included.
 */
export class ChannelPacer {
  private readonly buckets = new Map<string, Bucket>();

  private readonly perSecond;
  private readonly burst;
  constructor(perSecond = 1, burst = 5) {
    this.perSecond = perSecond;
    this.burst = burst;
  }

  /** Resolves when a post to `channel` may go out. */
  turn(channel: string): Promise<void> {
    let bucket = this.buckets.get(channel);
    if (!bucket) {
      this.sweep();
      this.buckets.set(channel, (bucket = { tokens: this.burst, last: Date.now(), queue: Promise.resolve(), waiting: 0 }));
    }
    const b = bucket;
    b.waiting++;
    b.queue = b.queue.then(async () => {
      for (;;) {
        this.refill(b);
        if (b.tokens >= 1) break;
        await new Promise((r) => setTimeout(r, Math.ceil(((1 - b.tokens) * 1000) / this.perSecond)));
      }
      b.tokens -= 1;
      b.waiting--;
    });
    return b.queue;
  }

  private refill(b: Bucket): void {
    const now = Date.now();
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.last) * this.perSecond) / 1000);
    b.last = now;
  }

  /** Forgets idle channels whose bucket is full again, so a bot in thousands of channels keeps a small map. */
  private sweep(): void {
    if (this.buckets.size < 1000) return;
    for (const [channel, b] of this.buckets) {
      this.refill(b);
      if (b.waiting === 0 && b.tokens >= this.burst) this.buckets.delete(channel);
    }
  }
}
