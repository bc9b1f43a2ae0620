import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  InteractionContextType,
  type APIApplicationCommandBasicOption,
  type APIApplicationCommandSubcommandOption,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import { z } from 'zod';
import type { AnyCommand, CommandRegistry } from '../../src/chat/registry.ts';

/**
 * The registry as one Discord application command, `/connexa <sub-command> [options]`, plus the
 * bindings that turn an interaction's typed options back into the command line the dispatcher
 * parses (so Discord, Slack and the terminal share one grammar, one validation and one help text).
 */
export const COMMAND_NAME = 'connexa';

/** How one Discord option maps back onto the command line. */
export type Binding =
  | { kind: 'filter'; option: string }
  | { kind: 'positional'; option: string }
  | { kind: 'option'; option: string; key: string }
  | { kind: 'file'; option: string };

export interface CommandsSchema {
  json: RESTPostAPIChatInputApplicationCommandsJSONBody;
  /** Sub-command name -> its bindings, in option order. */
  bindings: ReadonlyMap<string, readonly Binding[]>;
}

/** Discord's limits for application commands (developer docs, "Application Command Object"). */
const NAME = /^[-_\p{Ll}\p{Lo}\p{N}]{1,32}$/u;
const MAX_SUBCOMMANDS = 25;
const MAX_OPTIONS = 25;
const MAX_CHOICES = 25;

export class CommandSchemaError extends Error {}

function optionName(raw: string, command: string): string {
  // `ip|id` -> `ip-or-id`: Discord names allow letters, digits, - and _ only.
  const name = raw.toLowerCase().replace(/\|/g, '-or-').replace(/[^-_\p{L}\p{N}]+/gu, '-').replace(/^-+|-+$/g, '').slice(0, 32);
  if (!NAME.test(name)) throw new CommandSchemaError(`${command}: "${raw}" cannot be made a Discord option name`);
  return name;
}

function description(text: string | undefined, fallback: string): string {
  const t = (text ?? '').replace(/\s+/g, ' ').trim() || fallback;
  return t.length > 100 ? `${t.slice(0, 99)}…` : t;
}

interface ZodShape {
  type: ApplicationCommandOptionType.String | ApplicationCommandOptionType.Integer | ApplicationCommandOptionType.Number | ApplicationCommandOptionType.Boolean;
  required: boolean;
  choices?: Array<string | number>;
  min?: number;
  max?: number;
  description?: string;
}

/** Reads what Discord needs from a zod option: its type, whether it may be left out, its choices and bounds. */
export function zodOption(schema: z.ZodType): ZodShape {
  let s: z.ZodType = schema;
  let required = true;
  let text = schema.description;
  for (let depth = 0; depth < 10; depth++) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodPrefault) {
      required = false;
      s = s.unwrap() as z.ZodType;
    } else if (s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
    else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else break;
    text ??= s.description;
  }
  const base = { required, ...(text ? { description: text } : {}) };
  if (s instanceof z.ZodEnum) {
    const values = s.options.map((v) => String(v));
    return { ...base, type: ApplicationCommandOptionType.String, ...(values.length <= MAX_CHOICES ? { choices: values } : {}) };
  }
  if (s instanceof z.ZodLiteral) {
    const values = [...s.values];
    if (values.every((v) => typeof v === 'string')) return { ...base, type: ApplicationCommandOptionType.String, choices: values as string[] };
  }
  if (s instanceof z.ZodNumber) {
    const bound = (v: number | null) => (v !== null && Number.isFinite(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER ? v : undefined);
    const min = bound(s.minValue);
    const max = bound(s.maxValue);
    return {
      ...base,
      type: s.isInt ? ApplicationCommandOptionType.Integer : ApplicationCommandOptionType.Number,
      ...(min !== undefined ? { min } : {}),
      ...(max !== undefined ? { max } : {}),
    };
  }
  if (s instanceof z.ZodBoolean) return { ...base, type: ApplicationCommandOptionType.Boolean };
  return { ...base, type: ApplicationCommandOptionType.String };
}

function bounds(shape: ZodShape): { min_value?: number; max_value?: number } {
  return { ...(shape.min !== undefined ? { min_value: shape.min } : {}), ...(shape.max !== undefined ? { max_value: shape.max } : {}) };
}

/** `autocomplete`: a string option without fixed choices whose values are suggested as typed (Discord allows one or the other). */
function basicOption(name: string, desc: string, shape: ZodShape, autocomplete = false): APIApplicationCommandBasicOption {
  switch (shape.type) {
    case ApplicationCommandOptionType.String:
      if (shape.choices) return { type: shape.type, name, description: desc, required: shape.required, choices: shape.choices.map((c) => ({ name: String(c), value: String(c) })) };
      return { type: shape.type, name, description: desc, required: shape.required, ...(autocomplete ? { autocomplete: true } : {}) };
    case ApplicationCommandOptionType.Integer:
      return { type: shape.type, name, description: desc, required: shape.required, ...bounds(shape) };
    case ApplicationCommandOptionType.Number:
      return { type: shape.type, name, description: desc, required: shape.required, ...bounds(shape) };
    case ApplicationCommandOptionType.Boolean:
      return { type: shape.type, name, description: desc, required: shape.required };
  }
}

