import { COMPARISON_FIELDS, FILTER_KEYS, ipToInt, type Filter } from '../fleet/filter.ts';
import { STATUSES, type Status } from '../fleet/node.ts';

/**
 * The one argument grammar every adapter uses: words separated by spaces, "double", 'single' or
 * “curly” quotes around values with spaces, `key=value` options, `key:value` filter terms,
 * comparisons such as `speed>5`, a bare IP or node id.
 */
export class ArgError extends Error {}

const QUOTES: Record<string, string> = { '"': '"', "'": "'", '“': '”', '‘': '’', '«': '»' };

export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let cur = '';
  let inToken = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    const close = QUOTES[ch];
    if (close) {
      const end = text.indexOf(close, i + 1);
      if (end < 0) throw new ArgError(`unterminated quote ${ch} in: ${text.slice(i, i + 40)}`);
      cur += text.slice(i + 1, end);
      inToken = true;
      i = end + 1;
    } else if (/\s/.test(ch)) {
      if (inToken) tokens.push(cur);
      cur = '';
      inToken = false;
      i++;
    } else {
      cur += ch;
      inToken = true;
      i++;
    }
  }
  if (inToken) tokens.push(cur);
  return tokens;
}

export interface SplitArgs {
  positionals: string[];
  options: Record<string, string>;
  filterTerms: string[];
}

const OPTION = /^([a-z][a-z_-]*)=(.*)$/i;
const FILTER_TERM = /^([a-z]+):(.*)$/i;
const COMPARISON = /^([a-z]+)(<=|>=|<|>|=)(-?\d+(?:\.\d+)?)$/i;
const NODE_ID = /^n\d+$/;
const FULL_IP = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Splits tokens into options (`key=value`), filter terms and positionals. `positionalCount` words
 * that are neither option nor filter-looking are positionals (e.g. `show <ip|id>` takes one).
 */
export function splitArgs(tokens: string[], positionalCount: number): SplitArgs {
  const out: SplitArgs = { positionals: [], options: {}, filterTerms: [] };
  for (const tok of tokens) {
    const opt = OPTION.exec(tok);
    // `speed=5` is a comparison; any other `key=value` is an option.
    if (opt && !(COMPARISON_FIELDS as readonly string[]).includes(opt[1]!.toLowerCase())) {
      const key = opt[1]!.toLowerCase();
      if (key in out.options) throw new ArgError(`option ${key}= is given twice`);
      out.options[key] = opt[2]!;
      continue;
    }
    if (out.positionals.length < positionalCount && !FILTER_TERM.test(tok) && !COMPARISON.test(tok)) {
      out.positionals.push(tok);
      continue;
    }
    out.filterTerms.push(tok);
  }
  return out;
}

/** A country code in upper case (as the database gives it); any other word in lower case. */
const geoWord = (s: string): string => (/^[a-z]{2}$/i.test(s) ? s.toUpperCase() : s.toLowerCase());

function list(value: string, key: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (!items.length) throw new ArgError(`${key}: needs a value, e.g. ${key}:${EXAMPLES[key] ?? 'x'}`);
  return items;
}

const EXAMPLES: Record<string, string> = { status: 'ping_ok', country: 'US', state: 'Ohio', city: 'Akron', provider: 'acme', zip: '44301', ip: '203.0.113.0/24', id: 'n12', geo: 'mismatch', exit: 'US', asn: '13335', limit: '100' };

function parseIpTerm(value: string, f: Filter): void {
  for (const item of list(value, 'ip')) {
    if (item.includes('/')) {
      const [addr, bitsText] = item.split('/');
      const base = ipToInt(addr ?? '');
      const bits = Number(bitsText);
      if (base === null || !/^\d{1,2}$/.test(bitsText ?? '') || bits > 32) throw new ArgError(`ip:${item} is not a CIDR block such as 203.0.113.0/24`);
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      (f.cidrs ??= []).push({ text: item, base: (base & mask) >>> 0, mask });
    } else if (FULL_IP.test(item)) {
      if (ipToInt(item) === null) throw new ArgError(`ip:${item} is not a valid IPv4 address`);
      (f.ips ??= []).push(item);
    } else if (/^\d{1,3}(\.\d{1,3}){0,3}\.?$/.test(item)) {
      // A partial address selects whole octets: `ip:10.1` and `ip:10.1.` both mean 10.1.x.x (never 10.15.x.x).
      const octets = item.replace(/\.$/, '').split('.');
      if (octets.some((o) => Number(o) > 255)) throw new ArgError(`ip:${item} is not a valid IPv4 prefix (an octet is over 255)`);
      (f.ipPrefixes ??= []).push(`${octets.map(Number).join('.')}.`);
    } else {
      throw new ArgError(`ip:${item} is not an address, a prefix such as 203.0.113. or a CIDR block such as 203.0.113.0/24`);
    }
  }
}

