import { DiscordAPIError, RESTJSONErrorCodes, Routes, type APIChannel, type APIMessage, type Client, type RawFile } from 'discord.js';
import type { Actor, ChatPort, Message, MessageRef, PortLimits, Where } from '../../src/chat/types.ts';
import { MessageGone } from '../../src/chat/types.ts';
import type { Logger } from '../../src/log.ts';
import { fileGroups } from './files.ts';
import { threadName, toDiscord } from './format.ts';
import type { InteractionSession } from './interactions.ts';
import { channelWhere, decodeRef, decodeWhere, messageRef } from './refs.ts';
import type { ChannelEditWindow } from './throttle.ts';

/** Counters the tests and the bench read. */
export interface PortStats {
  posts: number;
  edits: number;
  privateReplies: number;
  directMessages: number;
  threads: number;
  alerts: number;
}

export interface DiscordPortDeps {
  client: Client;
  sessions: ReadonlyMap<string, InteractionSession>;
  alertChannelId: string | null;
  log: Logger;
  editWindow: ChannelEditWindow;
}

export const DISCORD_LIMITS: PortLimits = {
  // 2,000 characters per message; the margin leaves room for neutralised mentions (format.ts).
  maxTextChars: 1900,
  // 25 MiB of attachments per message (Discord's default upload limit for bots).
  maxFileBytes: 25 * 1024 * 1024,
  // Shared by every progress message of the bot: one edit every 2 s on average, burst 3. With the
  // per-channel window (throttle.ts) a channel never sees more than Discord's ~5 edits per 5 s.
  editsPerMinute: 30,
};

const NO_MENTIONS = { parse: [] as never[] };

/**
 * The chat port on Discord. Public output is an ordinary channel message sent with the bot token
 * (see InteractionSession for why); private output goes through the live interaction (ephemeral)
 * or, without one, by direct message. Every message carries allowed_mentions { parse: [] }.
 */
export class DiscordPort implements ChatPort {
  readonly platform = 'discord' as const;
  readonly limits: PortLimits = { ...DISCORD_LIMITS };
  readonly stats: PortStats = { posts: 0, edits: 0, privateReplies: 0, directMessages: 0, threads: 0, alerts: 0 };
  /** First lines of recent posts, to name the thread a later openThread starts under them. */
  private readonly titles = new Map<string, string>();
  private readonly dmChannels = new Map<string, string>();

  private readonly deps: DiscordPortDeps;
  constructor(deps: DiscordPortDeps) {
    this.deps = deps;
  }

  async post(where: Where, msg: Message): Promise<MessageRef> {
    const ref = await this.send(decodeWhere(where).channelId, msg);
    this.stats.posts++;
    return ref;
  }

  async edit(ref: MessageRef, msg: Message): Promise<void> {
    const { channelId, messageId } = decodeRef(ref);
    await this.deps.editWindow.acquire(channelId);
    const files = fileGroups(msg.files)[0];
    try {
      await this.deps.client.rest.patch(Routes.channelMessage(channelId, messageId), {
        body: {
          content: toDiscord(msg.text) || '\u200b',
          allowed_mentions: NO_MENTIONS,
          // New files replace the old ones instead of piling up.
          ...(files ? { attachments: files.map((f, i) => ({ id: String(i), filename: f.name })) } : {}),
        },
        ...(files ? { files } : {}),
      });
    } catch (err) {
      // 10008 Unknown Message, 10003 Unknown Channel: the message is gone for good.
      const code = (err as { code?: unknown }).code;
      if (code === 10008 || code === 10003) throw new MessageGone(`the message is gone (Discord error ${code})`);
      throw err;
    }
    this.stats.edits++;
    this.remember(ref, msg.text);
  }

  async postPrivate(where: Where, user: Actor, msg: Message): Promise<void> {
    const w = decodeWhere(where);
    if (w.kind === 'interaction') {
      const session = this.deps.sessions.get(w.interactionId);
      if (session && session.userId === user.id && (await session.reply(msg))) {
        this.stats.privateReplies++;
        return;
      }
    }
    // No live interaction (a mention, or a token past its 15 minutes): a DM is the private channel left.
    await this.sendDirect(user, msg);
  }

  async openThread(ref: MessageRef): Promise<Where> {
    const { channelId, messageId } = decodeRef(ref);
    try {
      const thread = (await this.deps.client.rest.post(Routes.threads(channelId, messageId), {
        body: { name: this.titles.get(ref.key) ?? 'Details', auto_archive_duration: 1440 },
      })) as APIChannel;
      this.stats.threads++;
      return channelWhere(thread.id);
    } catch (err) {
      // A thread started from a message has the message's id.
      if (err instanceof DiscordAPIError && err.code === RESTJSONErrorCodes.ThreadAlreadyCreatedForMessage) return channelWhere(messageId);
      // DMs and threads cannot hold threads, and the bot may lack Create Public Threads: answer in place.
      this.deps.log.warn('discord: could not start a thread; answering in the channel', { channel: channelId, error: err instanceof Error ? err.message : String(err) });
      return channelWhere(channelId);
    }
  }

  async sendDirect(user: Actor, msg: Message): Promise<MessageRef> {
    let channelId = this.dmChannels.get(user.id);
    if (!channelId) {
      try {
        channelId = (await this.deps.client.users.createDM(user.id)).id;
      } catch (err) {
        throw new Error(`cannot open a direct message to ${user.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.dmChannels.set(user.id, channelId);
    }
    try {
      const ref = await this.send(channelId, msg);
      this.stats.directMessages++;
      return ref;
    } catch (err) {
      if (err instanceof DiscordAPIError && err.code === RESTJSONErrorCodes.CannotSendMessagesToThisUser) {
        throw new Error(`${user.name} does not accept direct messages from this server's members, so a private answer could not be delivered`);
      }
      throw err;
    }
  }

  async postAlert(msg: Message): Promise<void> {
    if (!this.deps.alertChannelId) {
      this.deps.log.warn('discord: an alert was not posted: DISCORD_ALERT_CHANNEL is not set', { text: msg.text.slice(0, 200) });
      return;
    }
    await this.send(this.deps.alertChannelId, msg);
    this.stats.alerts++;
  }

  /** Posts text and files as one or more channel messages (10 attachments at most per message). */
  private async send(channelId: string, msg: Message): Promise<MessageRef> {
    const groups: Array<RawFile[] | undefined> = fileGroups(msg.files);
    if (!groups.length) groups.push(undefined);
    let last: APIMessage | null = null;
    for (const [i, files] of groups.entries()) {
      const content = i === 0 ? toDiscord(msg.text) : '';
      last = (await this.deps.client.rest.post(Routes.channelMessages(channelId), {
        body: { content: content || (files ? '' : '\u200b'), allowed_mentions: NO_MENTIONS },
        ...(files ? { files } : {}),
      })) as APIMessage;
    }
    const ref = messageRef(channelId, last!.id);
    this.remember(ref, msg.text);
    return ref;
  }

  private remember(ref: MessageRef, text: string): void {
    this.titles.delete(ref.key);
    this.titles.set(ref.key, threadName(text));
    if (this.titles.size > 500) this.titles.delete(this.titles.keys().next().value!);
  }
}
