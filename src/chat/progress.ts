import { MessageGone, type ChatPort, type Message, type MessageRef, type Where } from './types.ts';

/**
 * A token bucket shared by every progress message on one port, so that all running jobs together
 * stay inside the platform's edit budget (Slack chat.update ~50/min per workspace).
 */
export class EditBudget {
  private tokens: number;
  private last = Date.now();
  private readonly perMinute: number;
  private readonly burst;
  constructor(perMinute: number, burst = 3) {
    this.perMinute = perMinute;
    this.burst = burst;
    this.tokens = burst;
  }

  /**
   * Takes a token now if one is left beyond `reserve`; otherwise says how long until there is.
   * Progress updates keep one token in reserve so that a job's final summary is never kept waiting.
   */
  tryTake(reserve = 0): number {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perMinute) / 60_000);
    this.last = now;
    if (this.tokens >= 1 + reserve) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 + reserve - this.tokens) * 60_000) / this.perMinute);
  }
}

const budgets = new WeakMap<ChatPort, EditBudget>();
export function budgetFor(port: ChatPort): EditBudget {
  let b = budgets.get(port);
  if (!b) budgets.set(port, (b = new EditBudget(port.limits.editsPerMinute)));
  return b;
}

/** Attempts at the final edit before giving up on it (a few seconds apart). */
const FINISH_ATTEMPTS = 3;
const FINISH_RETRY_MS = 2_000;

/**
 * One message that is edited as work goes on. Updates are coalesced: only the newest text is sent
 * when the budget allows. `finish` makes sure the final text lands: it retries a failed edit, and
 * posts the text anew only when the message is gone (never on an error that may hide an applied edit).
 */
export class ProgressMessage {
  private pending: Message | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  private finished = false;
  edits = 0;

  private readonly port: ChatPort;
  private readonly where: Where;
  private ref: MessageRef;
  private constructor(port: ChatPort, where: Where, ref: MessageRef) {
    this.port = port;
    this.where = where;
    this.ref = ref;
  }

  /** Takes over a message that was already posted (e.g. a conversation's first reply). */
  static of(port: ChatPort, where: Where, ref: MessageRef): ProgressMessage {
    return new ProgressMessage(port, where, ref);
  }

  get message(): MessageRef {
    return this.ref;
  }

  update(msg: Message): void {
    if (this.finished) return;
    this.pending = msg;
    this.schedule();
  }

  async finish(msg: Message): Promise<void> {
    this.finished = true;
    this.pending = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
    for (let attempt = 1; ; attempt++) {
      // The final text must arrive: wait for a token rather than drop it.
      for (let wait = budgetFor(this.port).tryTake(); wait > 0; wait = budgetFor(this.port).tryTake()) {
        await new Promise((r) => setTimeout(r, wait));
      }
      try {
        await this.port.edit(this.ref, msg);
        this.edits++;
        return;
      } catch (err) {
        if (err instanceof MessageGone) {
          this.ref = await this.port.post(this.where, msg);
          return;
        }
        if (attempt >= FINISH_ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, FINISH_RETRY_MS));
      }
    }
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = budgetFor(this.port).tryTake(1);
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, wait);
      return;
    }
    const msg = this.pending;
    this.pending = null;
    if (!msg) return;
    this.inFlight = this.inFlight.then(async () => {
      if (this.finished) return;
      try {
        await this.port.edit(this.ref, msg);
        this.edits++;
      } catch {
        // A lost progress edit is harmless; the next one or finish() carries the state.
      }
    });
  }
}
