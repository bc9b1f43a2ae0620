// CSV blocks: a header row names the columns (any order, aliases allowed, unknown columns such as
// `id` or `status` from the app's own export are ignored), then RFC 4180 rows: quoted fields may
// hold the delimiter, doubled quotes and line breaks.
import { isDataLine } from './ip.ts';
import { FIELD_ALIASES, normalizeKey } from './keyvalue.ts';
import { FIELD_NAMES, type FieldName, type RawFields } from './record.ts';
import { MAX_FIELD_CHARS } from './text.ts';

/**
 * A quoted field may span at most this many physical lines; beyond it the quote is taken as unclosed.
 * A comment of MAX_FIELD_CHARS characters may hold that many line breaks, and an export must import back.
 */
export const MAX_CSV_RECORD_LINES = MAX_FIELD_CHARS + 1;
/**
 * Longest physical line inside a CSV block. A row carries many fields (an export row has 27 columns,
 * each up to MAX_FIELD_CHARS, quotes doubled), so the one-line limit would refuse our own export.
 */
export const MAX_CSV_LINE_CHARS = 32 * 1024;

/**
 * Spreadsheet formula guard. A cell that starts with one of these would run as a formula, so the
 * exporter writes a `'` in front (a spreadsheet shows it as a text marker). A value that itself
 * starts with `'` gets the guard too, so the importer can take exactly one guard off and every
 * value comes back as it was: unguard(guard(v)) === v for every string.
 */
const GUARDED_START_RE = /^[=+\-@\t\r']/;
export function guardCell(value: string): string {
  return GUARDED_START_RE.test(value) ? `'${value}` : value;
}
/** Removes the one `'` guardCell added. A lone leading `'` before anything else is kept. */
export function unguardCell(cell: string): string {
  return cell.charCodeAt(0) === 39 && GUARDED_START_RE.test(cell.slice(1, 2)) ? cell.slice(1) : cell;
}

export interface CsvHeader {
  line: number;
  delimiter: string;
  /** The field each column feeds, null for ignored columns. */
  columns: (FieldName | null)[];
  /** Required fields with no column: every row is rejected with this in the reason. */
  missing: FieldName[];
}

const DELIMITERS = [',', ';', '\t'] as const;

function pickDelimiter(t: string): string | null {
  let best: string | null = null;
  let bestCount = 0;
  for (const d of DELIMITERS) {
    let n = 0;
    for (let i = t.indexOf(d); i !== -1; i = t.indexOf(d, i + 1)) n++;
    if (n > bestCount) {
      best = d;
      bestCount = n;
    }
  }
  return best;
}

/**
 * A header row: delimited cells, one of them an address column (ip, host, ...), at least two known
 * columns, and no cell that looks like an address (that would be a data row).
 */
export function detectCsvHeader(t: string, line: number): CsvHeader | null {
  const delimiter = pickDelimiter(t);
  if (!delimiter) return null;
  const parsed = readCsvRecord([t], 0, delimiter);
  if (!parsed.cells) return null;
  const names = parsed.cells.map((c) => c.trim());
  if (names.some(isDataLine)) return null;
  const keys = names.map(normalizeKey);
  const columns: (FieldName | null)[] = keys.map(() => null);
  const taken = new Set<FieldName>();
  // Exact field names first (an export's `ip` wins over an aliased `host`), then aliases.
  for (const exact of [true, false]) {
    keys.forEach((k, i) => {
      const f = FIELD_ALIASES[k];
      if (!f || taken.has(f) || columns[i] !== null || (exact && k !== f)) return;
      columns[i] = f;
      taken.add(f);
    });
  }
  if (!taken.has('ip') || taken.size < 2) return null;
  const missing = FIELD_NAMES.filter((f) => (f === 'login' || f === 'password') && !taken.has(f));
  return { line, delimiter, columns, missing };
}

export type CsvRead =
  | { cells: string[]; next: number; error?: undefined }
  | { cells: null; next: number; error: string; errorLine: number };

/**
 * Reads one record starting at lines[index]. Returns the cells and the index of the line after the
 * record. An unclosed quote does not swallow the rest of the file: after MAX_CSV_RECORD_LINES (or at
 * the end of the file) the record is refused and reading resumes on the next line.
 */
export function readCsvRecord(lines: readonly string[], index: number, delimiter: string): CsvRead {
  let line = lines[index]!;
  if (!line.includes('"')) return { cells: line.split(delimiter), next: index + 1 };
  const cells: string[] = [];
  let field = '';
  let inQuotes = false;
  let closed = false; // just after a closing quote: only whitespace or a delimiter may follow
  let j = index;
  let pos = 0;
  for (;;) {
    while (pos < line.length) {
      if (inQuotes) {
        const q = line.indexOf('"', pos);
        if (q === -1) {
          field += line.slice(pos);
          pos = line.length;
        } else if (line[q + 1] === '"') {
          field += line.slice(pos, q + 1);
          pos = q + 2;
        } else {
          field += line.slice(pos, q);
          pos = q + 1;
          inQuotes = false;
          closed = true;
        }
        continue;
      }
      const c = line[pos]!;
      if (c === delimiter) {
        cells.push(field);
        field = '';
        closed = false;
      } else if (closed) {
        if (c !== ' ' && c !== '\t') {
          return { cells: null, next: j + 1, error: `malformed CSV: unexpected ${JSON.stringify(c)} after a closing quote`, errorLine: j };
        }
      } else if (c === '"' && field.trim() === '') {
        inQuotes = true;
        field = '';
      } else field += c;
      pos++;
    }
    if (!inQuotes) break;
    // The quoted field continues on the next physical line.
    j++;
    if (j >= lines.length) {
      return { cells: null, next: index + 1, error: 'malformed CSV: a quoted field is not closed before the end of the file', errorLine: index };
    }
    if (j - index >= MAX_CSV_RECORD_LINES) {
      return { cells: null, next: index + 1, error: `malformed CSV: a quoted field is not closed within ${MAX_CSV_RECORD_LINES} lines`, errorLine: index };
    }
    line = lines[j]!;
    if (line.length > MAX_CSV_LINE_CHARS) {
      return { cells: null, next: j + 1, error: `line too long (${line.length} characters)`, errorLine: j };
    }
    field += '\n';
    pos = 0;
  }
  cells.push(field);
  return { cells, next: j + 1 };
}

/** Maps a row's cells onto fields via the header, taking off the exporter's formula guard. */
export function rowFields(header: CsvHeader, cells: readonly string[]): RawFields {
  const raw: RawFields = {};
  header.columns.forEach((f, i) => {
    if (f) raw[f] = unguardCell(cells[i]!);
  });
  return raw;
}
