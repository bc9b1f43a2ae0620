import { z } from 'zod';

/**
 * Where an address really is, from the local IP database: kept apart from what an imported file
 * claimed (node.country/state/city). All-null fields with a source mean "looked up, the database has
 * no location" (private, loopback and unrouted addresses); a null `geo` means "never looked up".
 */
export const geoSchema = z.object({
  /** ISO 3166-1 alpha-2, upper case. */
  country: z.string().nullable(),
  region: z.string().nullable(),
  city: z.string().nullable(),
  /** The autonomous system announcing the address (@ip-location-db/asn); absent on nodes located before it was added. */
  asn: z.number().int().nullable().optional(),
  /** Its organisation, e.g. `Cloudflare, Inc.`. */
  asOrg: z.string().nullable().optional(),
  /** The city database and its version, e.g. `DB-IP Lite city 2.3.2026060513`. */
  source: z.string(),
});
export type GeoLocation = z.infer<typeof geoSchema>;

/** A lookup: never leaves the host. */
export type Locate = ((ip: string) => GeoLocation) & {
  /** The same for an IPv4 address given as its 32-bit number, when the locator has a faster way. */
  v4?: (ip: number) => GeoLocation;
  /**
   * Many IPv4 addresses (32-bit numbers) at once, off the main thread: the location of each, in
   * order. Rejects when that thread is unavailable (the caller then looks them up itself).
   */
  many?: (ips: Uint32Array) => Promise<readonly GeoLocation[]>;
};

/*
 * A place located off the main thread arrives with its store-file text already made there (the
 * places table writes it as it is) and a serial number unique in this process (the table finds its
 * index by it, without hashing the object). Both are non-enumerable symbol properties: JSON, spreads,
 * schema parsing and equality in tests see an ordinary GeoLocation.
 */
const PLACE_JSON = Symbol('place JSON');
const PLACE_SERIAL = Symbol('place serial');
let nextPlaceSerial = 0;

type Described = GeoLocation & { [PLACE_JSON]?: string; [PLACE_SERIAL]?: number };

/**
 * A frozen place carrying its JSON text (what JSON.stringify gives for it, with every character
 * beyond Latin-1 escaped: the store file's form) and a fresh serial number.
 */
export function describedPlace(g: GeoLocation, json: string): GeoLocation {
  Object.defineProperty(g, PLACE_JSON, { value: json });
  Object.defineProperty(g, PLACE_SERIAL, { value: nextPlaceSerial++ });
  return Object.freeze(g);
}

/** The JSON text a place was made with (describedPlace), if any. */
export const placeJsonOf = (g: GeoLocation): string | undefined => (g as Described)[PLACE_JSON];
/** The serial number of a place made by describedPlace, if it was. */
export const placeSerialOf = (g: GeoLocation): number | undefined => (g as Described)[PLACE_SERIAL];

let nameToCode: Map<string, string> | null = null;

function countryNames(): Map<string, string> {
  if (nameToCode) return nameToCode;
  const map = new Map<string, string>([['usa', 'US'], ['united states of america', 'US'], ['uk', 'GB'], ['great britain', 'GB'], ['england', 'GB'], ['russia', 'RU']]);
  const names = new Intl.DisplayNames(['en'], { type: 'region' });
  for (let a = 65; a <= 90; a++) {
    for (let b = 65; b <= 90; b++) {
      const code = String.fromCharCode(a, b);
      const name = names.of(code);
      if (name && name !== code) map.set(name.toLowerCase(), code);
    }
  }
  nameToCode = map;
  return map;
}

/** A claimed country (`US`, `us`, `United States`) as its two-letter code; null when not recognised. */
export function countryCode(claimed: string | null): string | null {
  if (!claimed) return null;
  const v = claimed.trim();
  if (/^[a-z]{2}$/i.test(v)) return v.toUpperCase();
  return countryNames().get(v.toLowerCase()) ?? null;
}

/**
 * True when the file claimed a country the database disagrees with. A claim that names no
 * recognisable country, or an address the database cannot place, is not a mismatch: nothing to compare.
 */
export function isGeoMismatch(node: { country: string | null; geo: GeoLocation | null }): boolean {
  const located = node.geo?.country;
  if (!located) return false;
  const claimed = countryCode(node.country);
  return claimed !== null && claimed !== located;
}

/** `US / California / Mountain View, AS15169 Google LLC (DB-IP Lite city 2.3…)`, or why there is none. */
export function describeGeo(g: GeoLocation | null): string {
  if (!g) return 'not looked up';
  const place = [g.country, g.region, g.city].filter(Boolean).join(' / ');
  // asn is undefined on nodes located before the AS table was added: then nothing is said of it.
  const as = g.asn ? `, AS${g.asn}${g.asOrg ? ` ${g.asOrg}` : ''}` : g.asn === null && place ? ', no AS' : '';
  return place ? `${place}${as} (${g.source})` : `no location in ${g.source} (private, loopback or unlisted address)`;
}
