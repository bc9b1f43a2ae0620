import type { MessageRef, Where } from '../../src/chat/types.ts';

/**
 * Where and MessageRef are opaque to the core; only this file writes and reads them.
 * Slack ids (C…, D…, G…) and timestamps (1700000000.000100) never contain `|`.
 */
export interface SlackWhere {
  channel: string;
  /** Posts go into this thread when set. */
  threadTs: string | null;
  /** The slash command this conversation answers (its response_url is the private fallback). */
  invocation: string | null;
}

export interface SlackRef {
  channel: string;
  ts: string;
  /** The thread the message is in (Slack threads are one level deep: a reply's thread is its parent's). */
  threadTs: string | null;
}

const ID = /^[A-Z0-9]+$/;
const TS = /^\d+\.\d+$/;

export function whereKey(w: SlackWhere): Where {
  return { key: ['slack', w.channel, w.threadTs ?? '', w.invocation ?? ''].join('|') };
}

export function readWhere(where: Where): SlackWhere {
  const [tag, channel, threadTs, invocation, ...rest] = where.key.split('|');
  if (tag !== 'slack' || !channel || !ID.test(channel) || rest.length || (threadTs && !TS.test(threadTs))) {
    throw new Error(`not a Slack destination: ${where.key.slice(0, 60)}`);
  }
  return { channel, threadTs: threadTs || null, invocation: invocation || null };
}

export function refKey(r: SlackRef): MessageRef {
  return { key: ['slack-msg', r.channel, r.ts, r.threadTs ?? ''].join('|') };
}

export function readRef(ref: MessageRef): SlackRef {
  const [tag, channel, ts, threadTs, ...rest] = ref.key.split('|');
  if (tag !== 'slack-msg' || !channel || !ID.test(channel) || !ts || !TS.test(ts) || rest.length || (threadTs && !TS.test(threadTs))) {
    throw new Error(`not a Slack message: ${ref.key.slice(0, 60)}`);
  }
  return { channel, ts, threadTs: threadTs || null };
}
