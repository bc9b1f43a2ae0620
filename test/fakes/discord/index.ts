import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeGateway } from './gateway.ts';
import { apiAttachment, apiChannel, apiGuild, apiMember, apiMessage, apiUser } from './payloads.ts';
import { FakeRest, type RestFaults } from './rest.ts';
import { snowflake } from './snowflake.ts';
import { FakeState, type FakeChannel, type FakeInteraction, type FakeUser, type RecordedRequest } from './state.ts';
import { scanCollector, zipTexts } from '../../reliability/secret-scan.ts';

export type { FakeMessage, FakeUser, RecordedRequest, Visibility } from './state.ts';
export { EPHEMERAL, buttonsOf } from './state.ts';

export type FakeUserName = 'admin' | 'operator' | 'viewer' | 'stranger';

export interface FakeDiscordOptions {
  token?: string;
  /** Gateway heartbeat interval (Discord: ~41 s; tests: 250 ms so heartbeats are exercised). */
  heartbeatMs?: number;
  /** Interaction tokens stop working after this (Discord: 15 minutes). */
  tokenLifetimeMs?: number;
  /** The initial response must arrive within this (Discord: 3 s). */
  deferDeadlineMs?: number;
  /** More guild text channels besides #ops and #alerts. */
  extraChannels?: number;
}

/** A command option as the Discord client sends it. */
export interface SentOption {
  name: string;
  type: number;
  value: string | number | boolean;
}

export interface SentInteraction {
  id: string;
  token: string;
  sentAt: number;
  /** Resolves with the milliseconds from sending to the accepted initial response. */
  acked: Promise<number>;
}

export interface InteractionSpec {
  user: FakeUserName | string;
  sub: string;
  options?: SentOption[];
  attachments?: Array<Record<string, unknown>>;
  channelId?: string;
  command?: string;
}

export const FAKE_TOKEN = 'FAKE.discord-bot-token.for-tests-only';

/**
 * A local Discord: REST (/api/v10) and gateway on one 127.0.0.1 port, a model of the guild's
 * channels, threads, DMs and messages (current content after edits, ephemeral flags, files), every
 * request recorded, and faults to switch on. Drives the real discord.js client.
 */
export class FakeDiscord {
  readonly state = new FakeState();
  readonly users: Record<FakeUserName, FakeUser>;
  readonly bot: FakeUser;
  readonly ids: { app: string; guild: string; channel: string; alertChannel: string; operatorRole: string; extraChannels: string[] };
  readonly token: string;
  private readonly rest: FakeRest;
  private readonly gateway: FakeGateway;
  private readonly ackWaiters = new Map<string, (ms: number) => void>();
  private server: Server | null = null;
  private base = '';

