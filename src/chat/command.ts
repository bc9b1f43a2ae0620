import type { z } from 'zod';
import type { Filter } from '../fleet/filter.ts';
import type { ButtonSpec } from './buttons.ts';
import type { Actor, IncomingFile, Message, MessageAction, MessageRef, Platform, Role, Where } from './types.ts';

/**
 * A condition a command declares, like its role (a filter was given, the data directory is
 * writable, this host can open tunnels). The dispatcher checks it after the role and before any
 * confirmation prompt or handler, and renders the refusal; null when it holds.
 */
export type Precondition<Services = unknown> = (services: Services, command: string, input: CommandInput<unknown>) => string | null;

/**
 * What a command declares: its name, help, arguments (a zod object for `key=value` options, an
 * optional positional, whether it takes a filter), the role and preconditions it needs, and a
 * handler that talks only through the context. Outcomes are values, rendered in one place.
 */
export interface CommandDef<Opts extends z.ZodObject = z.ZodObject, Services = unknown> {
  name: string;
  summary: string;
  /** e.g. `list [filter] [page=N]` */
  usage: string;
  examples: string[];
  role: Role;
  /** Checked in this order after the role; the first that fails is the answer. */
  needs?: readonly Precondition<Services>[];
  /** Whether a filter may follow the command (none when left out). */
  filter?: 'none' | 'optional';
  /** A word after the command (`show <ip|id>`); `choices` when only some words are valid. */
  positional?: { name: string; description: string; required: boolean; choices?: readonly string[] };
  /**
   * A file the command takes: in chat an attachment (a typed option on Discord, an upload on Slack);
   * in the terminal the positional names its path, and the shell reads it before dispatch.
   * `words`: a message with an upload that is just one of these words means those options
   * (`ping` -> `test=ping`).
   */
  attachment?: { name: string; description: string; required: boolean; words?: Readonly<Record<string, string>> };
  /**
   * The words after the command are one unparsed positional (the rest of the line, quotes kept):
   * `schedule` takes a whole command line and a time, which the filter grammar would refuse.
   */
  rawRest?: boolean;
  /** `key=value` options (none when left out). */
  options?: Opts;
  /** Explains the options in `help <command>`. */
  optionHelp?: Record<string, string>;
  /** Further lines for `help <command>`: what a user should know before relying on it. */
  notes?: readonly string[];
  /**
   * Commands with side effects that deserve a second look (delete) return a preview: the dispatcher
   * asks the user to re-run the command with `confirm=<code>`; the code changes when the selection does.
   */
  confirm?(input: CommandInput<z.infer<Opts>>, ctx: CommandContext<Services>): Promise<Preview | null> | Preview | null;
  run(input: CommandInput<z.infer<Opts>>, ctx: CommandContext<Services>): Promise<CommandResult>;
  /**
   * Values to offer while the user types the filter or the positional (Discord autocomplete): each a
   * whole value for that field, best first. Read from memory only: Discord wants the answer in 3 s.
   */
  suggest?(field: SuggestField, partial: string, services: Services): string[];
  /** Option keys whose values `suggest` offers (`option:<key>`): Discord autocompletes them. */
  suggestOptions?: readonly string[];
}

/** What is being typed: the filter, the positional, or the value of one option (`option:gateway`). */
export type SuggestField = 'filter' | 'positional' | `option:${string}`;

export interface Preview {
  code: string;
  summary: string;
}

export interface CommandInput<O> {
  filter: Filter;
  /** The words of the filter as typed (for titles and the re-runnable confirmation). */
  filterText: string;
  positional: string | undefined;
  options: O;
}

/** Answers beyond the command's result: a report before a job's own message, a bundle. */
export interface Replies {
  /** Posts publicly where the command was typed; returns the last message posted. */
  say(msg: Message | string): Promise<MessageRef>;
  /** Visible to the person who typed the command only. */
  whisper(msg: Message | string): Promise<void>;
  /** Secrets: by DM or privately in place (SECRETS_DELIVERY), never public. */
  secret(msg: Message | string): Promise<void>;
  /** Largest attachment total one message may carry here (bundles are split under it). */
  readonly maxFileBytes: number;
  /** Longest text one message holds here (longer answers come in several messages). */
  readonly maxTextChars: number;
}

/**
 * One public message that follows a piece of work: posted by `start`, edited by `update` (within
 * the platform's edit budget), and ended by `complete` or `fail`, whose text always lands.
 */
export interface Progress {
  /** `actions` stay on the message while it is updated; complete and fail remove them. */
  start(text: string, actions?: MessageAction[]): Promise<void>;
  update(text: string): void;
  /** The final text; returns the message it is in (a thread can hang under it). */
  complete(text: string): Promise<MessageRef>;
  fail(text: string): Promise<MessageRef>;
}

/** What a handler may use: its services, who asked and where, and the ways to answer. */
export interface CommandContext<Services = unknown> {
  services: Services;
  actor: Actor;
  role: Role;
  files: IncomingFile[];
  /** The command line as typed after `/connexa`. */
  commandLine: string;
  platform: Platform;
  /** Where the command was typed (`alerts here` keeps it). */
  where: Where;
  reply: Replies;
  /** A new progress message each call (a command may run several jobs). */
  progress(): Progress;
  /** Posts into the thread under `parent` (one of this command's messages). */
  thread(parent: MessageRef, msg: Message): Promise<void>;
  /** Aborted when the bot shuts down: long work stops early and says so. */
  signal: AbortSignal;
  /**
   * Buttons for a message, owned by the person who asked (only they or an admin may press them);
   * none where the port shows no buttons (the terminal), so the text must say the typed way too.
   */
  buttons(specs: readonly ButtonSpec[]): MessageAction[];
}

export type CommandResult =
  | {
      kind: 'ok';
      /** Public answer. */
      reply?: Message;
      /** For the person who asked only. */
      private?: Message;
      /** Secrets: delivered by DM or privately (SECRETS_DELIVERY), never public. */
      secret?: Message;
    }
  | { kind: 'failed'; message: string };

export const ok = (reply?: Message | string, extra: { private?: Message; secret?: Message } = {}): CommandResult => ({
  kind: 'ok',
  reply: typeof reply === 'string' ? { text: reply } : reply,
  ...extra,
});
export const failed = (message: string): CommandResult => ({ kind: 'failed', message });

/** Identity helper that keeps each command's option types. */
export function defineCommand<Opts extends z.ZodObject, Services>(def: CommandDef<Opts, Services>): CommandDef<Opts, Services> {
  return def;
}
