import { randomBytes } from 'node:crypto';

/** Sends an ephemeral text through one slash command's response_url. */
export type Responder = (text: string) => Promise<void>;

interface Entry {
  send: Responder;
  expires: number;
  uses: number;
  sent: Set<string>;
}

/** Slack accepts 5 posts to a response_url within 30 minutes. */
const MAX_USES = 5;
const LIFETIME_MS = 29 * 60_000;

/**
 * The response_url of recent slash commands, keyed by an id the port carries in its Where. It is the
 * one private channel back to a user that works where the bot is not a member, so it is kept for the
 * cases where chat.postEphemeral cannot reach them.
 */
export class Responders {
  private readonly entries = new Map<string, Entry>();

  add(send: Responder): string {
    this.prune();
    // Random, not a counter: a Where is stored by the core (`alerts here`), and after a restart a
    // counter would hand an old Where the response_url of someone else's new command.
    const id = `r${randomBytes(6).toString('hex')}`;
    this.entries.set(id, { send, expires: Date.now() + LIFETIME_MS, uses: 0, sent: new Set() });
    return id;
  }

  /** False when the id is unknown, expired or used up. */
  async send(id: string, text: string): Promise<boolean> {
    const e = this.entries.get(id);
    if (!e || e.expires < Date.now() || e.uses >= MAX_USES) return false;
    e.uses++;
    await e.send(text);
    return true;
  }

  /** Sends a notice at most once per command (the same refusal must not repeat for every post). */
  async sendOnce(id: string, tag: string, text: string): Promise<void> {
    const e = this.entries.get(id);
    if (!e || e.sent.has(tag)) return;
    e.sent.add(tag);
    try {
      await this.send(id, text);
    } catch {
      // Best effort: the caller reports the original failure.
    }
  }

  private prune(): void {
    if (this.entries.size < 500) return;
    const now = Date.now();
    for (const [id, e] of this.entries) if (e.expires < now || e.uses >= MAX_USES) this.entries.delete(id);
    // Oldest first (insertion order) if a burst of commands still leaves too many.
    for (const id of this.entries.keys()) {
      if (this.entries.size < 2000) break;
      this.entries.delete(id);
    }
  }
}