/** Parses filter terms into a Filter; throws ArgError with what was expected. */
export function parseFilter(terms: string[]): Filter {
  const f: Filter = {};
  for (const term of terms) {
    if (term.toLowerCase() === 'all') {
      f.all = true;
      continue;
    }
    if (FULL_IP.test(term)) {
      parseIpTerm(term, f);
      continue;
    }
    if (NODE_ID.test(term)) {
      (f.ids ??= []).push(term);
      continue;
    }
    const cmp = COMPARISON.exec(term);
    if (cmp) {
      const field = cmp[1]!.toLowerCase() as (typeof COMPARISON_FIELDS)[number];
      if (!COMPARISON_FIELDS.includes(field)) throw new ArgError(`cannot compare ${cmp[1]}: comparisons work on ${COMPARISON_FIELDS.join(', ')} (e.g. speed>5)`);
      (f.comparisons ??= []).push({ field, op: cmp[2] as '<', value: Number(cmp[3]) });
      continue;
    }
    const kv = FILTER_TERM.exec(term);
    if (!kv) throw new ArgError(`"${term}" is not a filter term; use key:value (${FILTER_KEYS.join(', ')}), speed>5, a bare IP or a node id`);
    const key = kv[1]!.toLowerCase();
    const value = kv[2]!;
    switch (key) {
      case 'status': {
        const items = list(value, key).map((s) => s.toLowerCase());
        const bad = items.find((s) => !(STATUSES as readonly string[]).includes(s));
        if (bad) throw new ArgError(`status:${bad} is not a status; statuses are ${STATUSES.join(', ')}`);
        (f.statuses ??= []).push(...(items as Status[]));
        break;
      }
      case 'country':
        (f.countries ??= []).push(...list(value, key).map((s) => s.toLowerCase()));
        break;
      case 'state':
        (f.states ??= []).push(...list(value, key).map((s) => s.toLowerCase()));
        break;
      case 'city':
        (f.cities ??= []).push(...list(value, key).map((s) => s.toLowerCase()));
        break;
      case 'provider':
        (f.providers ??= []).push(...list(value, key).map((s) => s.toLowerCase()));
        break;
      case 'zip':
        (f.zips ??= []).push(...list(value, key).map((s) => s.toLowerCase()));
        break;
      case 'gateway':
        // Where an online node's services run (node.gateway): gateway:local, gateway:gw2.
        (f.gateways ??= []).push(...list(value, key).map((s) => s.toLowerCase()));
        break;
      case 'geo': {
        // Located country (two letters), unknown, or mismatch (claimed country differs from the located one).
        const items = list(value, key).map(geoWord);
        const bad = items.find((s) => !/^[A-Z]{2}$/.test(s) && s !== 'unknown' && s !== 'mismatch');
        if (bad) throw new ArgError(`geo:${bad} is not a country code; use geo:US (located country), geo:mismatch or geo:unknown`);
        (f.geo ??= []).push(...items);
        break;
      }
      case 'exit': {
        // The speed test's exit address: its located country, the address itself, or unknown.
        const items = list(value, key).map((s) => (FULL_IP.test(s) ? s : geoWord(s)));
        const bad = items.find((s) => !FULL_IP.test(s) && !/^[A-Z]{2}$/.test(s) && s !== 'unknown');
        if (bad) throw new ArgError(`exit:${bad} is neither a country code nor an IPv4 address; use exit:US, exit:203.0.113.5 or exit:unknown`);
        (f.exits ??= []).push(...items);
        break;
      }
      case 'asn': {
        // The located address's autonomous system: asn:13335 or asn:AS13335.
        const items = list(value, key).map((s) => s.replace(/^as/i, ''));
        const bad = items.find((s) => !/^\d{1,10}$/.test(s));
        if (bad !== undefined) throw new ArgError(`asn:${bad} is not an AS number; use asn:13335`);
        (f.asns ??= []).push(...items.map(Number));
        break;
      }
      case 'ip':
        parseIpTerm(value, f);
        break;
      case 'id': {
        const ids = list(value, key);
        const bad = ids.find((s) => !NODE_ID.test(s));
        if (bad) throw new ArgError(`id:${bad} is not a node id (node ids look like n12)`);
        (f.ids ??= []).push(...ids);
        break;
      }
      case 'limit': {
        if (!/^\d{1,7}$/.test(value) || Number(value) < 1) throw new ArgError(`limit:${value} must be a whole number of at least 1`);
        f.limit = Number(value);
        break;
      }
      default:
        throw new ArgError(`unknown filter key "${key}"; keys are ${FILTER_KEYS.join(', ')}, and comparisons ${COMPARISON_FIELDS.map((c) => `${c}>N`).join(', ')}`);
    }
  }
  return f;
}
