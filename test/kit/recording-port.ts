import type { Actor, ChatPort, Message, MessageRef, PortLimits, Where } from '../../src/chat/types.ts';

/** One call an adapter received from the core. */
export type Recorded =
  | { verb: 'post'; where: string; ref: string; msg: Message }
  | { verb: 'edit'; ref: string; msg: Message }
  | { verb: 'postPrivate'; where: string; user: string; msg: Message }
  | { verb: 'openThread'; ref: string; where: string }
  | { verb: 'sendDirect'; user: string; ref: string; msg: Message }
  | { verb: 'postAlert'; msg: Message };

/**
 * An in-memory chat port that records every call: the mock adapter the command tests run against.
 * `public()` is everything anyone in the channel could see; `private()` what only the user saw.
 */
export class RecordingPort implements ChatPort {
  readonly platform: ChatPort['platform'];
  readonly limits: PortLimits;
  readonly calls: Recorded[] = [];
  private next = 1;

  constructor(opts: { platform?: ChatPort['platform']; limits?: Partial<PortLimits> } = {}) {
    this.platform = opts.platform ?? 'slack';
    this.limits = { maxTextChars: 40_000, maxFileBytes: 1024 * 1024, editsPerMinute: 6000, ...opts.limits };
  }

  async post(where: Where, msg: Message): Promise<MessageRef> {
    const ref = `m${this.next++}`;
    this.calls.push({ verb: 'post', where: where.key, ref, msg });
    return { key: ref };
  }
  async edit(ref: MessageRef, msg: Message): Promise<void> {
    this.calls.push({ verb: 'edit', ref: ref.key, msg });
  }
  async postPrivate(where: Where, user: Actor, msg: Message): Promise<void> {
    this.calls.push({ verb: 'postPrivate', where: where.key, user: user.id, msg });
  }
  async openThread(ref: MessageRef): Promise<Where> {
    const where = `thread:${ref.key}`;
    this.calls.push({ verb: 'openThread', ref: ref.key, where });
    return { key: where };
  }
  async sendDirect(user: Actor, msg: Message): Promise<MessageRef> {
    const ref = `d${this.next++}`;
    this.calls.push({ verb: 'sendDirect', user: user.id, ref, msg });
    return { key: ref };
  }
  async postAlert(msg: Message): Promise<void> {
    this.calls.push({ verb: 'postAlert', msg });
  }

  /** Messages visible to the channel: posts, edits and alerts. */
  public(): Message[] {
    return this.calls.flatMap((c) => (c.verb === 'post' || c.verb === 'edit' || c.verb === 'postAlert' ? [c.msg] : []));
  }
  /** Messages only the person who asked could see. */
  private(): Message[] {
    return this.calls.flatMap((c) => (c.verb === 'postPrivate' || c.verb === 'sendDirect' ? [c.msg] : []));
  }
  publicText(): string {
    return this.public().map((m) => m.text).join('\n');
  }
  privateText(): string {
    return this.private().map((m) => m.text).join('\n');
  }
  clear(): void {
    this.calls.length = 0;
  }
}
