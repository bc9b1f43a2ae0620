import { z } from 'zod';
import { ArgError, parseFilter, splitArgs, tokenize } from './args.ts';
import { Buttons } from './buttons.ts';
import type { CommandInput, CommandResult, Precondition, SuggestField } from './command.ts';
import { commandContext } from './context.ts';
import { Conversation, type SecretsDelivery } from './conversation.ts';
import type { AnyCommand, CommandRegistry } from './registry.ts';
import { hasRole, principalOf, resolveRole, type RoleLists } from './roles.ts';
import { PlatformRefused, type Actor, type ChatPort, type Invocation, type MessageAction, type Press, type Role } from './types.ts';

/** What became of one invocation; rendered in one place (`render`) and returned to the adapter. */
export type DispatchOutcome =
  | { kind: 'ok'; command: string }
  | { kind: 'invalid'; command: string | null; message: string; usage: string | null }
  | { kind: 'denied'; command: string; needed: Role; held: Role | null }
  | { kind: 'needsConfirmation'; command: string; summary: string; rerun: string; actions?: MessageAction[] }
  /** A button press that did nothing: pressed by someone else, stale, or expired (`message` says which). */
  | { kind: 'pressRefused'; command: string; message: string }
  | { kind: 'failed'; command: string; message: string }
  | { kind: 'error'; command: string; message: string };

/** Every stage emits an event: the audit trail and the logs are built from these. */
export interface DispatchEvent {
  outcome: DispatchOutcome;
  actor: string;
  platform: string;
  commandLine: string;
  ms: number;
}

export interface DispatcherOptions<Services> {
  registry: CommandRegistry;
  app: Services;
  roles: () => RoleLists;
  secretsDelivery: SecretsDelivery;
  onEvent?: (e: DispatchEvent) => void;
  onError?: (err: unknown, commandLine: string) => void;
}

/** What an adapter hands its invocations to (any Dispatcher, whatever its services). */
export interface DispatchEntry {
  /** A command typed (a slash command, a terminal line). */
  dispatch(port: ChatPort, inv: Invocation): Promise<DispatchOutcome>;
  /** Files arrived with this text (an upload's message): the command that takes files runs once per file, with the options the text names. */
  upload(port: ChatPort, inv: Invocation): Promise<DispatchOutcome[]>;
  /** The terminal's path argument when `line` runs a command that takes a file, else null. */
  pathArgument(line: string): string | null;
  /** A button pressed (Slack block_actions, a Discord component interaction), already acknowledged. */
  press(port: ChatPort, press: Press): Promise<DispatchOutcome>;
  /**
   * What to offer `actor` while `command`'s filter or positional is typed (at most MAX_SUGGESTIONS,
   * each at most 100 characters); nothing to someone the command is not for (suggestions show data).
   */
  suggest(command: string, field: SuggestField, partial: string, actor: Actor): string[];
}

/** Discord shows at most 25 choices, each at most 100 characters. */
export const MAX_SUGGESTIONS = 25;
const MAX_SUGGESTION_CHARS = 100;

const NO_OPTIONS = z.object({});
/** Mentions of the bot or anyone (Slack `<@U1|name>`, Discord `<@1>`, `<@!1>`, `<@&1>`): not words of a command. */
const MENTION = /<@[!&]?[A-Za-z0-9]+(\|[^>]*)?>/g;
/** `key=value` words in an upload's message (anything else in it is chatter). */
const OPTION_WORD = /^[a-z][a-z_-]*=[\w.,:-]+$/i;

