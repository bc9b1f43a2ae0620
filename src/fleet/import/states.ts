// US state and Canadian province codes, so `OH` and `Ohio` land in the same filter (state:Ohio).

const US: Record<string, string> = {
  AL: 'Alabama', AK: 'Alaska', AZ: 'Arizona', AR: 'Arkansas', CA: 'California', CO: 'Colorado',
  CT: 'Connecticut', DE: 'Delaware', DC: 'District of Columbia', FL: 'Florida', GA: 'Georgia',
  HI: 'Hawaii', ID: 'Idaho', IL: 'Illinois', IN: 'Indiana', IA: 'Iowa', KS: 'Kansas', KY: 'Kentucky',
  LA: 'Louisiana', ME: 'Maine', MD: 'Maryland', MA: 'Massachusetts', MI: 'Michigan', MN: 'Minnesota',
  MS: 'Mississippi', MO: 'Missouri', MT: 'Montana', NE: 'Nebraska', NV: 'Nevada', NH: 'New Hampshire',
  NJ: 'New Jersey', NM: 'New Mexico', NY: 'New York', NC: 'North Carolina', ND: 'North Dakota',
  OH: 'Ohio', OK: 'Oklahoma', OR: 'Oregon', PA: 'Pennsylvania', RI: 'Rhode Island',
  SC: 'South Carolina', SD: 'South Dakota', TN: 'Tennessee', TX: 'Texas', UT: 'Utah', VT: 'Vermont',
  VA: 'Virginia', WA: 'Washington', WV: 'West Virginia', WI: 'Wisconsin', WY: 'Wyoming',
  PR: 'Puerto Rico', GU: 'Guam', VI: 'U.S. Virgin Islands', AS: 'American Samoa',
  MP: 'Northern Mariana Islands',
};

const CA: Record<string, string> = {
  AB: 'Alberta', BC: 'British Columbia', MB: 'Manitoba', NB: 'New Brunswick',
  NL: 'Newfoundland and Labrador', NS: 'Nova Scotia', NT: 'Northwest Territories', NU: 'Nunavut',
  ON: 'Ontario', PE: 'Prince Edward Island', QC: 'Quebec', SK: 'Saskatchewan', YT: 'Yukon',
};

type Region = 'US' | 'CA' | 'both' | 'none';

function byLowerName(codes: Record<string, string>): Map<string, string> {
  return new Map(Object.values(codes).map((name) => [name.toLowerCase(), name]));
}
const US_NAMES = byLowerName(US);
const CA_NAMES = byLowerName(CA);

const US_COUNTRY = new Set(['US', 'USA', 'UNITED STATES', 'UNITED STATES OF AMERICA']);
const CA_COUNTRY = new Set(['CA', 'CAN', 'CANADA']);

/**
 * Which code table applies. Other countries reuse the same two letters for their own regions
 * (WA is Western Australia too), so a code is expanded only when the country is unknown, US or CA.
 */
function regionOf(country: string | null): Region {
  if (country === null) return 'both';
  const c = country.toUpperCase();
  if (US_COUNTRY.has(c)) return 'US';
  if (CA_COUNTRY.has(c)) return 'CA';
  return 'none';
}

/** `OH` -> `Ohio`, `on` -> `Ontario`, `ohio` -> `Ohio`; anything else is returned unchanged. */
export function normalizeState(value: string, country: string | null): string {
  const region = regionOf(country);
  if (region === 'none') return value;
  const useUS = region !== 'CA';
  const useCA = region !== 'US';
  if (value.length === 2) {
    const code = value.toUpperCase();
    const name = (useUS ? US[code] : undefined) ?? (useCA ? CA[code] : undefined);
    return name ?? value;
  }
  const lower = value.toLowerCase();
  return (useUS ? US_NAMES.get(lower) : undefined) ?? (useCA ? CA_NAMES.get(lower) : undefined) ?? value;
}

/** A full US state or Canadian province name (any case), e.g. "New York". Codes do not count. */
export function isStateName(value: string): boolean {
  const lower = value.toLowerCase();
  return US_NAMES.has(lower) || CA_NAMES.has(lower);
}

const COUNTRY_CODE_RE = /^[A-Za-z]{2,3}$/;

/** Country codes are stored uppercase (us -> US); a country written out in full stays as given. */
export function normalizeCountry(value: string): string {
  return COUNTRY_CODE_RE.test(value) ? value.toUpperCase() : value;
}

// ---- recognising a location field ----
// A one-line format has no keys, so a field in a location position is only taken as a location
// when it is recognisably one; otherwise the line may be a password with a space or ':' split in
// the wrong place, and it is refused rather than guessed.

/** Region codes Intl knows that are not countries. */
const NOT_COUNTRIES = new Set(['EU', 'EZ', 'UN', 'QO', 'ZZ']);
let countryNames: Set<string> | null = null;
let countryCodes: Set<string> | null = null;

function loadCountries(): void {
  const names = new Set<string>([...US_COUNTRY, ...CA_COUNTRY].map((c) => c.toLowerCase()));
  const codes = new Set<string>();
  const display = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
  for (let a = 65; a <= 90; a++) {
    for (let b = 65; b <= 90; b++) {
      const code = String.fromCharCode(a, b);
      const name = NOT_COUNTRIES.has(code) ? undefined : display.of(code);
      if (!name) continue;
      codes.add(code);
      names.add(name.toLowerCase());
    }
  }
  countryNames = names;
  countryCodes = codes;
}

/** An ISO 3166 two-letter code (any case), US/USA/CAN and the like, or an English country name. */
export function isCountry(value: string): boolean {
  if (!countryNames) loadCountries();
  const v = value.trim();
  if (v.length === 2) return countryCodes!.has(v.toUpperCase());
  return countryNames!.has(v.toLowerCase());
}

/**
 * A state for the given country: a US state or Canadian province code or name when the country is
 * unknown, US or CA; for another country any name without digits (there is no table to check).
 */
export function isState(value: string, country: string | null): boolean {
  const v = value.trim();
  const region = regionOf(country);
  if (region === 'none') return v !== '' && !/\d/.test(v);
  const useUS = region !== 'CA';
  const useCA = region !== 'US';
  if (v.length === 2) {
    const code = v.toUpperCase();
    return (useUS && US[code] !== undefined) || (useCA && CA[code] !== undefined);
  }
  const lower = v.toLowerCase();
  return (useUS && US_NAMES.has(lower)) || (useCA && CA_NAMES.has(lower));
}

/** US 12345 / 12345-6789, Canadian A1A 1A1, UK SW1A 1AA, or 3-10 digits (most other countries). */
const ZIP_RE = /^(?:\d{5}-\d{4}|[A-Za-z]\d[A-Za-z][ -]?\d[A-Za-z]\d|[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}|\d{3,10})$/;
export function isZip(value: string): boolean {
  return ZIP_RE.test(value.trim());
}
