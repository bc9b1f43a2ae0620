import { DiscordAPIError, PermissionFlagsBits, RESTJSONErrorCodes, Routes, type APIChannel, type APIGuildMember, type APIMessage, type Client, type RawFile } from 'discord.js';
import { formatBytes, type Actor, type ChatPort, type Message, type MessageRef, type OutgoingFile, type PortLimits, type Where } from '../../src/chat/types.ts';
import { MessageGone, PlatformRefused } from '../../src/chat/types.ts';
import type { Logger } from '../../src/log.ts';
import { fileGroups, MAX_FILES_PER_MESSAGE, splitAtLines } from './files.ts';
import { components, threadName, toDiscord } from './format.ts';
import type { PrivateReplies } from './interactions.ts';
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
  sessions: ReadonlyMap<string, PrivateReplies>;
  alertChannelId: string | null;
  log: Logger;
  editWindow: ChannelEditWindow;
}

/**
 * Attachments per message until the server's own limit is known: the smallest a server has. Each
 * interaction carries the real one (attachment_size_limit, raised by boosts), and an upload Discord
 * still refuses (40005) is split further and lowers it.
 */
export const DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024;
/** Below this a file is not split any further: the refusal is reported instead. */
const MIN_PART_BYTES = 64 * 1024;

export const DISCORD_LIMITS: PortLimits = {
  // 2,000 characters per message; the margin leaves room for neutralised mentions (format.ts).
  maxTextChars: 1900,
  maxFileBytes: DEFAULT_UPLOAD_LIMIT,
  // Shared by every progress message of the bot: one edit every 2 s on average, burst 3. With the
  // per-channel window (throttle.ts) a channel never sees more than Discord's ~5 edits per 5 s.
  editsPerMinute: 30,
};

const NO_MENTIONS = { parse: [] as never[] };

/** 40005 Request entity too large (HTTP 413): the files are over the server's upload limit. */
function tooLarge(err: unknown): boolean {
  return err instanceof DiscordAPIError && (err.code === RESTJSONErrorCodes.RequestEntityTooLarge || err.status === 413);
}

/**
 * The chat port on Discord. Public output is an ordinary channel message sent with the bot token
 * (see InteractionSession for why); private output goes through the live interaction (ephemeral)
 * or, without one, by direct message. Every message carries allowed_mentions { parse: [] }.
 */
