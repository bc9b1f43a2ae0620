import { countryCode, type GeoLocation } from './location.ts';

/**
 * Nodes by country, for `stats` and its picture. A node counts where the IP database places it;
 * only when the database has no country for it (never looked up, private or unlisted address) does
 * the file's claim count, as its two-letter code when it names a known country. Formats 2 and 7
 * claim nothing, so counting claims alone left "by country" mostly empty.
 */
export interface CountryCounts {
  /** [country, nodes], most nodes first (ties by name); null: neither located nor claimed. */
  rows: Array<[string | null, number]>;
  /** Nodes counted where the database places them. */
  located: number;
  /** Nodes counted by the file's claim (the database had no country for them). */
  claimed: number;
}

export function countByCountry(nodes: Iterable<{ country: string | null; geo: GeoLocation | null }>): CountryCounts {
  const counts = new Map<string | null, number>();
  let located = 0;
  let claimed = 0;
  for (const n of nodes) {
    let c = n.geo?.country ?? null;
    if (c) located++;
    else if (n.country) {
      c = countryCode(n.country) ?? n.country;
      claimed++;
    }
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const rows = [...counts].sort((a, b) => b[1] - a[1] || (a[0] ?? '\uffff').localeCompare(b[0] ?? '\uffff'));
  return { rows, located, claimed };
}

/** What the counts are: `located`, `claimed`, or `located; 12 as claimed (no location)`. */
export function countrySource(c: CountryCounts): string {
  if (!c.claimed) return 'located';
  if (!c.located) return 'claimed';
  return `located; ${c.claimed.toLocaleString('en-US')} as claimed (no location)`;
}
