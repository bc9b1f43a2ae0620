import type { z } from 'zod';
import type { App } from '../src/app.ts';
import { failed, type CommandDef } from '../src/chat/command.ts';

/**
 * The commands that only read: they alone run when DATA_DIR is read-only (Store.readOnly). Every other
 * command may change data that could never be saved, so it is refused there with one line.
 */
const READING = new Set(['help', 'stats', 'list', 'show', 'jobs', 'audit']);

/** defineCommand with the app's services typed in, so handlers read ctx.app without casts. */
export function command<Opts extends z.ZodObject>(def: CommandDef<Opts, App>): CommandDef<Opts, App> {
  if (READING.has(def.name)) return def;
  const { run, confirm } = def;
  return {
    ...def,
    ...(confirm && { confirm: (input, ctx) => (ctx.app.store.readOnly ? null : confirm(input, ctx)) }),
    async run(input, ctx) {
      const why = ctx.app.store.readOnly;
      if (why) return failed(`\`${def.name}\` is refused: the data directory ${ctx.app.config.dataDir} is read-only (${why}) and this command changes data. Only stats, list, show, jobs, audit and help work until it is writable.`);
      return run(input, ctx);
    },
  };
}
