import { Client, Events, GatewayIntentBits, Partials, RESTEvents, type ChatInputCommandInteraction, type CloseEvent } from 'discord.js';
import type { DispatchEntry } from '../../src/chat/dispatcher.ts';
import type { CommandRegistry } from '../../src/chat/registry.ts';
import type { ChatPort } from '../../src/chat/types.ts';
import type { Config } from '../../src/config.ts';
import type { Logger } from '../../src/log.ts';
import { buildCommandsSchema, COMMAND_NAME } from './commands-schema.ts';
import { handleCommand, INTERACTION_TOKEN_MS, OUTSIDE_GUILD, type InteractionStats, type PrivateReplies } from './interactions.ts';
import { handleAutocomplete, handlePress } from './components.ts';
import { inviteUrl } from './invite.ts';
import { isButtonId } from '../../src/chat/buttons.ts';
import { mentionUpload } from './mentions.ts';
import { DiscordPort, type PortStats } from './port.ts';
import { onRaw, RawRoles, type RawPacket } from './raw.ts';
import { ChannelEditWindow } from './throttle.ts';
import { publish } from '../../src/ops/events.ts';

export { DiscordPort } from './port.ts';
export { buildCommandsSchema } from './commands-schema.ts';
export { inviteUrl } from './invite.ts';

export interface DiscordAdapterOptions {
  config: Config;
  dispatcher: DispatchEntry;
  registry: CommandRegistry;
  log: Logger;
  /** Interaction token lifetime (Discord: 15 minutes). Tests shrink it to reach the expiry path. */
  interactionTokenMs?: number;
  /** Start-up gives up after this long (default 30 s) instead of hanging. */
  readyTimeoutMs?: number;
  /** Edits allowed per channel in a sliding window (default 5 per 5.2 s: Discord's bucket plus skew). */
  editWindow?: { limit: number; windowMs: number };
  /** Attachment downloads must finish within this (default 120 s). */
  downloadTimeoutMs?: number;
}

export interface DiscordStats {
  port: PortStats;
  interactions: InteractionStats;
  /** 429 answers Discord sent (discord.js waits retry_after and retries them). */
  rateLimited: number;
  /** Times discord.js held a request back because the bucket headers said it was empty. */
  preemptiveWaits: number;
  /** 401/403/429 answers: Discord bans an IP at 10,000 of these in 10 minutes. */
  invalidRequests: number;
  droppedPackets: number;
  repairedPackets: number;
  editWaitMs: number;
}

export interface DiscordAdapter {
  port: ChatPort & DiscordPort;
  inviteUrl: string;
  /** The gateway connection is up (for /healthz). */
  connected(): boolean;
  stats(): DiscordStats;
  stop(): Promise<void>;
}

/** A start-up failure, in one line that names what to fix. */
export class DiscordStartError extends Error {}

function loginError(err: unknown, api: string): DiscordStartError {
  const e = err as { code?: unknown; cause?: { code?: unknown }; message?: string };
  if (e.code === 'TokenInvalid') {
    return new DiscordStartError('DISCORD_TOKEN was refused by Discord (401 Unauthorized): reset the bot token in the developer portal (Bot → Reset Token) and set it again');
  }
  const net = typeof e.cause?.code === 'string' ? e.cause.code : typeof e.code === 'string' ? e.code : null;
  if (net && /^E[A-Z]+$/.test(net)) return new DiscordStartError(`cannot reach the Discord API at ${api} (${net}); check the network or DISCORD_API_URL`);
  return new DiscordStartError(`Discord login failed: ${String(e.message ?? err).split('\n')[0]}`);
}

function closeError(code: number): DiscordStartError {
  if (code === 4004) return new DiscordStartError('DISCORD_TOKEN was refused by the Discord gateway (4004 authentication failed): reset the bot token and set it again');
  if (code === 4014) return new DiscordStartError('the Discord gateway refused the intents (4014); Connexa needs no privileged intent, so check the bot build');
  return new DiscordStartError(`the Discord gateway closed the connection during start-up (code ${code})`);
}

