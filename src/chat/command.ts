import { z } from 'zod';
import type { Filter } from '../fleet/filter.ts';
import type { Conversation } from './conversation.ts';
import type { Actor, IncomingFile, Message, Role } from './types.ts';

/**
 * What a command declares: its name, help, arguments (a zod object for `key=value` options, an
 * optional positional, whether it takes a filter), the role it needs, and a handler that talks
 * only to the chat port through the context. Outcomes are values, rendered in one place.
 */
export interface CommandDef<Opts extends z.ZodObject = z.ZodObject, Services = unknown> {
  name: string;
  summary: string;
  /** e.g. `list [filter] [page=N]` */
  usage: string;
  examples: string[];
  role: Role;
  filter: 'none' | 'optional';
  /** A word after the command (`show <ip|id>`); `choices` when only some words are valid. */
  positional?: { name: string; description: string; required: boolean; choices?: readonly string[] };
  /**
   * A file the command takes: in chat an attachment (a typed option on Discord, an upload on Slack);
   * in the terminal the positional names its path instead.
   */
  attachment?: { name: string; description: string; required: boolean };
  options: Opts;
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
}

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

export interface CommandContext<Services = unknown> {
  app: Services;
  actor: Actor;
  role: Role;
  files: IncomingFile[];
  conversation: Conversation;
  /** The command line as typed after `/connexa`. */
  commandLine: string;
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

export const noOptions = z.object({});
