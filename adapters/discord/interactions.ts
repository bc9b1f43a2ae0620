import {
  ApplicationCommandOptionType,
  DiscordAPIError,
  MessageFlags,
  RESTJSONErrorCodes,
  type AttachmentPayload,
  type ChatInputCommandInteraction,
  type CommandInteractionOption,
} from 'discord.js';
import type { DispatchEntry } from '../../src/chat/dispatcher.ts';
import type { Actor, ChatPort, IncomingFile, Message } from '../../src/chat/types.ts';
import type { Logger } from '../../src/log.ts';
import { COMMAND_NAME, commandLine, type CommandsSchema, type OptionValue } from './commands-schema.ts';
import { attachmentFile } from './files.ts';
import { components, toDiscord } from './format.ts';
import { interactionWhere } from './refs.ts';

/** Discord's interaction token lives 15 minutes after the interaction was created. */
export const INTERACTION_TOKEN_MS = 15 * 60_000;

/** Errors that mean the interaction token can no longer be used (expired, unknown, deleted). */
const TOKEN_GONE = new Set<number | string>([
  RESTJSONErrorCodes.UnknownWebhook,
  RESTJSONErrorCodes.UnknownInteraction,
  RESTJSONErrorCodes.InvalidWebhookToken,
  RESTJSONErrorCodes.UnknownMessage,
]);

export function tokenGone(err: unknown): boolean {
  return err instanceof DiscordAPIError && (TOKEN_GONE.has(err.code) || err.status === 401);
}

export function payload(msg: Message): { content: string; files: AttachmentPayload[]; allowedMentions: { parse: [] }; components: ReturnType<typeof components> } {
  return {
    content: toDiscord(msg.text) || '\u200b',
    components: components(msg.actions),
    files: (msg.files ?? []).map((f) => ({ attachment: f.data, name: f.name })),
    allowedMentions: { parse: [] },
  };
}

/**
 * One slash command while its interaction token can be used.
 *
 * Visibility design: every interaction is deferred EPHEMERALLY. Discord fixes a deferral's
 * visibility at defer time, and the first follow-up after a deferral replaces the placeholder and
 * inherits that visibility, so one deferral cannot serve both audiences. Ephemeral wins because
 * refusals, usage help and secrets are private and must never flash in the channel. Then:
 *  - private output edits the deferred placeholder (first) and goes out as ephemeral follow-ups after it;
 *  - public output is an ordinary channel message posted by the bot (port.ts), which stays editable
 *    and threadable after the 15-minute token is gone — long jobs need exactly that;
 *  - when the command is over and the placeholder was not used, it is deleted, so no "thinking…" is
 *    left behind; a command still running near the token's end replaces it with a short "still working".
 * Once the token is (nearly) expired, private output falls back to a direct message.
 */
/** A live interaction that can answer one user privately (ephemerally). */
export interface PrivateReplies {
  readonly userId: string;
  /** False when the token cannot be used (the caller DMs instead). */
  reply(msg: Message): Promise<boolean>;
}

export class InteractionSession implements PrivateReplies {
  private queue: Promise<unknown> = Promise.resolve();
  private originalUsed = false;
  private closed = false;

  readonly interaction: ChatInputCommandInteraction;
  readonly usableUntil: number;
  private readonly log: Logger;
  constructor(interaction: ChatInputCommandInteraction, usableUntil: number, log: Logger) {
    this.interaction = interaction;
    this.usableUntil = usableUntil;
    this.log = log;
  }

  get userId(): string {
    return this.interaction.user.id;
  }

  live(now = Date.now()): boolean {
    return !this.closed && now < this.usableUntil;
  }

  /** Sends privately through the interaction; false when the token cannot be used (the caller DMs instead). */
  reply(msg: Message): Promise<boolean> {
    return this.serial(async () => {
      if (!this.live()) return false;
      try {
        if (!this.originalUsed) {
          // Marked only once it worked: a placeholder whose edit failed is still deleted by close().
          await this.interaction.editReply(payload(msg));
          this.originalUsed = true;
        } else {
          await this.interaction.followUp({ ...payload(msg), flags: MessageFlags.Ephemeral });
        }
        return true;
      } catch (err) {
        if (!tokenGone(err)) throw err;
        this.closed = true;
        this.log.info('discord: interaction token no longer usable; answering by direct message', { interaction: this.interaction.id });
        return false;
      }
    });
  }

  /** Replaces the placeholder before the token runs out, so the user is not left with "thinking…". */
  stillWorking(text: string): Promise<void> {
    return this.serial(async () => {
      if (this.originalUsed || !this.live()) return;
      try {
        await this.interaction.editReply(payload({ text }));
        this.originalUsed = true;
      } catch (err) {
        this.log.debug('discord: still-working note failed', { error: String(err) });
      }
    });
  }

