import { ButtonStyle, ComponentType, type APIActionRowComponent, type APIButtonComponentWithCustomId } from 'discord.js';
import type { MessageAction } from '../../src/chat/types.ts';
/**
 * Neutral markdown -> Discord markdown. Discord already speaks the neutral dialect (**bold**,
 * `code`, ``` blocks ```), so the work is defensive: text that came from imported data must not
 * ping anyone. Every message is also sent with allowed_mentions { parse: [] }; neutralising the
 * text as well keeps a stray `@everyone` from even looking like a mention in the client.
 */
export const MAX_CONTENT = 2000;

/** A zero-width space breaks the mention syntax without changing what people read. */
const ZWSP = '\u200b';

export function neutraliseMentions(text: string): string {
  return text
    .replace(/@(everyone|here)/gi, `@${ZWSP}$1`)
    .replace(/<(@[!&]?|#|\/)/g, `<${ZWSP}$1`);
}

/** The content of one Discord message: neutralised and within the 2,000-character limit. */
export function toDiscord(text: string): string {
  const out = neutraliseMentions(text);
  if (out.length <= MAX_CONTENT) return out;
  // The core splits long text at the port's maxTextChars (set below 2,000 for this margin); this only
  // guards against a neutralised text growing past the limit. Close an open code block if cut inside one.
  let cut = out.slice(0, MAX_CONTENT - 5);
  if ((cut.match(/```/g) ?? []).length % 2 === 1) cut = `${cut.slice(0, MAX_CONTENT - 9)}\n\`\`\``;
  return `${cut}…`;
}

/** A thread name (1-100 characters) from the first line of the message it hangs under. */
export function threadName(text: string | undefined): string {
  const first = (text ?? '').split('\n').find((l) => l.trim() && !l.startsWith('```')) ?? '';
  const plain = first.replace(/[*_`~|]/g, '').replace(/\s+/g, ' ').trim();
  const name = plain.length > 100 ? `${plain.slice(0, 99)}…` : plain;
  return name || 'Details';
}

/** Buttons per action row, and rows per message (Discord's limits). */
const ROW = 5;
const ROWS = 5;

/**
 * Message components for the core's buttons: action rows of buttons whose custom_id is the core's
 * opaque id (a press comes back as a component interaction carrying it). [] removes old buttons.
 */
export function components(actions: readonly MessageAction[] | undefined): APIActionRowComponent<APIButtonComponentWithCustomId>[] {
  const rows: APIActionRowComponent<APIButtonComponentWithCustomId>[] = [];
  const list = (actions ?? []).slice(0, ROW * ROWS);
  for (let i = 0; i < list.length; i += ROW) {
    rows.push({
      type: ComponentType.ActionRow,
      components: list.slice(i, i + ROW).map((a) => ({
        type: ComponentType.Button,
        custom_id: a.id,
        label: a.label.slice(0, 80),
        style: a.style === 'danger' ? ButtonStyle.Danger : a.style === 'primary' ? ButtonStyle.Primary : ButtonStyle.Secondary,
      })),
    });
  }
  return rows;
}
