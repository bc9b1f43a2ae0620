import type { Message as DiscordMessage } from 'discord.js';
import type { Actor, Invocation } from '../../src/chat/types.ts';
import { attachmentFile } from './files.ts';
import { channelWhere } from './refs.ts';

/**
 * A file posted with a mention of the bot is an import. Without the privileged Message Content
 * intent (which this bot does not ask for), Discord delivers a guild message's content and
 * attachments only when the message mentions the bot; in a DM with the bot they always arrive.
 * The message's text goes with the files to the dispatcher's upload entry, which reads it (one
 * import per file, as on Slack).
 */
export function mentionUpload(message: DiscordMessage, botId: string, roleIds: string[], downloadTimeoutMs?: number): Invocation | null {
  if (message.author.bot || message.system || message.attachments.size === 0) return null;
  const addressed = message.channel.isDMBased() || message.mentions.users.has(botId);
  if (!addressed) return null;
  const files = [...message.attachments.values()].map((a) =>
    attachmentFile({ name: a.name, size: a.size ?? null, contentType: a.contentType ?? null, url: a.url }, { timeoutMs: downloadTimeoutMs }),
  );
  const actor: Actor = {
    platform: 'discord',
    id: message.author.id,
    name: message.member?.displayName ?? message.author.globalName ?? message.author.username,
    roleIds,
  };
  return { text: message.content, files, actor, where: channelWhere(message.channelId) };
}