/** Logs in and waits for READY (all guilds), or rejects with one line; never hangs past timeoutMs. */
async function connect(client: Client, token: string, api: string, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onClose: ((ev: CloseEvent) => void) | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    client.once(Events.ClientReady, () => resolve());
    onClose = (ev) => reject(closeError(ev.code));
    client.on(Events.ShardDisconnect, onClose);
    timer = setTimeout(() => reject(new DiscordStartError(`Discord did not become ready within ${Math.round(timeoutMs / 1000)} s (API ${api}); check the network and the gateway`)), timeoutMs);
  });
  try {
    await Promise.all([client.login(token).catch((err: unknown) => Promise.reject(loginError(err, api))), ready]);
  } catch (err) {
    await client.destroy().catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
    if (onClose) client.off(Events.ShardDisconnect, onClose);
  }
}

/** Role ids when the raw packet was not seen (should not happen): discord.js's member, as far as it knows. */
function cachedRoles(i: ChatInputCommandInteraction): string[] {
  if (i.inCachedGuild()) return [...i.member.roles.cache.keys()].filter((id) => id !== i.guildId);
  const roles = (i.member as { roles?: unknown } | null)?.roles;
  return Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [];
}

/**
 * Starts the Discord adapter: logs in (intents Guilds, GuildMessages, DirectMessages; nothing
 * privileged), registers `/connexa` with one sub-command per registry command (guild commands with
 * DISCORD_GUILD_ID, else global; a bulk overwrite, so re-running is idempotent), logs the invite URL
 * and serves slash commands and file mentions until stop().
 */
