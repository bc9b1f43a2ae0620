import { randomBytes } from 'node:crypto';
import { principalOf } from './roles.ts';
import type { Actor, MessageAction } from './types.ts';

/** What one button does when pressed; the press runs as the person who pressed it. */
export interface ButtonSpec {
  label: string;
  style?: 'primary' | 'danger';
  /** The command line the press runs (`delete all confirm=ab12cd`); null: it only closes the message (Cancel). */
  run: string | null;
  /** The command a `run: null` button answers for (`delete` for a delete prompt's Cancel): audit and metrics count it there. */
  command?: string;
  /** The command's first public answer replaces the pressed message (paging). */
  inPlace?: boolean;
  /** What the pressed message becomes once the press was handled; `{who}` is who pressed. Left as is when unset. */
  pressed?: string;
}

export interface OfferedButton {
  spec: ButtonSpec;
  /** The person the buttons were shown to. */
  owner: Actor;
  /** The buttons of one message: pressing one closes them all. */
  group: string;
}

/** Buttons kept at most (a press of an older one is told it expired, like one from before a restart). */
const MAX_BUTTONS = 5000;
const PREFIX = 'cnx:';

/**
 * The buttons shown, kept in memory: a button id is a short random key, never the command itself
 * (Discord's custom_id holds 100 characters; a filter may be longer), so a press can only run what
 * the bot offered. After a restart old buttons answer that they expired.
 */
export class Buttons {
  private readonly offered = new Map<string, OfferedButton>();
  /** Groups already pressed: what happened, for a second press. */
  private readonly closed = new Map<string, string>();

  offer(owner: Actor, specs: readonly ButtonSpec[]): MessageAction[] {
    const group = randomBytes(6).toString('base64url');
    return specs.map((spec) => {
      const id = `${PREFIX}${randomBytes(9).toString('base64url')}`;
      this.offered.set(id, { spec, owner, group });
      if (this.offered.size > MAX_BUTTONS) this.offered.delete(this.offered.keys().next().value!);
      return { id, label: spec.label, ...(spec.style ? { style: spec.style } : {}) };
    });
  }

  /** Whether `actor` is the one the button was shown to. */
  static owns(b: OfferedButton, actor: Actor): boolean {
    return principalOf(actor) === principalOf(b.owner);
  }

  /** The button behind an id, or why a press of it does nothing (with the button, when it is still known). */
  lookup(id: string): OfferedButton | { stale: string; button?: OfferedButton } {
    const b = this.offered.get(id);
    if (!b) return { stale: 'This button has expired (it is from before the bot restarted, or too old); run the command again.' };
    const done = this.closed.get(b.group);
    if (done) return { stale: `This was answered already: ${done}.`, button: b };
    return b;
  }

  /** Closes the buttons of one message: later presses of any of them are told what happened. */
  close(group: string, what: string): void {
    this.closed.set(group, what);
    if (this.closed.size > MAX_BUTTONS) this.closed.delete(this.closed.keys().next().value!);
  }
}

export function isButtonId(id: string): boolean {
  return id.startsWith(PREFIX);
}