export class DiscordPort implements ChatPort {
  readonly platform = 'discord' as const;
  readonly limits: PortLimits = { ...DISCORD_LIMITS };
  /** Message components; presses arrive as component interactions. */
  readonly buttons = true;
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
          // An edit without buttons removes those the message had (a finished job's Cancel).
          components: components(msg.actions),
          // New files replace the old ones instead of piling up.
          ...(files ? { attachments: files.map((f, i) => ({ id: String(i), filename: f.name })) } : {}),
        },
        ...(files ? { files } : {}),
      });
    } catch (err) {
      // 10008 Unknown Message, 10003 Unknown Channel: the message is gone for good.
      const code = (err as { code?: unknown }).code;
      if (code === 10008 || code === 10003) throw new MessageGone(`the message is gone (Discord error ${code})`);
      throw this.refusal(err, channelId, 'edit its message', Boolean(files)) ?? err;
    }
    this.stats.edits++;
    this.remember(ref, msg.text);
  }

  async postPrivate(where: Where, user: Actor, msg: Message): Promise<void> {
    const w = decodeWhere(where);
    if (w.kind === 'interaction') {
      const session = this.deps.sessions.get(w.interactionId);
      if (session && session.userId === user.id && (await this.deliver(msg, (m) => session.reply(m)))) {
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

  /**
   * The member's role ids now, from GET /guilds/{guild}/members/{user} (what guild.members.fetch
   * asks; read through the client's REST so the ids are exactly Discord's, not those its role cache
   * knows: see raw.ts). The guild is the one of the channel `where` names; a DM has no roles.
   */
  async currentRoles(user: Actor, where: Where): Promise<string[]> {
    const { client } = this.deps;
    try {
      const channel = await client.channels.fetch(decodeWhere(where).channelId);
      const guildId = channel && 'guildId' in channel ? channel.guildId : null;
      if (!guildId) return [];
      const member = (await client.rest.get(Routes.guildMember(guildId, user.id))) as APIGuildMember;
      return member.roles.filter((id) => id !== guildId);
    } catch (err) {
      if (err instanceof DiscordAPIError && err.code === RESTJSONErrorCodes.UnknownMember) throw new Error(`${user.name} is no longer a member of the server`);
      if (err instanceof DiscordAPIError) throw new Error(`Discord answered ${err.status}: ${err.message}`);
      throw new Error(`Discord could not be asked: ${(err as Error).message}`);
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

  /** The server's upload limit, from an interaction (attachment_size_limit): the core groups files by it. */
  learnUploadLimit(bytes: number): void {
    if (Number.isSafeInteger(bytes) && bytes > 0) this.limits.maxFileBytes = bytes;
  }

  /** Posts text and files as one or more channel messages (10 attachments at most per message). */
  private async send(channelId: string, msg: Message): Promise<MessageRef> {
    const files = msg.files ?? [];
    const groups: Array<OutgoingFile[] | undefined> = [];
    for (let i = 0; i < files.length; i += MAX_FILES_PER_MESSAGE) groups.push(files.slice(i, i + MAX_FILES_PER_MESSAGE));
    if (!groups.length) groups.push(undefined);
    let last: APIMessage | null = null;
    for (const [i, group] of groups.entries()) {
      last = await this.deliver({ text: i === 0 ? msg.text : '', ...(group ? { files: group } : {}), ...(i === 0 && msg.actions ? { actions: msg.actions } : {}) }, (m) => this.postOne(channelId, m));
    }
    const ref = messageRef(channelId, last!.id);
    this.remember(ref, msg.text);
    return ref;
  }

  private async postOne(channelId: string, m: Message): Promise<APIMessage> {
    const files = fileGroups(m.files)[0];
    const content = toDiscord(m.text);
    try {
      return (await this.deps.client.rest.post(Routes.channelMessages(channelId), {
        body: { content: content || (files ? '' : '\u200b'), allowed_mentions: NO_MENTIONS, ...(m.actions?.length ? { components: components(m.actions) } : {}) },
        ...(files ? { files } : {}),
      })) as APIMessage;
    } catch (err) {
      throw this.refusal(err, channelId, 'post', Boolean(files)) ?? err;
    }
  }

  /**
   * Sends one message; when Discord answers 40005 (over the server's upload limit, which may be
   * lower than the one known), its files go one per message, and a file still too big alone goes
   * in parts cut at line ends, twice as many each time Discord refuses the first part (nothing has
   * been delivered then, so nothing is repeated). The limit learned is lowered for later messages.
   */
  private async deliver<T>(msg: Message, send: (m: Message) => Promise<T>): Promise<T> {
    const files = msg.files ?? [];
    try {
      return await send(msg);
    } catch (err) {
      if (!tooLarge(err) || !files.length) throw err;
      this.lowerLimit(files.reduce((n, f) => n + f.data.length, 0));
    }
    let last: T | undefined;
    for (const [i, f] of files.entries()) last = await this.deliverFile(f, i === 0 ? msg.text : '', send, files.length > 1 ? 1 : 2);
    return last!;
  }

  private async deliverFile<T>(f: OutgoingFile, text: string, send: (m: Message) => Promise<T>, parts: number): Promise<T> {
    if (parts > 1 && f.data.length / parts < MIN_PART_BYTES) {
      throw new PlatformRefused(`${f.name} (${formatBytes(f.data.length)}) is over this server's upload limit even in ${parts / 2} parts; narrow the selection and try again.`);
    }
    const pieces = parts === 1 ? [f.data] : splitAtLines(f.data, parts);
    const dot = f.name.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [f.name.slice(0, dot), f.name.slice(dot)] : [f.name, ''];
    const note = pieces.length > 1 ? `${f.name} is over this server's upload limit, so it comes in ${pieces.length} parts: join them in order (\`cat ${stem}.part*${ext}\`).` : '';
    let last: T | undefined;
    for (const [i, data] of pieces.entries()) {
      const file = pieces.length > 1 ? { ...f, name: `${stem}.part${String(i + 1).padStart(String(pieces.length).length, '0')}${ext}`, data } : f;
      try {
        last = await send({ text: i === 0 ? [text, note].filter(Boolean).join('\n') : '', files: [file] });
      } catch (err) {
        if (!tooLarge(err) || i > 0) throw err;
        this.lowerLimit(data.length);
        return this.deliverFile(f, text, send, parts * 2);
      }
    }
    return last!;
  }

  private lowerLimit(refusedBytes: number): void {
    const limit = Math.max(MIN_PART_BYTES, refusedBytes - 1);
    if (limit < this.limits.maxFileBytes) {
      this.limits.maxFileBytes = limit;
      this.deps.log.warn('discord: an upload was over the server\'s limit (40005); sending smaller parts', { refusedBytes, limit });
    }
  }

  /**
   * 50001 Missing Access / 50013 Missing Permissions, turned into what to fix: which permission, in
   * which channel. Discord does not name the permission, so it is read from the cached overwrites
   * when the bot's member is cached, else inferred from the request (View Channel for 50001).
   */
  private refusal(err: unknown, channelId: string, what: string, hasFiles: boolean): PlatformRefused | null {
    if (!(err instanceof DiscordAPIError) || (err.code !== RESTJSONErrorCodes.MissingAccess && err.code !== RESTJSONErrorCodes.MissingPermissions)) return null;
    const channel = this.deps.client.channels.cache.get(channelId);
    const name = channel && 'name' in channel && channel.name ? `#${channel.name}` : `channel ${channelId}`;
    const send = channel?.isThread() ? 'Send Messages in Threads' : 'Send Messages';
    const needed: Array<[string, bigint]> = [
      ['View Channel', PermissionFlagsBits.ViewChannel],
      [send, channel?.isThread() ? PermissionFlagsBits.SendMessagesInThreads : PermissionFlagsBits.SendMessages],
      ...(hasFiles ? [['Attach Files', PermissionFlagsBits.AttachFiles] as [string, bigint]] : []),
    ];
    let missing: string[] = [];
    const me = this.deps.client.user;
    if (channel && !channel.isDMBased() && me) {
      const perms = channel.permissionsFor(me);
      if (perms) missing = needed.filter(([, bit]) => !perms.has(bit)).map(([n]) => n);
    }
    if (!missing.length) missing = err.code === RESTJSONErrorCodes.MissingAccess ? ['View Channel'] : [hasFiles ? `${send} or Attach Files` : send];
    const permission = missing.join(' and ');
    this.deps.log.warn('discord: a permission is missing', { channel: channelId, name, permission, code: err.code });
    return new PlatformRefused(
      `Connexa cannot ${what} in ${name}: the bot is missing the ${permission} permission there (Discord error ${err.code}). A server admin can grant it under the channel's Edit Channel → Permissions.`,
    );
  }

  private remember(ref: MessageRef, text: string): void {
    this.titles.delete(ref.key);
    this.titles.set(ref.key, threadName(text));
    if (this.titles.size > 500) this.titles.delete(this.titles.keys().next().value!);
  }
}
