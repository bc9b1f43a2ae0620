import type { MessageRef, Where } from '../../src/chat/types.ts';

/**
 * Where and MessageRef keys made and read only by this adapter. The `discord:` prefix makes a key
 * from another adapter fail loudly instead of being sent to a wrong channel.
 *
 *   discord:i:<interaction id>:<channel id>   the channel a slash command was typed in (privately
 *                                             answerable while its interaction token lives)
 *   discord:c:<channel id>                    a channel, thread or DM channel
 *   discord:m:<channel id>:<message id>       a message the bot posted (always a channel message,
 *                                             so it stays editable after the interaction token expires)
 */
export type DecodedWhere =
  | { kind: 'interaction'; interactionId: string; channelId: string }
  | { kind: 'channel'; channelId: string };

const SNOWFLAKE = /^\d{1,25}$/;

export class ForeignKey extends Error {}

export function interactionWhere(interactionId: string, channelId: string): Where {
  return { key: `discord:i:${interactionId}:${channelId}` };
}

export function channelWhere(channelId: string): Where {
  return { key: `discord:c:${channelId}` };
}

export function messageRef(channelId: string, messageId: string): MessageRef {
  return { key: `discord:m:${channelId}:${messageId}` };
}

export function decodeWhere(where: Where): DecodedWhere {
  const p = where.key.split(':');
  if (p[0] === 'discord' && p[1] === 'i' && p.length === 4 && SNOWFLAKE.test(p[2]!) && SNOWFLAKE.test(p[3]!)) {
    return { kind: 'interaction', interactionId: p[2]!, channelId: p[3]! };
  }
  if (p[0] === 'discord' && p[1] === 'c' && p.length === 3 && SNOWFLAKE.test(p[2]!)) return { kind: 'channel', channelId: p[2]! };
  throw new ForeignKey(`not a Discord place: ${where.key.slice(0, 60)}`);
}

export function decodeRef(ref: MessageRef): { channelId: string; messageId: string } {
  const p = ref.key.split(':');
  if (p[0] === 'discord' && p[1] === 'm' && p.length === 4 && SNOWFLAKE.test(p[2]!) && SNOWFLAKE.test(p[3]!)) {
    return { channelId: p[2]!, messageId: p[3]! };
  }
  throw new ForeignKey(`not a Discord message: ${ref.key.slice(0, 60)}`);
}
