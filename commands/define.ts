import type { z } from 'zod';
import type { App } from '../src/app.ts';
import type { CommandDef } from '../src/chat/command.ts';

/** defineCommand with the app's services typed in, so handlers read ctx.app without casts. */
export function command<Opts extends z.ZodObject>(def: CommandDef<Opts, App>): CommandDef<Opts, App> {
  return def;
}