  /** The command is over: drop an unused placeholder; later private output goes by DM. */
  close(): Promise<void> {
    return this.serial(async () => {
      if (!this.originalUsed && this.live()) {
        await this.interaction.deleteReply().catch((err: unknown) => this.log.debug('discord: placeholder delete failed', { error: String(err) }));
      }
      this.closed = true;
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    // Ordering matters: the placeholder edit must land before any follow-up, or Discord would turn
    // that follow-up into the placeholder.
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

export interface InteractionStats {
  received: number;
  deferred: number;
  /** Milliseconds from receipt to the deferral being accepted, most recent last (bounded). */
  deferMs: number[];
  deferFailures: number;
}

export interface InteractionDeps {
  port: ChatPort;
  dispatcher: Pick<DispatchEntry, 'dispatch'>;
  schema: CommandsSchema;
  sessions: Map<string, PrivateReplies>;
  log: Logger;
  tokenLifetimeMs: number;
  /** Role ids Discord sent with this interaction (captured from the raw gateway packet). */
  roleIds(interaction: ChatInputCommandInteraction): string[];
  stats: InteractionStats;
  downloadTimeoutMs?: number;
  /** Told the upload limit each interaction carries (attachment_size_limit: the server's, boosts included). */
  learnUploadLimit?: (bytes: number) => void;
  /** DISCORD_GUILD_ID: when set, commands from any other server or from a DM are refused. */
  guildId?: string | null;
}

/** Why a command from outside DISCORD_GUILD_ID is refused (said privately to the user who typed it). */
export const OUTSIDE_GUILD = '⛔ This Connexa serves one Discord server only; commands from other servers and from direct messages are refused.';

/** Option values and attachments of the sub-command an interaction carries. */
export function readOptions(options: readonly CommandInteractionOption[], downloadTimeoutMs?: number): { values: Map<string, OptionValue>; files: IncomingFile[] } {
  const values = new Map<string, OptionValue>();
  const files: IncomingFile[] = [];
  for (const o of options) {
    if (o.type === ApplicationCommandOptionType.Attachment && o.attachment) {
      const a = o.attachment;
      files.push(attachmentFile({ name: a.name, size: a.size ?? null, contentType: a.contentType ?? null, url: a.url }, { timeoutMs: downloadTimeoutMs }));
    } else if (o.value !== undefined && o.value !== null) {
      values.set(o.name, o.value);
    }
  }
  return { values, files };
}

export function actorOf(interaction: ChatInputCommandInteraction, roleIds: string[]): Actor {
  const name = interaction.inCachedGuild() ? interaction.member.displayName : (interaction.user.globalName ?? interaction.user.username);
  return { platform: 'discord', id: interaction.user.id, name, roleIds };
}

/**
 * Handles one slash command: defer first (Discord allows 3 s), then build the invocation, dispatch,
 * and close the session. Nothing slow (downloads, parsing, store access) happens before the deferral.
 */
export async function handleCommand(interaction: ChatInputCommandInteraction, deps: InteractionDeps, receivedAt = Date.now()): Promise<void> {
  const { log, stats } = deps;
  stats.received++;
  if (interaction.commandName !== COMMAND_NAME) {
    log.warn('discord: a command this bot does not serve', { command: interaction.commandName.slice(0, 40) });
    return;
  }
  try {
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  } catch (err) {
    // Not acknowledged: the user sees "the application did not respond". Running the command anyway
    // would invite a retry and a second job, so it is not run.
    stats.deferFailures++;
    log.warn('discord: could not acknowledge an interaction; the command was not run', { interaction: interaction.id, error: err instanceof Error ? err.message : String(err) });
    return;
  }
  stats.deferred++;
  stats.deferMs.push(Date.now() - receivedAt);
  if (stats.deferMs.length > 10_000) stats.deferMs.splice(0, stats.deferMs.length - 10_000);

  // Keep a margin before the real expiry for clock skew and the request itself.
  const margin = Math.min(60_000, deps.tokenLifetimeMs / 10);
  const session = new InteractionSession(interaction, receivedAt + deps.tokenLifetimeMs - margin, log);
  deps.sessions.set(interaction.id, session);
  const sub = interaction.options.getSubcommand(false) ?? 'help';
  const announced = (interaction as { attachmentSizeLimit?: unknown }).attachmentSizeLimit;
  if (typeof announced === 'number') deps.learnUploadLimit?.(announced);
  if (deps.guildId && interaction.guildId !== deps.guildId) {
    // Role lists (`*` above all) are meant for the configured server's members: nobody else gets in,
    // whatever the command. Checked before the options are read or anything is downloaded.
    log.warn('discord: refused a command from outside DISCORD_GUILD_ID', { guild: interaction.guildId ?? 'direct message', user: interaction.user.id, command: sub });
    try {
      await session.reply({ text: OUTSIDE_GUILD });
    } finally {
      await session.close().catch(() => undefined);
      deps.sessions.delete(interaction.id);
    }
    return;
  }
  const stillWorking = setTimeout(() => {
    void session.stillWorking(`⏳ Still working on \`/${COMMAND_NAME} ${sub}\`; the answer will follow in the channel, or by direct message.`);
  }, Math.max(0, session.usableUntil - margin - Date.now()));
  stillWorking.unref();
  try {
    const top = interaction.options.data[0];
    const { values, files } = readOptions(top?.type === ApplicationCommandOptionType.Subcommand ? (top.options ?? []) : [], deps.downloadTimeoutMs);
    const text = commandLine(sub, deps.schema.bindings.get(sub), values);
    const actor = actorOf(interaction, deps.roleIds(interaction));
    const where = interactionWhere(interaction.id, interaction.channelId);
    await deps.dispatcher.dispatch(deps.port, { text, files, actor, where });
  } catch (err) {
    log.error('discord: command handling failed', { interaction: interaction.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  } finally {
    clearTimeout(stillWorking);
    await session.close().catch(() => undefined);
    deps.sessions.delete(interaction.id);
  }
}
