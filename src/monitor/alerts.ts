import type { ChatPort, Message } from '../chat/types.ts';
import type { Logger } from '../log.ts';
import { publish } from '../ops/events.ts';

/**
 * Where alerts go: every adapter that is running registers its port, and an alert is posted to
 * each one's alert channel (Slack, Discord, the terminal). A port that fails does not stop the others.
 */
export class Alerts {
  private readonly ports = new Set<ChatPort>();
  /** Alerts already raised and not yet cleared, by key: no repeats while a condition lasts. */
  private readonly raised = new Set<string>();

  private readonly log: Logger;
  private readonly routeFor: (platform: string) => string | undefined;
  constructor(
    log: Logger,
    /** A channel chosen in chat with `alerts here`, per platform (an opaque Where key), if any. */
    routeFor: (platform: string) => string | undefined = () => undefined,
  ) {
    this.log = log;
    this.routeFor = routeFor;
  }

  register(port: ChatPort): () => void {
    this.ports.add(port);
    return () => this.ports.delete(port);
  }

  /** The registered port of a platform (a schedule posts where it was made, on that platform). */
  portFor(platform: string): ChatPort | undefined {
    for (const p of this.ports) if (p.platform === platform) return p;
    return undefined;
  }

  async send(msg: Message): Promise<void> {
    publish('alert.sent', { ports: this.ports.size });
    await Promise.all(
      [...this.ports].map((p) => {
        const where = this.routeFor(p.platform);
        return (where ? p.post({ key: where }, msg).then(() => undefined) : p.postAlert(msg)).catch((err: Error) => this.log.warn('alert could not be posted', { platform: p.platform, error: err.message }));
      }),
    );
  }

  /** Sends once per condition until `clear(key)`; returns whether it was sent. */
  async raise(key: string, msg: Message): Promise<boolean> {
    if (this.raised.has(key)) return false;
    this.raised.add(key);
    await this.send(msg);
    return true;
  }

  /** Ends a condition; sends `msg` (a recovery notice) if the condition had been raised. */
  async clear(key: string, msg?: Message): Promise<void> {
    if (!this.raised.delete(key)) return;
    if (msg) await this.send(msg);
  }
}
