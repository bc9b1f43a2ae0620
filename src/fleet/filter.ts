import { isGeoMismatch } from '../geo/location.ts';
import { STATUSES, type FleetNode, type Status } from './node.ts';

/** A node selection: keys are ANDed, values within a key are ORed. */
export interface Filter {
  all?: boolean;
  ids?: string[];
  ips?: string[];
  ipPrefixes?: string[];
  cidrs?: Array<{ text: string; base: number; mask: number }>;
  statuses?: Status[];
  countries?: string[];
  states?: string[];
  cities?: string[];
  providers?: string[];
  zips?: string[];
  /** `geo:` located-country codes (upper case), `unknown` (looked up, no location), `mismatch`. */
  geo?: string[];
  /** `exit:` the speed test's exit address: country codes (upper case), IPv4 addresses, `unknown`. */
  exits?: string[];
  /** `gateway:` the gateway that runs the node's services (lower case). */
  gateways?: string[];
  /** `asn:` AS numbers of the located address (geo.asn). */
  asns?: number[];
  comparisons?: Array<{ field: 'speed' | 'up' | 'latency'; op: '<' | '<=' | '>' | '>=' | '='; value: number }>;
  limit?: number;
}

export const FILTER_KEYS = ['status', 'country', 'state', 'city', 'provider', 'zip', 'ip', 'id', 'geo', 'exit', 'asn', 'gateway', 'limit'] as const;
export const COMPARISON_FIELDS = ['speed', 'up', 'latency'] as const;

export function isEmptyFilter(f: Filter): boolean {
  return !f.all && Object.keys(f).every((k) => k === 'limit' || (f as Record<string, unknown>)[k] === undefined);
}

export function ipToInt(ip: string): number | null {
  // Character by character (no split, no regex): imports locate every address through this.
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return null;
      n = n * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + c - 48;
      digits++;
      if (part > 255) return null;
    } else return null;
  }
  if (dots !== 3 || digits === 0) return null;
  return (n * 256 + part) >>> 0;
}

/**
 * A partial address (`10.1` or `10.1.`) matches whole octets: 10.1.x.x, never 10.15.x.x or
 * 10.150.x.x as a text prefix would. Octets compare as numbers, so `010.1` is 10.1 too.
 */
export function ipHasPrefix(ip: string, prefix: string): boolean {
  const want = prefix.replace(/\.$/, '').split('.');
  const have = ip.split('.');
  if (!want.length || want.length > have.length) return false;
  return want.every((o, i) => o !== '' && /^\d+$/.test(o) && Number(o) === Number(have[i]));
}

const lower = (v: string | null) => (v ?? '').toLowerCase();

function compareValue(node: FleetNode, field: 'speed' | 'up' | 'latency'): number | null {
  if (field === 'speed') return node.speed?.downMbps ?? null;
  if (field === 'up') return node.speed?.upMbps ?? null;
  return node.pptp?.latencyMs ?? null;
}

/** One `geo:` value: a located country, `unknown` (the database has no place for the IP) or `mismatch`. */
function matchesGeo(node: FleetNode, value: string): boolean {
  if (value === 'mismatch') return isGeoMismatch(node);
  if (value === 'unknown') return node.geo !== null && node.geo.country === null;
  return node.geo?.country === value;
}

/** One `exit:` value: the exit address itself, its located country, or `unknown` (no location for it). */
function matchesExit(node: FleetNode, value: string): boolean {
  const exit = node.speed?.exitIp ?? null;
  if (exit === null) return false;
  if (value.includes('.') || value.includes(':')) return exit === value;
  if (value === 'unknown') return (node.speed?.exitGeo?.country ?? null) === null;
  return node.speed?.exitGeo?.country === value;
}

export function matchesFilter(node: FleetNode, f: Filter): boolean {
  if (f.ids && !f.ids.includes(node.id)) return false;
  if (f.statuses && !f.statuses.includes(node.status)) return false;
  if (f.ips || f.ipPrefixes || f.cidrs) {
    // The ip forms are alternatives of one key: any of them may match.
    const n = f.cidrs ? ipToInt(node.ip) : null;
    const ok =
      (f.ips?.includes(node.ip) ?? false) ||
      (f.ipPrefixes?.some((p) => ipHasPrefix(node.ip, p)) ?? false) ||
      (n !== null && (f.cidrs?.some((c) => ((n & c.mask) >>> 0) === c.base) ?? false));
    if (!ok) return false;
  }
  if (f.countries && !f.countries.includes(lower(node.country))) return false;
  if (f.states && !f.states.includes(lower(node.state))) return false;
  if (f.cities && !f.cities.includes(lower(node.city))) return false;
  if (f.providers && !f.providers.includes(lower(node.provider))) return false;
  if (f.zips && !f.zips.includes(lower(node.zip))) return false;
  if (f.geo && !f.geo.some((v) => matchesGeo(node, v))) return false;
  if (f.exits && !f.exits.some((v) => matchesExit(node, v))) return false;
  if (f.gateways && !f.gateways.includes(lower(node.gateway ?? null))) return false;
  if (f.asns && !f.asns.includes(node.geo?.asn ?? -1)) return false;
  if (f.comparisons) {
    for (const c of f.comparisons) {
      const v = compareValue(node, c.field);
      if (v === null) return false;
      const pass = c.op === '<' ? v < c.value : c.op === '<=' ? v <= c.value : c.op === '>' ? v > c.value : c.op === '>=' ? v >= c.value : v === c.value;
      if (!pass) return false;
    }
  }
  return true;
}

/** The nodes a filter selects, in store order, at most `limit`. */
export function selectNodes(nodes: readonly FleetNode[], f: Filter): FleetNode[] {
  const out: FleetNode[] = [];
  const limit = f.limit ?? Infinity;
  for (const node of nodes) {
    if (out.length >= limit) break;
    if (matchesFilter(node, f)) out.push(node);
  }
  return out;
}

/** Human words for a filter, e.g. in a job title. */
export function describeFilter(f: Filter): string {
  if (isEmptyFilter(f) && !f.limit) return 'all nodes';
  const parts: string[] = [];
  if (f.all) parts.push('all');
  if (f.ids) parts.push(`id:${f.ids.join(',')}`);
  const ipForms = [...(f.ips ?? []), ...(f.ipPrefixes ?? []), ...(f.cidrs?.map((c) => c.text) ?? [])];
  if (ipForms.length) parts.push(`ip:${ipForms.join(',')}`);
  if (f.statuses) parts.push(`status:${f.statuses.join(',')}`);
  if (f.countries) parts.push(`country:${f.countries.join(',')}`);
  if (f.states) parts.push(`state:${f.states.join(',')}`);
  if (f.cities) parts.push(`city:${f.cities.join(',')}`);
  if (f.providers) parts.push(`provider:${f.providers.join(',')}`);
  if (f.zips) parts.push(`zip:${f.zips.join(',')}`);
  if (f.geo) parts.push(`geo:${f.geo.join(',')}`);
  if (f.exits) parts.push(`exit:${f.exits.join(',')}`);
  if (f.gateways) parts.push(`gateway:${f.gateways.join(',')}`);
  if (f.asns) parts.push(`asn:${f.asns.join(',')}`);
  for (const c of f.comparisons ?? []) parts.push(`${c.field}${c.op}${c.value}`);
  if (f.limit) parts.push(`limit:${f.limit}`);
  return parts.join(' ');
}
