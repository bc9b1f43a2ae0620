import type { CommandServices } from '../src/app.ts';
import type { SuggestField } from '../src/chat/command.ts';
import type { AnyCommand } from '../src/chat/registry.ts';
import { COMPARISON_FIELDS, FILTER_KEYS } from '../src/fleet/filter.ts';
import { STATUSES, type FleetNode } from '../src/fleet/node.ts';

/**
 * What to offer while a filter, a node or a job is typed (Discord autocomplete), and the values seen
 * in the store that `help <command>` lists (Slack has no autocomplete for slash command text).
 * Everything is read from memory: Discord wants the answer within 3 s.
 */

/** Filter keys whose values are offered from the store, most common first. */
const SEEN_KEYS = ['country', 'provider', 'state', 'city'] as const;
type SeenKey = (typeof SEEN_KEYS)[number];

const MAX = 25;

/** How many nodes have each value of `key`, most common first (case as first seen). */
export function seenValues(nodes: readonly FleetNode[], key: SeenKey | 'status'): Array<[string, number]> {
  const counts = new Map<string, { value: string; n: number }>();
  for (const node of nodes) {
    const v = node[key];
    if (!v) continue;
    const k = v.toLowerCase();
    const e = counts.get(k);
    if (e) e.n++;
    else counts.set(k, { value: v, n: 1 });
  }
  return [...counts.values()].sort((a, b) => b.n - a.n || a.value.localeCompare(b.value)).map((e) => [e.value, e.n]);
}

/** Lines for `help <command>` of a command that takes a filter: the values seen, with counts. */
export function seenLines(nodes: readonly FleetNode[], perKey = 12): string[] {
  const line = (key: SeenKey | 'status') => {
    const values = seenValues(nodes, key);
    if (!values.length) return null;
    const shown = values.slice(0, perKey).map(([v, n]) => `\`${key}:${v.replace(/[\s`]/g, '_')}\` ${n.toLocaleString('en-US')}`);
    return `• ${shown.join(', ')}${values.length > perKey ? ` … and ${values.length - perKey} more` : ''}`;
  };
  const lines = (['status', ...SEEN_KEYS] as const).map(line).filter((l): l is string => l !== null);
  return lines.length ? ['Values in the store now:', ...lines] : ['The store has no nodes yet.'];
}

const starts = (value: string, typed: string) => value.toLowerCase().startsWith(typed.toLowerCase());

/** Options whose value is a gateway name (`start gateway=`, `move gateway=`, `ping from=`). */
export const GATEWAY_OPTIONS: readonly string[] = ['gateway', 'from'];

/** The gateways the bot knows now (its directory, in memory), the local one first. */
export function gatewayNames({ gateways }: Pick<CommandServices, 'gateways'>): string[] {
  return gateways.directory?.list().map((g) => g.name) ?? [gateways.defaultGateway];
}

/**
 * The line `help <command>` adds (Slack has no autocomplete) for a command that takes a gateway name:
 * in its filter (`gateway:`), an option (`gateway=`, `from=`) or its positional (`gateway drain <name>`).
 */
