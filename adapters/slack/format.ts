import { splitText } from '../../src/chat/render.ts';
import type { MessageAction } from '../../src/chat/types.ts';

/** Slack truncates `text` past 40,000 characters; keep a margin for the continuation marks. */
export const SLACK_TEXT_MAX = 39_500;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/**
 * Slack reads `<...>` as a mention, a channel link or a URL (`<!channel>`, `<@U1>`, `<http://x|y>`), so
 * every `&`, `<` and `>` is escaped, in code too (Slack requires it there as well). After this no text
 * from an imported file can ping a channel or hide a link.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/[&<>]/g, (c) => ESCAPES[c]!);
}

/** Code blocks (also an unclosed one at the end) and inline code spans: their content is left as typed. */
const CODE = /(```[\s\S]*?(?:```|$)|`[^`\n]*`)/;

/**
 * Neutral markdown (the core's format) to Slack mrkdwn: `**bold**` becomes `*bold*` outside code,
 * code spans and blocks stay, and everything is escaped. Mentions are never produced.
 */
export function toMrkdwn(text: string): string {
  return text
    .split(CODE)
    .map((part, i) => (i % 2 === 1 ? escapeMrkdwn(part) : escapeMrkdwn(part).replace(/\*\*(?=\S)(.+?)(?<=\S)\*\*/g, '*$1*')))
    .join('');
}

/**
 * Pieces that each fit one Slack message. The core already splits by `limits.maxTextChars`, but
 * escaping can make a piece longer (`<` is four characters once escaped), so the port splits again.
 */
export function slackPieces(mrkdwn: string): string[] {
  return splitText(mrkdwn, SLACK_TEXT_MAX);
}

/** For an edit, which must stay one message: cut at the limit (progress texts are short anyway). */
export function clip(mrkdwn: string): string {
  return mrkdwn.length <= SLACK_TEXT_MAX ? mrkdwn : `${mrkdwn.slice(0, SLACK_TEXT_MAX - 1)}…`;
}

/** What a reader sees: the entities turned back into characters (used by tests and logs). */
export function unescapeMrkdwn(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Slack's limit for one section block's text. */
const SECTION_MAX = 3000;

/**
 * Block Kit for a message with buttons: the text in sections (a block holds 3,000 characters; Slack
 * shows blocks instead of `text`, which stays the notification fallback), then one actions block.
 * Each button's action_id is the core's opaque id; a press comes back as block_actions with it.
 */
export function actionBlocks(mrkdwn: string, actions: readonly MessageAction[]): unknown[] {
  const sections = splitText(mrkdwn, SECTION_MAX).map((text) => ({ type: 'section', text: { type: 'mrkdwn', text } }));
  const buttons = actions.map((a) => ({ type: 'button', action_id: a.id, text: { type: 'plain_text', text: a.label, emoji: true }, ...(a.style ? { style: a.style } : {}) }));
  return [...sections, { type: 'actions', block_id: 'connexa-actions', elements: buttons }];
}