  private readonly opts: FakeDiscordOptions;
  private constructor(opts: FakeDiscordOptions) {
    this.opts = opts;
    this.token = opts.token ?? FAKE_TOKEN;
    const user = (username: string, globalName: string, roles: string[] = [], bot = false): FakeUser => ({ id: snowflake(), username, globalName, bot, roles });
    this.bot = user('connexa', 'Connexa', [], true);
    const operatorRole = snowflake();
    this.users = { admin: user('ada', 'Ada'), operator: user('otto', 'Otto', [operatorRole]), viewer: user('vera', 'Vera'), stranger: user('sam', 'Sam') };
    for (const u of [this.bot, ...Object.values(this.users)]) this.state.users.set(u.id, u);
    const guild = snowflake();
    const text = (name: string): FakeChannel => {
      const c: FakeChannel = { id: snowflake(), type: 0, name, guildId: guild, parentId: null, recipientId: null };
      this.state.channels.set(c.id, c);
      return c;
    };
    const ops = text('ops');
    const alerts = text('alerts');
    const extra = Array.from({ length: opts.extraChannels ?? 0 }, (_, i) => text(`bench-${i + 1}`).id);
    this.ids = { app: this.bot.id, guild, channel: ops.id, alertChannel: alerts.id, operatorRole, extraChannels: extra };
    const roles = [{ id: guild, name: '@everyone' }, { id: operatorRole, name: 'fleet-operators' }];
    this.gateway = new FakeGateway({
      token: this.token,
      heartbeatMs: opts.heartbeatMs ?? 250,
      ready: (sessionId) => ({
        ready: {
          v: 10,
          user: { ...apiUser(this.bot), verified: true, mfa_enabled: false, flags: 0 },
          guilds: [{ id: guild, unavailable: true }],
          session_id: sessionId,
          resume_gateway_url: this.gatewayUrl,
          shard: [0, 1],
          application: { id: this.ids.app, flags: 0 },
          private_channels: [],
          relationships: [],
          presences: [],
          guild_join_requests: [],
          user_settings: {},
        },
        guilds: [apiGuild({ id: guild, name: 'Fleet Ops', ownerId: this.users.admin.id, roles, channels: [...this.state.channels.values()].filter((c) => c.guildId === guild) })],
      }),
    });
    // base and gatewayUrl are known once the server listens: getters, read on every request.
    const self = this;
    this.rest = new FakeRest(this.state, this.token, {
      appId: this.ids.app,
      bot: this.bot,
      guildId: guild,
      get base() {
        return self.base;
      },
      get gatewayUrl() {
        return self.gatewayUrl;
      },
      tokenLifetimeMs: opts.tokenLifetimeMs ?? 15 * 60_000,
      deferDeadlineMs: opts.deferDeadlineMs ?? 3000,
      onAck: (i: FakeInteraction) => this.ackWaiters.get(i.id)?.(i.ackAt! - i.sentAt),
    });
    // Every public request, for the suite-wide secrets scan (collected at the end of the test file).
    scanCollector().addSource('fake Discord', () =>
      this.state.requests
        .filter((r) => r.visibility.kind === 'public')
        .map((r) => ({ label: `${r.route} ${r.status}`, text: [r.bodyText, ...r.files.flatMap((f) => zipTexts(f.data))].join('\n') })),
    );
  }

