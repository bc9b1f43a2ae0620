// The import parser: bytes in, records and per-line rejections out. Pure: no store, no I/O.
// Formats are detected per line or block, so one file may mix them (DESIGN.md, "Import formats"):
//   key/value blocks (`Ip:` / `Login:` / `Pass:` ..., `Credentials:` / `Location:`), optionally
//   under a `> NAME:` / `🚨 PPTP Connection` header; one-line formats (ip login password [state],
//   ip - login:password - State/City ZIP | time, ip:login:password[:country:state:zip]); CSV
//   blocks that start with a header row.
// Deduplication is not done here: the store-side merge decides added / updated / duplicate.
import { detectCsvHeader, readCsvRecord, rowFields, type CsvHeader } from './csv.ts';
import { IP_ANYWHERE_RE, isDataLine } from './ip.ts';
import { KvBlock, matchKeyValue, type KvMatch, type LineRef } from './keyvalue.ts';
import { parseDataLine } from './lines.ts';
import { buildRecord, type FieldName, type ImportRecord, type RawFields } from './record.ts';
import { decodeInput, MAX_LINE_CHARS, reportText, splitLines } from './text.ts';

export { MAX_FIELD_CHARS, MAX_LINE_CHARS } from './text.ts';

export type { ImportRecord } from './record.ts';
export interface RejectedLine {
  line: number;
  reason: string;
  /** The offending line, control characters stripped, at most 120 characters. May hold a password. */
  text: string;
}
export type ParseOutcome =
  | { ok: true; records: ImportRecord[]; rejected: RejectedLine[]; skipped: number; lines: number }
  | { ok: false; reason: string };

/** Default size cap: a bigger upload is refused as a whole before any parsing. */
export const MAX_IMPORT_BYTES = 20 * 1024 * 1024;

export function parseImport(input: Buffer | string, opts: { maxBytes?: number } = {}): ParseOutcome {
  const decoded = decodeInput(input, opts.maxBytes ?? MAX_IMPORT_BYTES);
  if (!decoded.ok) return decoded;
  return new Parser(splitLines(decoded.text)).run();
}

