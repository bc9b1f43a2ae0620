import { z } from 'zod';
import { ArgError, parseFilter, splitArgs, tokenize } from './args.ts';
import type { CommandInput, CommandResult } from './command.ts';
import { Conversation, type SecretsDelivery } from './conversation.ts';
import type { AnyCommand, CommandRegistry } from './registry.ts';
import { hasRole, principalOf, resolveRole, type RoleLists } from './roles.ts';
import type { ChatPort, Invocation, Role } from './types.ts';

/** What became of one invocation; rendered in one place (`render`) and returned to the adapter. */
export type DispatchOutcome =
  | { kind: 'ok'; command: string }
  | { kind: 'invalid'; command: string | null; message: string; usage: string | null }
  | { kind: 'denied'; command: string; needed: Role; held: Role | null }
  | { kind: 'needsConfirmation'; command: string; summary: string; rerun: string }
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

/** `password=x`, `token=y`: option values whose names look secret are not kept in the audit trail. */
export function redactCommandLine(line: string): string {
  return line.replace(/\b([a-z_-]*(?:pass(?:word)?|secret|token|key)[a-z_-]*)=("[^"]*"|'[^']*'|\S*)/gi, '$1=[redacted]');
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
export class Dispatcher<Services> {
  private readonly opts: DispatcherOptions<Services>;
  constructor(opts: DispatcherOptions<Services>) {
    this.opts = opts;
  }

  get registry(): CommandRegistry {
    return this.opts.registry;
  }

  async dispatch(port: ChatPort, inv: Invocation): Promise<DispatchOutcome> {
    const started = Date.now();
    const commandLine = stripPrefix(inv.text);
    const conversation = new Conversation(port, inv.where, inv.actor, this.opts.secretsDelivery);
    let outcome: DispatchOutcome;
    try {
      outcome = await this.run(commandLine, inv, conversation);
    } catch (err) {
      this.opts.onError?.(err, commandLine);
      outcome = { kind: 'error', command: commandLine.split(/\s+/)[0] ?? '', message: 'an internal error stopped the command; it is in the bot log' };
    }
    try {
      await this.render(outcome, conversation);
    } catch (err) {
      this.opts.onError?.(err, commandLine);
    }
    this.opts.onEvent?.({ outcome, actor: principalOf(inv.actor), platform: inv.actor.platform, commandLine, ms: Date.now() - started });
    return outcome;
  }

  private async run(commandLine: string, inv: Invocation, conversation: Conversation): Promise<DispatchOutcome> {
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
    const input = this.validate(def, tokens);
    if ('error' in input) return { kind: 'invalid', command: def.name, message: input.error, usage: `/connexa ${def.usage}` };
    // authorize
    const held = resolveRole(inv.actor, this.opts.roles());
    if (!hasRole(held, def.role)) return { kind: 'denied', command: def.name, needed: def.role, held };
    const ctx = { app: this.opts.app, actor: inv.actor, role: held!, files: inv.files, conversation, commandLine };
    // confirm
    if (def.confirm) {
      const preview = await def.confirm(input, ctx);
      if (preview && input.options.confirm !== preview.code) {
        const rerun = `/connexa ${commandLine.replace(/\s+confirm=\S*/i, '')} confirm=${preview.code}`;
        const stale = input.options.confirm !== undefined ? 'The selection changed since that confirmation code was given. ' : '';
        return { kind: 'needsConfirmation', command: def.name, summary: stale + preview.summary, rerun };
      }
    }
    // execute
    const result: CommandResult = await def.run(input, ctx);
    if (result.kind === 'failed') return { kind: 'failed', command: def.name, message: result.message };
    if (result.reply) await conversation.say(result.reply);
    if (result.private) await conversation.whisper(result.private);
    if (result.secret) await conversation.secret(result.secret);
    return { kind: 'ok', command: def.name };
  }

  private validate(def: AnyCommand, tokens: string[]): { error: string } | CommandInput<Record<string, unknown> & { confirm?: string }> {
    try {
      const split = splitArgs(tokens, def.positional ? 1 : 0);
      if (def.positional?.required && split.positionals.length === 0) return { error: `${def.name} needs ${def.positional.description}` };
      if (split.filterTerms.length && def.filter === 'none') {
        return { error: `${def.name} takes no filter, but got: ${split.filterTerms.slice(0, 3).join(' ')}` };
      }
      const filter = parseFilter(split.filterTerms);
      const schema = (def.confirm ? def.options.extend({ confirm: z.string().optional() }) : def.options).strict();
      const parsed = schema.safeParse(split.options);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        if (issue.code === 'unrecognized_keys') {
          const known = Object.keys(def.options.shape);
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
        await conversation.whisper(`❓ ${outcome.summary}\nTo go ahead, run:\n\`${outcome.rerun}\``);
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