  static async start(opts: FakeDiscordOptions = {}): Promise<FakeDiscord> {
    const fake = new FakeDiscord(opts);
    await fake.listen();
    return fake;
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.rest.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: String(err), code: 0 }));
      });
    });
    server.on('upgrade', (req, socket, head) => this.gateway.upgrade(req, socket, head));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** What DISCORD_API_URL is set to: the REST base without the version. */
  get apiUrl(): string {
    return `${this.base}/api`;
  }

  get gatewayUrl(): string {
    return this.base.replace(/^http/, 'ws');
  }

  get faults(): RestFaults {
    return this.rest.faults;
  }

  get requests(): readonly RecordedRequest[] {
    return this.state.requests;
  }

  /** The commands the bot registered (PUT), for a guild or globally. */
  registeredCommands(scope: 'global' | string = this.ids.guild): Array<Record<string, unknown>> {
    return (this.state.commands.get(scope) ?? []) as Array<Record<string, unknown>>;
  }

  whenConnected(): Promise<void> {
    return this.gateway.whenIdentified();
  }

  gatewayStats(): { identifies: number; heartbeats: number; connected: number; resumes: number; drops: number } {
    return { identifies: this.gateway.identifies, heartbeats: this.gateway.heartbeats, connected: this.gateway.connected(), resumes: this.gateway.resumes, drops: this.gateway.drops };
  }

  /** How the gateway answers RESUME: INVALID_SESSION (default: the client identifies again) or a real resume with replay. */
  set gatewayResume(mode: 'invalid' | 'accept') {
    this.gateway.resume = mode;
  }

  /** Drops every gateway connection (cut without a close frame, or closed with `code`); returns how many. */
  dropGateway(code?: number): number {
    return this.gateway.dropConnections(code);
  }

  userId(who: FakeUserName | string): string {
    return (this.users as Record<string, FakeUser | undefined>)[who]?.id ?? who;
  }

  /** Stores a file on the fake CDN; returns the attachment object an interaction or message carries. */
  addAttachment(name: string, data: Buffer, opts: { contentType?: string; declaredSize?: number; delayMs?: number; omitLength?: boolean; trickleMs?: number } = {}): Record<string, unknown> {
    const file = { id: snowflake(), name, data, contentType: opts.contentType ?? 'text/plain' };
    this.state.attachments.set(file.id, { file, declaredSize: opts.declaredSize ?? data.length, delayMs: opts.delayMs ?? 0, omitLength: opts.omitLength ?? false, ...(opts.trickleMs ? { trickleMs: opts.trickleMs } : {}) });
    return apiAttachment(file, this.base, opts.declaredSize ?? data.length);
  }

  /** Sends `/connexa <sub> …` as a user typed it (INTERACTION_CREATE on the gateway). */
  interaction(spec: InteractionSpec): SentInteraction {
    const { d, sent } = this.prepareInteraction(spec);
    this.gateway.dispatch('INTERACTION_CREATE', d);
    return sent;
  }

  /** The INTERACTION_CREATE payload for `spec`, registered but not sent (tests may break it first, then sendRaw). */
  prepareInteraction(spec: InteractionSpec): { d: Record<string, unknown>; sent: SentInteraction } {
    const user = this.state.users.get(this.userId(spec.user));
    if (!user) throw new Error(`fake discord: no user ${spec.user}`);
    const channel = this.state.channels.get(spec.channelId ?? this.ids.channel)!;
    const command = spec.command ?? 'connexa';
    const registered = this.registeredCommands().find((c) => c.name === command) ?? this.registeredCommands('global').find((c) => c.name === command);
    const id = snowflake();
    const token = `itok-${id}-${Math.random().toString(36).slice(2)}`;
    const attachments = spec.attachments ?? [];
    const options: Array<Record<string, unknown>> = (spec.options ?? []).map((o) => ({ ...o }));
    if (attachments.length) options.unshift({ name: 'file', type: 11, value: attachments[0]!.id });
    const inGuild = channel.guildId !== null;
    const d = {
      id,
      application_id: this.ids.app,
      type: 2,
      token,
      version: 1,
      data: {
        id: (registered?.id as string | undefined) ?? snowflake(),
        name: command,
        type: 1,
        ...(inGuild ? { guild_id: channel.guildId } : {}),
        options: [{ type: 1, name: spec.sub, options }],
        ...(attachments.length ? { resolved: { attachments: Object.fromEntries(attachments.map((a) => [a.id as string, a])) } } : {}),
      },
      ...(inGuild
        ? { guild_id: channel.guildId, member: { ...apiMember(user), permissions: '2248473465835073' }, guild_locale: 'en-US', context: 0 }
        : { user: apiUser(user), context: 1 }),
      channel_id: channel.id,
      channel: apiChannel(channel, channel.recipientId ? this.state.users.get(channel.recipientId) : undefined),
      app_permissions: '309237746688',
      locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': this.ids.guild },
      attachment_size_limit: 25 * 1024 * 1024,
    };
    const sentAt = Date.now();
    this.state.interactions.set(id, { id, token, userId: user.id, channelId: channel.id, sentAt, ackAt: null, ackType: null, ephemeral: false, originalId: null, originalReplaced: false });
    const acked = new Promise<number>((resolve) => this.ackWaiters.set(id, resolve));
    return { d, sent: { id, token, sentAt, acked } };
  }

  /**
   * A user presses a button on a bot message (INTERACTION_CREATE type 3, the message as Discord
   * sends it). Any custom_id may be sent: a stale one, or one from another user's message.
   */
  press(spec: { user: FakeUserName | string; messageId: string; customId: string }): SentInteraction {
    const m = this.state.messages.get(spec.messageId);
    if (!m) throw new Error(`fake discord: no message ${spec.messageId}`);
    const { d, sent } = this.prepareInteraction({ user: spec.user, sub: '', channelId: m.channelId });
    const i = this.state.interactions.get(sent.id)!;
    i.type = 3;
    i.messageId = m.id;
    const guildId = this.state.channels.get(m.channelId)?.guildId ?? null;
    Object.assign(d, {
      type: 3,
      data: { custom_id: spec.customId, component_type: 2 },
      message: apiMessage(m, this.bot, this.base, { guildId, appId: this.ids.app }),
    });
    this.gateway.dispatch('INTERACTION_CREATE', d);
    return sent;
  }

  /** A user types into an option of `/connexa <sub>` (type 4): `focused` names it. The answer lands in the interaction's `choices`. */
  autocomplete(spec: { user: FakeUserName | string; sub: string; options: Array<{ name: string; value: string }>; focused: string }): SentInteraction {
    const { d, sent } = this.prepareInteraction({ user: spec.user, sub: spec.sub, options: spec.options.map((o) => ({ name: o.name, type: 3, value: o.value })) });
    this.state.interactions.get(sent.id)!.type = 4;
    const data = d.data as { options: Array<{ options: Array<Record<string, unknown>> }> };
    for (const o of data.options[0]!.options) if (o.name === spec.focused) o.focused = true;
    Object.assign(d, { type: 4 });
    this.gateway.dispatch('INTERACTION_CREATE', d);
    return sent;
  }

  /** The choices the bot answered an autocomplete with (null until it did). */
  choices(interactionId: string): Array<{ name: string; value: unknown }> | null {
    return this.state.interactions.get(interactionId)?.choices ?? null;
  }

  /** A text channel in another server the bot is in (not DISCORD_GUILD_ID); returns its id. */
  foreignChannel(name = 'elsewhere'): string {
    const c: FakeChannel = { id: snowflake(), type: 0, name, guildId: snowflake(), parentId: null, recipientId: null };
    this.state.channels.set(c.id, c);
    return c.id;
  }

  /** The DM channel between the bot and `who` (opened if needed); returns its id. */
  dmChannel(who: FakeUserName | string): string {
    const userId = this.userId(who);
    let dm = this.state.dmChannelOf(userId);
    if (!dm) {
      dm = { id: snowflake(), type: 1, name: '', guildId: null, parentId: null, recipientId: userId };
      this.state.channels.set(dm.id, dm);
    }
    return dm.id;
  }

  /** Sends any dispatch as is (malformed payloads included). */
  sendRaw(t: string, d: unknown): void {
    this.gateway.dispatch(t, d);
  }

  /** A user's message in a channel (MESSAGE_CREATE); mentions the bot when `mention` is set. */
  userMessage(spec: { user: FakeUserName | string; content: string; mention?: boolean; attachments?: Array<Record<string, unknown>>; channelId?: string }): string {
    const user = this.state.users.get(this.userId(spec.user))!;
    const channelId = spec.channelId ?? this.ids.channel;
    const channel = this.state.channels.get(channelId)!;
    const id = snowflake();
    this.gateway.dispatch('MESSAGE_CREATE', {
      id,
      type: 0,
      channel_id: channelId,
      // Discord names the channel's type on MESSAGE_CREATE; discord.js needs it to build an uncached DM channel.
      channel_type: channel.type,
      ...(channel.guildId ? { guild_id: channel.guildId, member: { ...apiMember(user), user: undefined } } : {}),
      author: apiUser(user),
      content: spec.mention ? `<@${this.bot.id}> ${spec.content}` : spec.content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: spec.mention ? [{ ...apiUser(this.bot), member: { roles: [], joined_at: '2024-01-01T00:00:00.000Z', deaf: false, mute: false, flags: 0 } }] : [],
      mention_roles: [],
      attachments: spec.attachments ?? [],
      embeds: [],
      pinned: false,
      flags: 0,
      components: [],
    });
    return id;
  }

  /** Interactions whose "thinking…" placeholder is still there. */
  pendingPlaceholders(): FakeInteraction[] {
    return [...this.state.interactions.values()].filter((i) => {
      const m = i.originalId ? this.state.messages.get(i.originalId) : undefined;
      return m !== undefined && m.loading && !m.deleted;
    });
  }

  async close(): Promise<void> {
    await this.gateway.close();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    this.server = null;
  }
}