export async function startDiscordAdapter(opts: DiscordAdapterOptions): Promise<DiscordAdapter> {
  const { config, log } = opts;
  const token = config.DISCORD_TOKEN;
  if (!token) throw new DiscordStartError('DISCORD_TOKEN is not set');
  // Built before login: a registry Discord cannot represent fails at once, naming the command.
  const schema = buildCommandsSchema(opts.registry);
  const api = config.DISCORD_API_URL?.replace(/\/+$/, '');
  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages],
    // DM channels are not cached; without this partial discord.js drops DM messages.
    partials: [Partials.Channel],
    allowedMentions: { parse: [] },
    // No retries of 5xx, timeouts or network errors: a post Discord applied before its answer was lost
    // would appear twice. 429s are still waited out and retried; the final summary edit is retried by
    // the core (ProgressMessage.finish), which knows an edit is safe to repeat.
    rest: { ...(api ? { api } : {}), retries: 0 },
  });
  const sessions = new Map<string, PrivateReplies>();
  const editWindow = new ChannelEditWindow(opts.editWindow?.limit ?? 5, opts.editWindow?.windowMs ?? 5200);
  const port = new DiscordPort({ client, sessions, alertChannelId: config.DISCORD_ALERT_CHANNEL ?? null, log, editWindow });
  const interactionStats: InteractionStats = { received: 0, deferred: 0, deferMs: [], deferFailures: 0 };
  const counters = { rateLimited: 0, preemptiveWaits: 0, invalidRequests: 0, droppedPackets: 0, repairedPackets: 0 };
  const roles = new RawRoles();
  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  const track = (p: Promise<void>) => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  client.on('raw', (packet: RawPacket) => {
    const outcome = onRaw(packet, roles, () => client.user?.id ?? null, (msg, fields) => log.warn(msg, fields));
    if (outcome === 'dropped') counters.droppedPackets++;
    if (outcome === 'repaired') counters.repairedPackets++;
  });
  const deps = {
    port,
    dispatcher: opts.dispatcher,
    schema,
    sessions,
    log,
    tokenLifetimeMs: opts.interactionTokenMs ?? INTERACTION_TOKEN_MS,
    roleIds: (i: ChatInputCommandInteraction) => roles.take(i.id) ?? cachedRoles(i),
    stats: interactionStats,
    downloadTimeoutMs: opts.downloadTimeoutMs,
    guildId: config.DISCORD_GUILD_ID ?? null,
    learnUploadLimit: (bytes: number) => port.learnUploadLimit(bytes),
  };
  const componentDeps = { port, dispatcher: opts.dispatcher, schema, sessions, log, roleIds: (id: string) => roles.take(id) ?? [], guildId: config.DISCORD_GUILD_ID ?? null };
  client.on(Events.InteractionCreate, (interaction) => {
    const receivedAt = Date.now();
    if (stopping) return;
    if (interaction.isChatInputCommand()) track(handleCommand(interaction, deps, receivedAt));
    else if (interaction.isButton() && isButtonId(interaction.customId)) track(handlePress(interaction, componentDeps));
    else if (interaction.isAutocomplete() && interaction.commandName === COMMAND_NAME) track(handleAutocomplete(interaction, componentDeps));
  });
  client.on(Events.MessageCreate, (message) => {
    const botId = client.user?.id;
    if (stopping || !botId) return;
    const inv = mentionUpload(message, botId, roles.take(message.id) ?? [], opts.downloadTimeoutMs);
    if (!inv) return;
    if (config.DISCORD_GUILD_ID && message.guildId !== config.DISCORD_GUILD_ID) {
      // A file from another server or a DM: refused like a command, told privately (by DM).
      log.warn('discord: refused a file from outside DISCORD_GUILD_ID', { guild: message.guildId ?? 'direct message', user: message.author.id });
      track(
        port.sendDirect(inv.actor, { text: OUTSIDE_GUILD }).then(
          () => undefined,
          (err: unknown) => log.warn('discord: the refusal could not be sent', { error: err instanceof Error ? err.message : String(err) }),
        ),
      );
      return;
    }
    track(
      opts.dispatcher.upload(port, inv).then(
        () => undefined,
        (err: unknown) => log.error('discord: file mention failed', { error: err instanceof Error ? err.message : String(err) }),
      ),
    );
  });
  client.rest.on(RESTEvents.Response, (_req, res) => {
    publish('platform.call', { platform: 'discord', result: res.status < 400 ? 'ok' : 'error' });
    if (res.status === 429) publish('platform.rate_limited', { platform: 'discord' });
    if (res.status === 429) counters.rateLimited++;
    if (res.status === 401 || res.status === 403 || res.status === 429) counters.invalidRequests++;
  });
  client.rest.on(RESTEvents.RateLimited, () => counters.preemptiveWaits++);
  client.on(Events.Error, (err) => log.error('discord: client error', { error: err.message }));
  // Whether the gateway connection is up, for /healthz.
  let connected = false;
  client.on(Events.ShardReady, () => (connected = true));
  client.on(Events.ShardResume, () => (connected = true));
  client.on(Events.ShardReconnecting, () => (connected = false));
  client.on(Events.ShardDisconnect, (ev) => {
    connected = false;
    if (!stopping) log.warn('discord: gateway disconnected', { code: ev.code });
  });

  const apiText = api ?? 'https://discord.com/api';
  await connect(client, token, apiText, opts.readyTimeoutMs ?? 30_000);

  const application = client.application!;
  try {
    if (config.DISCORD_GUILD_ID) await application.commands.set([schema.json], config.DISCORD_GUILD_ID);
    else await application.commands.set([schema.json]);
  } catch (err) {
    await client.destroy().catch(() => undefined);
    const where = config.DISCORD_GUILD_ID ? `in guild ${config.DISCORD_GUILD_ID}` : 'globally';
    throw new DiscordStartError(
      `could not register /${COMMAND_NAME} ${where}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}; invite the bot with the applications.commands scope: ${inviteUrl(application.id, config.DISCORD_GUILD_ID)}`,
    );
  }
  const invite = inviteUrl(application.id, config.DISCORD_GUILD_ID);
  log.info(`discord: ready as ${client.user?.tag ?? '?'}; /${COMMAND_NAME} registered ${config.DISCORD_GUILD_ID ? `in guild ${config.DISCORD_GUILD_ID}` : 'globally'} with ${schema.bindings.size} sub-commands`);
  log.info(`discord: invite URL (scopes bot, applications.commands; permissions View Channel, Send Messages, Send Messages in Threads, Create Public Threads, Attach Files, Read Message History): ${invite}`);
  if (!config.DISCORD_ALERT_CHANNEL) log.warn('discord: DISCORD_ALERT_CHANNEL is not set; alerts will only be logged');

  let stopped: Promise<void> | null = null;
  return {
    port,
    inviteUrl: invite,
    connected: () => connected,
    stats: () => ({ port: { ...port.stats }, interactions: { ...interactionStats, deferMs: [...interactionStats.deferMs] }, ...counters, editWaitMs: editWindow.waitedMs }),
    stop() {
      stopped ??= (async () => {
        stopping = true;
        // Let commands already acknowledged finish their answer (bounded), then leave the gateway.
        await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => setTimeout(r, 10_000).unref())]);
        await client.destroy();
      })();
      return stopped;
    },
  };
}