/** `password=x`, `token=y`: option values whose names look secret are not kept in the audit trail. */
export function redactCommandLine(line: string): string {
  return line.replace(/\b([a-z_-]*(?:pass(?:word)?|secret|token|key)[a-z_-]*)=("[^"]*"|'[^']*'|\S*)/gi, '$1=[redacted]');
}

/** Longest command word kept as given in the audit trail and logs; longer ones are cut with a marker. */
export const MAX_AUDIT_WORD = 64;

/**
 * The command word of a line, capped: an unknown word is whatever the sender typed, and anyone may
 * send one, so its size must not reach the store (a 200,000-character word would be kept whole).
 */
export function auditWord(commandLine: string): string {
  const m = /^\S*/.exec(commandLine)![0];
  if (m.length <= MAX_AUDIT_WORD) return m;
  let end = MAX_AUDIT_WORD;
  const last = m.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // do not split a surrogate pair
  return `${m.slice(0, end)}…[${m.length} characters]`;
}

/** A short description of an outcome for the audit trail. */
export function outcomeDetail(o: DispatchOutcome): string | null {
  switch (o.kind) {
    case 'ok':
      return null;
    case 'denied':
      return `needs ${o.needed}, has ${o.held ?? 'no role'}`;
    case 'needsConfirmation':
      return o.summary;
    default:
      return o.message;
  }
}

/** Removes a leading `/connexa` (users paste it into the terminal too). */
export function stripPrefix(text: string): string {
  return text.trim().replace(/^\/?connexa(\s+|$)/i, '').trim();
}

/**
 * parse -> validate -> authorize (fails closed) -> confirm (side effects) -> execute -> render.
 * The order matters: permission is checked before any confirmation prompt is shown.
 */
export class Dispatcher<Services> implements DispatchEntry {
  private readonly opts: DispatcherOptions<Services>;
  private readonly shutdown = new AbortController();
  /** Buttons shown and not yet pressed (see Buttons). */
  readonly buttons = new Buttons();
  constructor(opts: DispatcherOptions<Services>) {
    this.opts = opts;
  }

  get registry(): CommandRegistry {
    return this.opts.registry;
  }

  /** Aborts every running command's ctx.signal (the bot is stopping). */
  close(): void {
    this.shutdown.abort();
  }

  /** Each file is one run of the command (two lists in one message are two imports), in order. */
  async upload(port: ChatPort, inv: Invocation): Promise<DispatchOutcome[]> {
    const text = this.uploadLine(inv.text);
    const outcomes: DispatchOutcome[] = [];
    for (const files of inv.files.length ? inv.files.map((f) => [f]) : [[]]) outcomes.push(await this.dispatch(port, { ...inv, text, files }));
    return outcomes;
  }

  /**
   * The one reading of an upload's message, the same on every platform: mentions and a leading
   * `/connexa` or command name are dropped, `key=value` words become options, and a message that
   * is a single word the command declares (`ping`) stands for its options; other words are chatter.
   */
  uploadLine(text: string): string {
    const taker = this.opts.registry.list.find((c) => c.attachment);
    if (!taker) return 'help';
    const words = stripPrefix(text.replace(MENTION, ' ').replace(/^[\s,:]+/, '')).split(/\s+/).filter(Boolean);
    if (words[0]?.toLowerCase() === taker.name) words.shift();
    const options = words.filter((w) => OPTION_WORD.test(w));
    const said = words.length === 1 ? taker.attachment!.words?.[words[0]!.toLowerCase()] : undefined;
    return [taker.name, ...(said ? [said] : options)].join(' ');
  }

  pathArgument(line: string): string | null {
    try {
      const [name, ...rest] = tokenize(stripPrefix(line));
      const def = this.opts.registry.get((name ?? '').toLowerCase());
      if (!def?.attachment || !def.positional) return null;
      return splitArgs(rest, 1).positionals[0] ?? null;
    } catch {
      return null; // dispatch() explains what is wrong with the line
    }
  }

  /**
   * A press: only the person the buttons were shown to, or an admin, may press; a button from
   * before a restart or of a message already answered says so. Otherwise the press runs its command
   * line as an invocation of the presser, through the same checks as a typed one (role, filter,
   * confirmation code: a selection that changed since is answered with a fresh prompt, not acted on).
   */
  async press(port: ChatPort, p: Press): Promise<DispatchOutcome> {
    const b = this.buttons.lookup(p.actionId);
    const refuse = async (message: string): Promise<DispatchOutcome> => {
      // Counted under the command the button acts for when it is still known (a spent one); an expired one is `button`.
      const known = 'stale' in b ? b.button : b;
      const outcome: DispatchOutcome = { kind: 'pressRefused', command: known ? commandOf(known) : 'button', message };
      return this.finish(outcome, this.conversation(port, p), `(button) ${known ? (known.spec.run ?? known.spec.label) : ''}`.trim(), Date.now());
    };
    if ('stale' in b) return refuse(b.stale);
    if (!Buttons.owns(b, p.actor) && resolveRole(p.actor, this.opts.roles()) !== 'admin') return refuse(`Only ${b.owner.name}, who asked, or an admin can press this.`);
    this.buttons.close(b.group, `${b.spec.label} by ${p.actor.name}`);
    const outcome: DispatchOutcome =
      b.spec.run === null
        ? await this.finish({ kind: 'ok', command: commandOf(b) }, this.conversation(port, p), `(button) ${b.spec.label}`, Date.now())
        : await this.dispatch(port, { text: b.spec.run, files: [], actor: p.actor, where: p.where, buttonsOwner: b.owner, ...(b.spec.inPlace ? { inPlace: (m) => p.update(m) } : {}) });
    if (b.spec.pressed) {
      const text = outcome.kind === 'ok' ? b.spec.pressed.replace('{who}', p.actor.name) : `${b.spec.label} was pressed by ${p.actor.name}, and not done: ${outcomeDetail(outcome) ?? outcome.kind}`;
      await p.update({ text }).catch((err: unknown) => this.opts.onError?.(err, b.spec.run ?? b.spec.label));
    }
    return outcome;
  }

  private conversation(port: ChatPort, inv: Pick<Invocation, 'actor' | 'where'>): Conversation {
    return new Conversation({ port, where: inv.where, actor: inv.actor, secretsDelivery: this.opts.secretsDelivery });
  }

  /** Renders an outcome to the person who pressed or typed, and emits its event. */
  private async finish(outcome: DispatchOutcome, conversation: Conversation, commandLine: string, started: number): Promise<DispatchOutcome> {
    try {
      await this.render(outcome, conversation);
    } catch (err) {
      this.opts.onError?.(err, commandLine);
    }
    this.opts.onEvent?.({ outcome, actor: principalOf(conversation.actor), platform: conversation.actor.platform, commandLine, ms: Date.now() - started });
    return outcome;
  }

  suggest(command: string, field: SuggestField, partial: string, actor: Actor): string[] {
    const def = this.opts.registry.get(command.toLowerCase());
    if (!def?.suggest || !hasRole(resolveRole(actor, this.opts.roles()), def.role)) return [];
    try {
      const values = (def.suggest(field, partial.slice(0, 200), this.opts.app) as string[]).filter((v) => v.length > 0 && v.length <= MAX_SUGGESTION_CHARS);
      return [...new Set(values)].slice(0, MAX_SUGGESTIONS);
    } catch (err) {
      // A suggestion is a convenience: a failure must not reach the user as an error.
      this.opts.onError?.(err, `(suggest) ${command}`);
      return [];
    }
  }

  async dispatch(port: ChatPort, inv: Invocation): Promise<DispatchOutcome> {
    const started = Date.now();
    const commandLine = stripPrefix(inv.text);
    const conversation = this.conversation(port, inv);
    let outcome: DispatchOutcome;
    try {
      outcome = await this.run(commandLine, port, inv, conversation);
    } catch (err) {
      this.opts.onError?.(err, commandLine);
      const command = auditWord(commandLine);
      // A refusal the platform explained (a missing permission) is said as is: someone can fix it.
      outcome = err instanceof PlatformRefused ? { kind: 'failed', command, message: err.message } : { kind: 'error', command, message: 'an internal error stopped the command; it is in the bot log' };
    }
    return this.finish(outcome, conversation, commandLine, started);
  }

  private async run(commandLine: string, port: ChatPort, inv: Invocation, conversation: Conversation): Promise<DispatchOutcome> {
    // parse
    let tokens: string[];
    try {
      tokens = tokenize(commandLine);
    } catch (err) {
      return { kind: 'invalid', command: null, message: (err as Error).message, usage: '/connexa help' };
    }
    const name = (tokens.shift() ?? 'help').toLowerCase();
    const def = this.opts.registry.get(name);
    if (!def) {
      const close = this.opts.registry.suggest(name);
      const hint = close.length ? ` Did you mean ${close.map((c) => `\`${c}\``).join(' or ')}?` : '';
      return { kind: 'invalid', command: null, message: `unknown command \`${name.slice(0, 40)}\`.${hint} Type \`/connexa help\` for the list.`, usage: null };
    }
    // validate
    const input = def.rawRest ? this.rest(def, commandLine) : this.validate(def, tokens);
    if ('error' in input) return { kind: 'invalid', command: def.name, message: input.error, usage: `/connexa ${def.usage}` };
    // authorize
    const held = resolveRole(inv.actor, this.opts.roles());
    if (!hasRole(held, def.role)) return { kind: 'denied', command: def.name, needed: def.role, held };
    // preconditions
    const unmet = this.unmet(def, input);
    if (unmet) return { kind: 'failed', command: def.name, message: unmet };
    const ctx = commandContext({ services: this.opts.app, port, invocation: inv, role: held!, commandLine, reply: conversation, secretsDelivery: this.opts.secretsDelivery, signal: this.shutdown.signal, buttons: this.buttons });
    // confirm
    if (def.confirm) {
      const preview = await def.confirm(input, ctx);
      if (preview && input.options.confirm !== preview.code) {
        const rerun = `/connexa ${commandLine.replace(/\s+confirm=\S*/i, '')} confirm=${preview.code}`;
        const stale = input.options.confirm !== undefined ? 'The selection changed since that confirmation code was given. ' : '';
        const line = rerun.replace(/^\/connexa /, '');
        const actions = ctx.buttons([
          { label: 'Confirm', style: 'danger', run: line, pressed: `✅ Confirmed by {who}: \`${line.replace(/`/g, "'")}\`` },
          { label: 'Cancel', run: null, command: auditWord(line), pressed: 'Cancelled by {who}; nothing was done.' },
        ]);
        return { kind: 'needsConfirmation', command: def.name, summary: stale + preview.summary, rerun, ...(actions.length ? { actions } : {}) };
      }
    }
    // execute
    const result: CommandResult = await def.run(input, ctx);
    if (result.kind === 'failed') {
      // A command that wants a file and got none: the platform says how files reach the bot there.
      const hint = def.attachment && !inv.files.length && port.uploadHint ? `\n${port.uploadHint}` : '';
      return { kind: 'failed', command: def.name, message: result.message + hint };
    }
    // A pager's press: the page replaces the pressed message when it fits in one.
    if (result.reply && inv.inPlace && !result.reply.files?.length && result.reply.text.length <= port.limits.maxTextChars) await inv.inPlace(result.reply);
    else if (result.reply) await ctx.reply.say(result.reply);
    if (result.private) await ctx.reply.whisper(result.private);
    if (result.secret) await ctx.reply.secret(result.secret);
    return { kind: 'ok', command: def.name };
  }

  /** The first declared precondition that does not hold, said in one line. */
  private unmet(def: AnyCommand, input: CommandInput<unknown>): string | null {
    for (const need of (def.needs ?? []) as readonly Precondition<Services>[]) {
      const why = need(this.opts.app, def.name, input);
      if (why) return why;
    }
    return null;
  }

  /** A rawRest command's input: everything after its name, as typed. */
  private rest(def: AnyCommand, commandLine: string): { error: string } | CommandInput<Record<string, unknown>> {
    const rest = commandLine.replace(/^\S+\s*/, '');
    if (def.positional?.required && !rest) return { error: `${def.name} needs ${def.positional.description}` };
    return { filter: parseFilter([]), filterText: '', positional: rest || undefined, options: {} };
  }

  private validate(def: AnyCommand, tokens: string[]): { error: string } | CommandInput<Record<string, unknown> & { confirm?: string }> {
    try {
      const split = splitArgs(tokens, def.positional ? 1 : 0);
      if (def.positional?.required && split.positionals.length === 0) return { error: `${def.name} needs ${def.positional.description}` };
      if (split.filterTerms.length && def.filter !== 'optional') {
        return { error: `${def.name} takes no filter, but got: ${split.filterTerms.slice(0, 3).join(' ')}` };
      }
      const filter = parseFilter(split.filterTerms);
      const options = def.options ?? NO_OPTIONS;
      const schema = (def.confirm ? options.extend({ confirm: z.string().optional() }) : options).strict();
      const parsed = schema.safeParse(split.options);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        if (issue.code === 'unrecognized_keys') {
          const known = Object.keys(options.shape);
          return { error: `unknown option ${issue.keys.map((k: string) => `${k}=`).join(', ')}; ${def.name} takes ${known.length ? known.map((k) => `${k}=`).join(', ') : 'no options'}` };
        }
        return { error: `${String(issue.path[0] ?? 'option')}=: ${issue.message}` };
      }
      return { filter, filterText: split.filterTerms.join(' '), positional: split.positionals[0], options: parsed.data as Record<string, unknown> & { confirm?: string } };
    } catch (err) {
      if (err instanceof ArgError) return { error: err.message };
      throw err;
    }
  }

  /** The one place outcomes become messages. Refusals go privately to the person who typed. */
  private async render(outcome: DispatchOutcome, conversation: Conversation): Promise<void> {
    switch (outcome.kind) {
      case 'ok':
        return;
      case 'invalid':
        await conversation.whisper(`⚠️ ${outcome.message}${outcome.usage ? `\nUsage: \`${outcome.usage}\` — see \`/connexa help ${outcome.command ?? ''}\`.`.replace(' `.', '`.') : ''}`);
        return;
      case 'denied': {
        const who = principalOf(conversation.actor);
        const held = outcome.held ? `you have the ${outcome.held} role` : `you have no Connexa role (an admin can add \`${who}\` to CONNEXA_${outcome.needed.toUpperCase()}S)`;
        await conversation.whisper(`⛔ \`${outcome.command}\` needs the **${outcome.needed}** role; ${held}.`);
        return;
      }
      case 'needsConfirmation':
        await conversation.whisper({
          text: `❓ ${outcome.summary}\n${outcome.actions ? 'Press Confirm, or run:' : 'To go ahead, run:'}\n\`${outcome.rerun}\``,
          ...(outcome.actions ? { actions: outcome.actions } : {}),
        });
        return;
      case 'pressRefused':
        await conversation.whisper(`⛔ ${outcome.message}`);
        return;
      case 'failed':
        await conversation.whisper(`❌ ${outcome.message}`);
        return;
      case 'error':
        await conversation.whisper(`❌ ${outcome.message}`);
        return;
    }
  }
}

/** The command a button acts for, for the audit trail and the metrics. */
function commandOf(b: { spec: { run: string | null; label: string; command?: string } }): string {
  return b.spec.run ? auditWord(b.spec.run) : (b.spec.command ?? `button:${b.spec.label.toLowerCase()}`);
}