function subcommand(def: AnyCommand): { json: APIApplicationCommandSubcommandOption; bindings: Binding[] } {
  if (!NAME.test(def.name)) throw new CommandSchemaError(`command "${def.name}" is not a valid Discord sub-command name`);
  const options: APIApplicationCommandBasicOption[] = [];
  const bindings: Binding[] = [];
  const taken = new Set<string>();
  const add = (opt: APIApplicationCommandBasicOption, binding: Binding) => {
    if (taken.has(opt.name)) throw new CommandSchemaError(`${def.name}: two options would be named ${opt.name}`);
    taken.add(opt.name);
    options.push(opt);
    bindings.push(binding);
  };
  // A command that takes a file gets an attachment option; its positional is the terminal's way of naming it.
  const file = def.attachment;
  if (file) {
    const name = optionName(file.name, def.name);
    add({ type: ApplicationCommandOptionType.Attachment, name, description: description(file.description, 'a file'), required: file.required }, { kind: 'file', option: name });
  } else if (def.positional) {
    const name = optionName(def.positional.name, def.name);
    const choices = def.positional.choices?.slice(0, MAX_CHOICES).map((c) => ({ name: c, value: c }));
    add(
      {
        type: ApplicationCommandOptionType.String,
        name,
        description: description(def.positional.description, def.positional.name),
        required: def.positional.required,
        // Fixed choices, or suggestions from the store as the user types (Discord allows one or the other).
        ...(choices ? { choices } : def.suggest ? { autocomplete: true } : {}),
      },
      { kind: 'positional', option: name },
    );
  }
  if (def.filter === 'optional') {
    add(
      { type: ApplicationCommandOptionType.String, name: 'filter', description: 'Which nodes, e.g. status:ping_ok country:US, an IP, or all (see /connexa help)', required: false, ...(def.suggest ? { autocomplete: true } : {}) },
      { kind: 'filter', option: 'filter' },
    );
  }
  const shape = ((def.options as z.ZodObject | undefined)?.shape ?? {}) as Record<string, z.ZodType>;
  for (const [key, schema] of Object.entries(shape)) {
    const z0 = zodOption(schema);
    const name = optionName(key, def.name);
    // Values suggested as they are typed (gateway names) where the command offers them.
    const auto = Boolean(def.suggest && def.suggestOptions?.includes(key));
    add(basicOption(name, description(def.optionHelp?.[key] ?? z0.description, key), z0, auto), { kind: 'option', option: name, key });
  }
  // The dispatcher adds `confirm=` to commands that ask for confirmation; the second run carries the code.
  if (def.confirm && !('confirm' in shape)) {
    add(
      { type: ApplicationCommandOptionType.String, name: 'confirm', description: description(def.optionHelp?.confirm, 'the code the first run gives you, to confirm'), required: false },
      { kind: 'option', option: 'confirm', key: 'confirm' },
    );
  }
  if (options.length > MAX_OPTIONS) throw new CommandSchemaError(`${def.name} has ${options.length} options; Discord allows ${MAX_OPTIONS}`);
  // Discord requires every required option to come before the optional ones.
  const order = options.map((o, i) => ({ o, b: bindings[i]!, req: o.required ? 0 : 1, i })).sort((a, b) => a.req - b.req || a.i - b.i);
  return {
    json: { type: ApplicationCommandOptionType.Subcommand, name: def.name, description: description(def.summary, def.name), options: order.map((x) => x.o) },
    bindings: order.map((x) => x.b),
  };
}

/** The `/connexa` command for every command of the registry. Pure: unit-tested without Discord. */
export function buildCommandsSchema(registry: CommandRegistry): CommandsSchema {
  if (registry.list.length > MAX_SUBCOMMANDS) {
    throw new CommandSchemaError(`the registry has ${registry.list.length} commands; one Discord command holds at most ${MAX_SUBCOMMANDS} sub-commands (group them)`);
  }
  const subs = registry.list.map(subcommand);
  return {
    json: {
      type: ApplicationCommandType.ChatInput,
      name: COMMAND_NAME,
      description: 'Run the PPTP fleet: import, test, list, export… (/connexa help)',
      // Everyone may see the command; Connexa's own roles decide who may run what, and say why not.
      default_member_permissions: null,
      integration_types: [ApplicationIntegrationType.GuildInstall],
      contexts: [InteractionContextType.Guild, InteractionContextType.BotDM],
      options: subs.map((s) => s.json),
    },
    bindings: new Map(registry.list.map((c, i) => [c.name, subs[i]!.bindings])),
  };
}

/** Quotes a value for the shared tokenizer when it holds spaces or quotes. */
export function quoteArg(value: string): string {
  if (value !== '' && !/[\s"'“”‘’«»]/.test(value)) return value;
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes("'")) return `'${value}'`;
  return `“${value.replace(/[“”]/g, '"')}”`;
}

export type OptionValue = string | number | boolean;

/**
 * The command line for a sub-command and its option values (files are handed over separately).
 * A sub-command that is not in the registry (a client with a stale command list) still goes to the
 * dispatcher, which answers "unknown command, did you mean …".
 */
export function commandLine(sub: string, bindings: readonly Binding[] | undefined, values: ReadonlyMap<string, OptionValue>): string {
  const words = [sub];
  for (const b of bindings ?? []) {
    const v = values.get(b.option);
    if (v === undefined || b.kind === 'file') continue;
    if (b.kind === 'filter') words.push(String(v).trim());
    else if (b.kind === 'positional') words.push(quoteArg(String(v)));
    else words.push(`${b.key}=${quoteArg(String(v))}`);
  }
  return words.filter(Boolean).join(' ');
}