/** `---`, `=====`, `***`: ends the current block. */
const SEPARATOR_RE = /^(?:[-=_~*—–]\s*){3,}$/;
/** `> PPTP_SVOIM_VPN:`: a section header naming where the following records came from. */
const SECTION_RE = /^>\s*([\p{L}\p{N}_.-][\p{L}\p{N}_. -]{0,63}?)\s*:\s*$/u;
const QUOTE_PREFIX_RE = /^(?:>\s*)+/;
/** `vpn.example.com:u1:p1` or `vpn.example.com u1 p1`: a server given by name, which we do not resolve. */
const HOSTNAME_LINE_RE = /^(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*(?=[:\s])/i;

const isComment = (t: string) => t[0] === '#' || (t[0] === '/' && t[1] === '/');

class Parser {
  private readonly records: ImportRecord[] = [];
  private readonly rejected: RejectedLine[] = [];
  private skipped = 0;
  private kv: KvBlock | null = null;
  private csv: CsvHeader | null = null;
  /**
   * Provider named by a `> NAME:` header. It applies to records without their own provider until a
   * separator, the next such header, or the first blank line after a record: a later, unrelated
   * part of a mixed file does not inherit it.
   */
  private section: { provider: string; used: boolean } | null = null;

  private readonly lines: string[];
  constructor(lines: string[]) {
    this.lines = lines;
  }

  run(): ParseOutcome {
    const { lines } = this;
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!;
      const at: LineRef = { line: i + 1, text: raw };
      let t = raw.trim();
      if (t === '') {
        this.endBlocks();
        if (this.section?.used) this.section = null;
        this.skipped++;
        continue;
      }
      if (isComment(t)) {
        this.skipped++;
        continue;
      }
      if (raw.length > MAX_LINE_CHARS) {
        this.tooLong(t, at);
        continue;
      }
      if (SEPARATOR_RE.test(t)) {
        this.endBlocks();
        this.section = null;
        this.skipped++;
        continue;
      }
      if (this.csv) {
        const next = this.csvRow(i, t, at);
        if (next !== null) {
          i = next - 1;
          continue;
        }
      }
      if (t[0] === '>') {
        const section = SECTION_RE.exec(t);
        if (section) {
          this.flushKv();
          this.section = { provider: section[1]!, used: false };
          this.skipped++;
          continue;
        }
        // A line quoted in chat (`> 203.0.113.5:u1:p1`) is read without its quote marker.
        t = t.replace(QUOTE_PREFIX_RE, '');
        if (t === '') {
          this.skipped++;
          continue;
        }
      }
      this.line(t, at);
    }
    this.endBlocks();
    return { ok: true, records: this.records, rejected: this.rejected, skipped: this.skipped, lines: lines.length };
  }

  /** Everything that is not blank, comment, separator, CSV row or section header. */
  private line(t: string, at: LineRef): void {
    // A line starting with digits and dots is data; it can never be `Key: value` (keys start with a letter).
    if (isDataLine(t)) {
      this.flushKv();
      return this.dataLine(t, at);
    }
    const kv = matchKeyValue(t);
    if (kv?.key) return this.kvLine(kv, at);
    const header = detectCsvHeader(t, at.line);
    if (header) {
      this.flushKv();
      this.csv = header;
      this.skipped++;
      return;
    }
    if (IP_ANYWHERE_RE.test(t)) {
      this.flushKv();
      return this.reject(at, 'unrecognized line: it contains an IP address but matches no known format');
    }
    const host = HOSTNAME_LINE_RE.exec(t);
    if (host) {
      this.flushKv();
      return this.reject(at, `"${host[0]}" is a hostname; only IPv4 addresses are accepted`);
    }
    // A header (`🚨 PPTP Connection`, `PPTP servers list`) or an unknown `Key: value` such as
    // `Speed: 10 Mbps`. Inside a key/value block it is passed over and the block goes on.
    this.skipped++;
  }

  private kvLine(kv: KvMatch, at: LineRef): void {
    // A second `Ip:` starts the next record; other keys before the `Ip:` line belong to its block.
    if (kv.key === 'ip' && this.kv?.raw.ip !== undefined) this.flushKv();
    this.kv ??= new KvBlock(at);
    this.kv.add(kv.key!, kv.value, at);
  }

  private dataLine(t: string, at: LineRef): void {
    const parsed = parseDataLine(t);
    if (!parsed.ok) return this.reject(at, parsed.reason);
    this.emit(parsed.raw, true, at);
  }

  /**
   * Returns the index of the next line to read, or null when the line is not part of the CSV block
   * (a line without any delimiter, e.g. `Ip: ...` right after the rows): the block ends there and
   * the line is read normally.
   */
  private csvRow(i: number, t: string, at: LineRef): number | null {
    const csv = this.csv!;
    // A new header row restarts the block (a header never contains an address: cheap pre-check).
    const header = IP_ANYWHERE_RE.test(t) ? null : detectCsvHeader(t, at.line);
    if (header) {
      this.csv = header;
      this.skipped++;
      return i + 1;
    }
    if (csv.columns.length > 1 && !t.includes(csv.delimiter)) {
      this.csv = null;
      return null;
    }
    const read = readCsvRecord(this.lines, i, csv.delimiter);
    if (!read.cells) {
      const line = read.errorLine + 1;
      this.reject({ line, text: this.lines[read.errorLine]! }, read.error);
      return read.next;
    }
    const cells = read.cells.map((c) => c.trim());
    if (cells.every((c) => c === '')) {
      this.skipped += read.next - i;
      return read.next;
    }
    if (cells.length !== csv.columns.length) {
      this.reject(at, `CSV row has ${cells.length} fields but the header (line ${csv.line}) has ${csv.columns.length}`);
      return read.next;
    }
    this.emit(rowFields(csv, cells), false, at, undefined, csv);
    return read.next;
  }

  private tooLong(t: string, at: LineRef): void {
    const reason = `line too long (${at.text.length} characters)`;
    // `Comment: <10,000 characters>` inside a block spoils that record: it is not imported without it.
    if (this.kv && matchKeyValue(t.slice(0, 64))?.key) {
      this.kv.lines++;
      this.kv.fail(at, reason);
      return;
    }
    this.reject(at, reason);
  }

  private endBlocks(): void {
    this.flushKv();
    this.csv = null;
  }

  private flushKv(): void {
    const block = this.kv;
    if (!block) return;
    this.kv = null;
    if (!block.isRecord) {
      // Only prose like `Note: fresh batch`: not a server, nothing to report.
      this.skipped += block.lines;
      return;
    }
    if (block.error) return this.reject(block.error, block.error.reason, block.start.line);
    this.emit(block.raw, false, block.start, block.from);
  }

  private emit(
    raw: RawFields,
    lineFormat: boolean,
    start: LineRef,
    from?: Partial<Record<FieldName, LineRef>>,
    csv?: CsvHeader,
  ): void {
    if (this.section) {
      this.section.used = true;
      if (raw.provider === undefined || raw.provider.trim() === '') raw.provider = this.section.provider;
    }
    const built = buildRecord(raw, lineFormat, start.line);
    if (built.ok) {
      this.records.push(built.record);
      return;
    }
    let reason = built.reason;
    if (csv?.missing.includes(built.field)) reason += ` (the CSV header on line ${csv.line} has no ${built.field} column)`;
    this.reject(from?.[built.field] ?? start, reason, start.line);
  }

  private reject(at: LineRef, reason: string, recordStart?: number): void {
    if (this.section) this.section.used = true;
    const full = recordStart !== undefined && recordStart !== at.line ? `${reason} (record starting at line ${recordStart})` : reason;
    this.rejected.push({ line: at.line, reason: full, text: reportText(at.text) });
  }
}
