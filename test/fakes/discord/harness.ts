import { startDiscordAdapter, type DiscordAdapter, type DiscordAdapterOptions } from '../../../adapters/discord/index.ts';
import { buildCommandsSchema, quoteArg, type CommandsSchema } from '../../../adapters/discord/commands-schema.ts';
import { splitArgs, tokenize } from '../../../src/chat/args.ts';
import { stripPrefix } from '../../../src/chat/dispatcher.ts';
import type { Composed } from '../../../src/compose.ts';
import { testBot, type TestBot } from '../../kit/app.ts';
import type { HarnessSession, HarnessUser, PlatformHarness, SeenFile, SeenMessage } from '../../adapters/scenarios.ts';
import { FakeDiscord, type FakeDiscordOptions, type FakeMessage, type SentInteraction, type SentOption } from './index.ts';

export interface DiscordHarnessOptions {
  fake?: FakeDiscordOptions;
  adapter?: Pick<DiscordAdapterOptions, 'interactionTokenMs' | 'readyTimeoutMs' | 'editWindow' | 'downloadTimeoutMs'>;
}

/**
 * Turns `list status:ping_ok page=2` into what a Discord client sends for `/connexa list`: the
 * sub-command and typed options, as the bot registered them. A sub-command the bot did not register
 * goes out bare, like a client with a stale command list.
 */
export function typedOptions(text: string, schema: CommandsSchema, registered: Record<string, unknown> | undefined): { sub: string; options: SentOption[] } {
  const tokens = tokenize(stripPrefix(text));
  const sub = (tokens.shift() ?? 'help').toLowerCase();
  const bindings = schema.bindings.get(sub);
  const regSub = ((registered?.options ?? []) as Array<{ name: string; options?: Array<{ name: string; type: number }> }>).find((o) => o.name === sub);
  if (!bindings || !regSub) return { sub, options: [] };
  const typeOf = (name: string) => regSub.options?.find((o) => o.name === name)?.type ?? 3;
  const split = splitArgs(tokens, bindings.some((b) => b.kind === 'positional') ? 1 : 0);
  const options: SentOption[] = [];
  for (const b of bindings) {
    if (b.kind === 'filter' && split.filterTerms.length) options.push({ name: b.option, type: 3, value: split.filterTerms.map(quoteArg).join(' ') });
    if (b.kind === 'positional' && split.positionals[0] !== undefined) options.push({ name: b.option, type: 3, value: split.positionals[0] });
    if (b.kind === 'option' && split.options[b.key] !== undefined) {
      const raw = split.options[b.key]!;
      const type = typeOf(b.option);
      const value = type === 4 ? Number.parseInt(raw, 10) : type === 10 ? Number(raw) : type === 5 ? raw === 'true' : raw;
      if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`a Discord client would not send ${b.key}=${raw} (not a number)`);
      options.push({ name: b.option, type, value });
      delete split.options[b.key];
    }
  }
  const left = Object.keys(split.options);
  if (left.length) throw new Error(`/connexa ${sub} has no Discord option ${left.join(', ')}`);
  return { sub, options };
}

export class DiscordSession implements HarnessSession {
  readonly schema: CommandsSchema;

  readonly fake: FakeDiscord;
  readonly adapter: DiscordAdapter;
  readonly app: Composed;
  readonly logs: string[];
  private readonly bot: TestBot;
  constructor(fake: FakeDiscord, adapter: DiscordAdapter, app: Composed, bot: TestBot) {
    this.fake = fake;
    this.adapter = adapter;
    this.app = app;
    this.logs = bot.logs;
    this.bot = bot;
    this.schema = buildCommandsSchema(app.app.registry);
  }

  /** Sends the interaction and returns at once (the bench and timing tests wait themselves). */
  send(text: string, user: HarnessUser, attachment?: SeenFile, attachmentOpts: { declaredSize?: number; delayMs?: number; omitLength?: boolean } = {}): SentInteraction {
    const { sub, options } = typedOptions(text, this.schema, this.fake.registeredCommands()[0]);
    const attachments = attachment ? [this.fake.addAttachment(attachment.name, attachment.data, attachmentOpts)] : [];
    return this.fake.interaction({ user, sub, options, attachments });
  }

  async command(text: string, user: HarnessUser, attachment?: SeenFile): Promise<void> {
    const sent = this.send(text, user, attachment);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`/connexa ${text}: no deferral within 3 s`)), 3000);
    });
    try {
      await Promise.race([sent.acked, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private seen(m: FakeMessage): SeenMessage {
    const ch = this.fake.state.channels.get(m.channelId);
    return {
      id: m.id,
      where: m.channelId,
      text: m.content,
      files: m.files.map((f) => ({ name: f.name, data: f.data })),
      // A thread has its starter message's id.
      threadOf: ch?.type === 11 ? ch.id : null,
      edits: m.edits,
    };
  }

  private shown(): FakeMessage[] {
    return [...this.fake.state.messages.values()].filter((m) => !m.deleted && !m.loading);
  }

  publicMessages(): SeenMessage[] {
    return this.shown().filter((m) => this.fake.state.visibilityOf(m).kind === 'public').map((m) => this.seen(m));
  }

  privateMessages(user: HarnessUser): SeenMessage[] {
    const id = this.fake.userId(user);
    return this.shown()
      .filter((m) => {
        const v = this.fake.state.visibilityOf(m);
        return (v.kind === 'ephemeral' || v.kind === 'dm') && v.userId === id;
      })
      .map((m) => this.seen(m));
  }

  publicRequestBodies(): string[] {
    return this.fake.requests.filter((r) => r.visibility.kind === 'public').map((r) => r.bodyText);
  }

  async stop(): Promise<void> {
    this.app.app.jobs.cancelAll('test teardown');
    await this.app.idle();
    await this.adapter.stop();
    await this.app.close();
    await this.fake.close();
    await this.bot.remove();
  }
}

/** The Discord side of the shared scenario list: fake Discord + the real discord.js client + the bot. */
export class DiscordHarness implements PlatformHarness {
  readonly platform = 'discord' as const;

  private readonly opts: DiscordHarnessOptions;
  constructor(opts: DiscordHarnessOptions = {}) {
    this.opts = opts;
  }

  async start(env: Record<string, string> = {}): Promise<DiscordSession> {
    const fake = await FakeDiscord.start(this.opts.fake);
    const bot = await testBot(
      {
        DISCORD_TOKEN: fake.token,
        DISCORD_API_URL: fake.apiUrl,
        DISCORD_GUILD_ID: fake.ids.guild,
        DISCORD_ALERT_CHANNEL: fake.ids.alertChannel,
        CONNEXA_ADMINS: `discord:${fake.users.admin.id}`,
        CONNEXA_OPERATORS: `discord-role:${fake.ids.operatorRole}`,
        CONNEXA_VIEWERS: `discord:${fake.users.viewer.id}`,
        ...env,
      },
      'cnx-discord-',
    );
    const { config, log } = bot;
    const { app, started } = await bot
      .boot((app) => startDiscordAdapter({ config, dispatcher: app.dispatcher, registry: app.app.registry, log, ...this.opts.adapter }))
      .catch(async (err: unknown) => {
        await fake.close();
        throw err;
      });
    return new DiscordSession(fake, started, app, bot);
  }
}