export function gatewaysLine(def: AnyCommand, services: Pick<CommandServices, 'gateways'>): string | null {
  const uses = [...(def.filter === 'optional' ? ['`gateway:`'] : []), ...gatewayOptionsOf(def).map((k) => `\`${k}=\``), ...(def.name === 'gateway' ? ['`<name>`'] : [])];
  if (!uses.length) return null;
  return `Gateways now (for ${uses.join(', ')}): ${gatewayNames(services).map((n) => `\`${n}\``).join(', ')}`;
}

/** `gateway drain|undrain <name>` as it is typed: the action, then the gateway's name. */
export function gatewayActionSuggestions(names: readonly string[], partial: string): string[] {
  const [action = '', name, ...rest] = partial.trimStart().split(/\s+/);
  if (rest.length) return [];
  const actions = ['drain', 'undrain'].filter((a) => (name === undefined ? starts(a, action) : a === action.toLowerCase()));
  return actions.flatMap((a) => names.filter((n) => starts(n, name ?? '')).map((n) => `${a} ${n}`)).slice(0, MAX);
}

/** Node ids and IPs that begin with what was typed. */
export function nodeSuggestions(nodes: readonly FleetNode[], typed: string): string[] {
  const out = new Set<string>();
  for (const n of nodes) {
    if (starts(n.id, typed)) out.add(n.id);
    if (starts(n.ip, typed)) out.add(n.ip);
    if (out.size >= MAX) break;
  }
  return [...out];
}

/** Running jobs first, then the latest finished ones. */
export function jobSuggestions({ jobs, store }: Pick<CommandServices, 'jobs' | 'store'>, typed: string): string[] {
  const running = jobs.list().map((j) => j.id);
  const past = store.jobs().map((j) => j.id).reverse();
  return [...new Set([...running, ...past])].filter((id) => starts(id, typed)).slice(0, MAX);
}

/**
 * Whole filters that continue what was typed: the last word is completed (a key, or a value of its
 * key from the store: `country:U` -> `country:US`), the words before it stay as they are.
 */
export function filterSuggestions(nodes: readonly FleetNode[], partial: string, gateways: readonly string[] = []): string[] {
  const words = partial.trimStart().split(/\s+/);
  const last = words.pop() ?? '';
  const head = words.join(' ');
  const whole = (w: string) => (head ? `${head} ${w}` : w);
  const colon = last.indexOf(':');
  if (colon < 0) {
    const keys = FILTER_KEYS.filter((k) => starts(k, last)).map((k) => whole(`${k}:`));
    const comparisons = COMPARISON_FIELDS.filter((k) => last && starts(k, last)).map((k) => whole(`${k}>`));
    const nodesTyped = last ? nodeSuggestions(nodes, last).map(whole) : [];
    const all = starts('all', last) && !head ? ['all'] : [];
    return [...(last ? [whole(last)] : []), ...keys, ...comparisons, ...all, ...nodesTyped].slice(0, MAX);
  }
  const key = last.slice(0, colon).toLowerCase();
  const valuePart = last.slice(colon + 1);
  const comma = valuePart.lastIndexOf(',');
  const before = valuePart.slice(0, comma + 1);
  const typed = valuePart.slice(comma + 1);
  let values: string[];
  if (key === 'status') values = [...STATUSES];
  else if ((SEEN_KEYS as readonly string[]).includes(key)) values = seenValues(nodes, key as SeenKey).map(([v]) => v).filter((v) => !/[\s,"']/.test(v));
  else if (key === 'gateway') values = [...gateways];
  else if (key === 'id' || key === 'ip') values = nodeSuggestions(nodes, typed).filter((v) => (key === 'id' ? !/^\d/.test(v) : /^\d/.test(v)));
  else values = [];
  return values.filter((v) => starts(v, typed)).slice(0, MAX).map((v) => whole(`${key}:${before}${v}`));
}

/** The keys of a command's options that take a gateway name (what Discord autocompletes). */
export function gatewayOptionsOf(def: AnyCommand): string[] {
  const shape = (def.options as { shape?: Record<string, unknown> } | undefined)?.shape ?? {};
  return GATEWAY_OPTIONS.filter((k) => k in shape);
}

/**
 * The suggester a command gets from what it declares: its filter, positionals that name a node
 * (`ip|id`), a job or a command, and options that name a gateway.
 */
export function suggesterFor(def: AnyCommand): AnyCommand['suggest'] {
  const positional = def.positional?.name;
  const gatewayOptions = gatewayOptionsOf(def);
  if (def.filter !== 'optional' && positional !== 'ip|id' && positional !== 'job' && positional !== 'command' && !gatewayOptions.length) return undefined;
  return (field: SuggestField, partial: string, services: CommandServices): string[] => {
    if (field === 'filter') return def.filter === 'optional' ? filterSuggestions(services.store.nodes(), partial, gatewayNames(services)) : [];
    if (field !== 'positional') return gatewayOptions.includes(field.slice('option:'.length)) ? gatewayNames(services).filter((n) => starts(n, partial.trim())) : [];
    if (positional === 'ip|id') return nodeSuggestions(services.store.nodes(), partial.trim());
    if (positional === 'job') return jobSuggestions(services, partial.trim());
    if (positional === 'command') return services.registry.list.map((c) => c.name).filter((n) => starts(n, partial.trim()));
    return [];
  };
}
