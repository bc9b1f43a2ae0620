import { ArgError, parseFilter, splitArgs, tokenize } from '../src/chat/args.ts';
import { failed, ok } from '../src/chat/command.ts';
import { clean, plural, table } from '../src/chat/render.ts';
import { hasRole } from '../src/chat/roles.ts';
import { parseWhen } from '../src/monitor/when.ts';
import { command } from './define.ts';
import { saved } from './saved.ts';

/** Commands a schedule may run: the re-tests and the read-outs. Nothing that needs a file, a confirmation or revokes. */
export const SCHEDULABLE = ['ping', 'speed', 'export', 'stats'] as const;

/** `ping status:ping_ok every day 03:00` -> the line and the time, split at the last `every`. */
function splitEvery(text: string): { line: string; when: string } | null {
  const m = /^(.*\S)\s+every\s+(.+)$/is.exec(text.trim());
  return m ? { line: m[1]!.trim(), when: m[2]!.trim().replace(/^(["'])(.*)\1$/, '$2') } : null;
}

/** Discord hands the whole line over as one quoted option value: unquote it. */
function unwrapped(text: string): string {
  try {
    const tokens = tokenize(text);
    return tokens.length === 1 && /\s/.test(tokens[0]!) ? tokens[0]! : text;
  } catch {
    return text;
  }
}

export const schedule = command({
  name: 'schedule',
  summary: 'Run a command line again and again (ping, speed, export, stats); results come to this channel',
  usage: 'schedule <command line> every <when>',
  examples: ['schedule ping status:ping_ok every day 03:00', 'schedule speed status:speed_ok every sunday 04:00', 'schedule ping country:US every "30 2 * * 1-5"'],
  role: 'operator',
  rawRest: true,
  positional: { name: 'line', description: 'a command line and `every <when>`, e.g. `ping status:ping_ok every day 03:00`', required: true },
  notes: [
    `Schedulable: ${SCHEDULABLE.join(', ')}. Times: \`day 03:00\`, \`weekday 08:30\`, \`sunday 04:00\`, \`monday,thursday 22:00\`, \`hour\`, \`hour :15\`, \`30 minutes\`, or a 5-field cron in quotes; in the host's time zone.`,
    'Each run is made as you, in this channel: if you lose the role the command needs, the run is refused and said here. A run whose previous job (or another job of the same selection) still runs is skipped with a note.',
  ],
  async run({ positional }, ctx) {
    const parts = splitEvery(unwrapped(positional!));
    if (!parts) return failed('say what to run and when: `schedule ping status:ping_ok every day 03:00`');
    const when = parseWhen(parts.when);
    if ('error' in when) return failed(when.error);
    let tokens: string[];
    try {
      tokens = tokenize(parts.line.replace(/^\/?connexa\s+/i, ''));
    } catch (err) {
      return failed((err as Error).message);
    }
    const name = (tokens[0] ?? '').toLowerCase();
    if (!(SCHEDULABLE as readonly string[]).includes(name)) return failed(`\`${clean(name, 30)}\` cannot be scheduled; schedules run ${SCHEDULABLE.join(', ')}`);
    const def = ctx.services.registry.get(name);
    if (!def) return failed(`\`${name}\` is not a command here`);
    if (!hasRole(ctx.role, def.role)) return failed(`\`${name}\` needs the ${def.role} role, which you do not have`);
    // The line is checked now as it will be at each run, so a typo is said today, not at 03:00.
    try {
      const split = splitArgs(tokens.slice(1), def.positional ? 1 : 0);
      if (split.filterTerms.length && def.filter !== 'optional') return failed(`${name} takes no filter`);
      parseFilter(split.filterTerms);
      const opts = def.options?.strict().safeParse(split.options);
      if (opts && !opts.success) return failed(`${name}: ${opts.error.issues[0]!.message}`);
      if (!def.options && Object.keys(split.options).length) return failed(`${name} takes no options`);
    } catch (err) {
      if (err instanceof ArgError) return failed(err.message);
      throw err;
    }
    const line = [name, ...tokens.slice(1).map((t) => (/\s/.test(t) ? `"${t}"` : t))].join(' ');
    const same = ctx.services.schedules.list().find((s) => s.line === line && s.cron === when.cron && s.where === ctx.where.key);
    if (same) return failed(`this is schedule ${same.id} already`);
    const s = ctx.services.schedules.add({ line, when: when.words, cron: when.cron, where: ctx.where.key, actor: ctx.actor });
    const next = ctx.services.schedules.nextRunAt(s);
    return ok(`🕒 Schedule **${s.id}**: \`${line}\` every ${when.words} (\`${when.cron}\`), results in this channel. Next run: ${next ? next.toISOString().slice(0, 16).replace('T', ' ') : '—'} UTC.${await saved(ctx.services.store)}`);
  },
});

export const schedules = command({
  name: 'schedules',
  summary: 'The saved schedules: what runs when, the last run and how it went',
  usage: 'schedules',
  examples: ['schedules'],
  role: 'viewer',
  async run(_input, ctx) {
    const list = ctx.services.schedules.list();
    if (!list.length) return ok('No schedule. Make one with `/connexa schedule ping status:ping_ok every day 03:00`.');
    const at = (d: Date | string | null | undefined) => (d ? (typeof d === 'string' ? d : d.toISOString()).slice(0, 16).replace('T', ' ') : '—');
    const rows = list.map((s) => [
      s.id,
      s.line,
      s.when,
      at(ctx.services.schedules.nextRunAt(s)),
      s.lastRun ? `${at(s.lastRun.at)} ${s.lastRun.outcome}${s.lastRun.note ? `: ${s.lastRun.note}` : ''}` : 'never',
      s.actor.name,
      s.platform,
    ]);
    return ok(`${plural(list.length, 'schedule')} (times UTC):\n${table(['id', 'command', 'every', 'next run', 'last run', 'by', 'where'], rows, [], 70)}`);
  },
});

export const unschedule = command({
  name: 'unschedule',
  summary: 'Remove a schedule',
  usage: 'unschedule <id>',
  examples: ['unschedule s3'],
  role: 'operator',
  positional: { name: 'id', description: 'a schedule id such as s3 (see `/connexa schedules`)', required: true },
  async run({ positional }, ctx) {
    const gone = ctx.services.schedules.remove(positional!);
    if (!gone) return failed(`there is no schedule ${clean(positional, 20)}; \`/connexa schedules\` lists them`);
    return ok(`Schedule ${gone.id} removed (\`${gone.line}\` every ${gone.when}).${await saved(ctx.services.store)}`);
  },
});
