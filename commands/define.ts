import type { z } from 'zod';
import type { CommandServices } from '../src/app.ts';
import type { CommandDef, Precondition } from '../src/chat/command.ts';
import { isEmptyFilter } from '../src/fleet/filter.ts';
import { speedRefusal } from './probe-stages.ts';
import { gatewayOptionsOf, suggesterFor } from './suggestions.ts';

/**
 * The commands that only read: they alone run when DATA_DIR is read-only (Store.readOnly). Every other
 * command may change data that could never be saved, so it needs a writable data directory first.
 */
const READING = new Set(['help', 'stats', 'list', 'show', 'jobs', 'audit', 'schedules']);

/** defineCommand with the commands' services typed in; a command that writes needs `writableData` first. */
export function command<Opts extends z.ZodObject>(def: CommandDef<Opts, CommandServices>): CommandDef<Opts, CommandServices> {
  // What it takes (a filter, a node, a job, a gateway) says what to suggest while it is typed.
  const suggest = def.suggest ?? suggesterFor(def);
  const suggestOptions = def.suggestOptions ?? gatewayOptionsOf(def);
  const withSuggest = suggest ? { ...def, suggest, ...(suggestOptions.length ? { suggestOptions } : {}) } : def;
  if (READING.has(def.name)) return withSuggest;
  return { ...withSuggest, needs: [writableData, ...(def.needs ?? [])] };
}

type Need = Precondition<CommandServices>;

const writableData: Need = ({ store, config }, name) => {
  const why = store.readOnly;
  return why
    ? `\`${name}\` is refused: the data directory ${config.dataDir} is read-only (${why}) and this command changes data. Only stats, list, show, jobs, audit and help work until it is writable.`
    : null;
};

/**
 * Commands that change many nodes refuse an empty filter: `reset` or `delete` with nothing after it
 * is far more often a slip than a wish. `all` says it on purpose.
 */
export const needsFilter: Need = (_services, name, input) =>
  isEmptyFilter(input.filter) ? `${name} needs a filter (e.g. \`${name} status:ping_failed\`), or \`all\` to mean every node` : null;

/** Node services need a tunnel per node: a host that cannot open them refuses before any job. */
export const hostCanTunnel: Need = ({ gateways }) => gateways.tunnelRefusal('start');

/** Speed tests need tunnels, a driver and SPEED_URL: refused in one line before any job. */
export const speedCanRun: Need = (services) => speedRefusal(services);
