/**
 * The suite-wide secrets scan (issue 8, Security): every request the bot sends to the fake platforms
 * in a PUBLIC place, every message the mock port shows to a channel, and every log line, collected
 * over the whole `vitest run`, must contain none of the secrets the tests created: server (node)
 * passwords, proxy (SOCKS) passwords, private keys.
 *
 * How it is wired (nothing here runs unless CONNEXA_SECRET_SCAN_DIR is set):
 *   - test/setup/secret-scan-global.ts (globalSetup) creates the scan directory, sets the variable
 *     for the test processes, and after the last test file reads everything back, runs scan() and
 *     fails the run (exit code 1) with a report when a secret appears;
 *   - test/setup/secret-scan-collect.ts (setupFiles, in every test process) hooks where secrets are
 *     born (Store.addNodes/patchNode/transition/open, newSocksCredentials, writePrivateFile, sim
 *     fleets), every createLogger() sink, the mock RecordingPort and the bot processes' stderr, and
 *     writes what a test file collected when the file ends (one JSON-lines file per test file);
 *   - the fakes (test/fakes/slack/server.ts, test/fakes/discord/index.ts) register their recorded
 *     requests with addSource(); they are classified (public or not) when the file ends, with the
 *     fakes' own rules (Slack isPrivate / Discord visibility): ephemerals and DMs are not public.
 *
 * Each test file runs in its own process with its own stores, so a secret is searched for in what
 * the same test file produced. Not searched for (and counted in the report): secrets shorter than
 * MIN_SECRET_LENGTH characters (a password "b" is a substring of everything), secrets that occur in
 * the product's own source text (a password "changed" would be found in "No status changed."), and
 * the "passwords" of fuzz tests (*fuzz*.test.ts: mutated fragments of IPs, locations and logins that
 * the bot rightly echoes in rejected-line reasons). A private key counts as its base64/hex body lines
 * (the PEM's line breaks do not survive JSON or form encoding; every line is random). Zip files in
 * public messages (bundles) are opened and their entries scanned too.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';

export const SCAN_DIR_ENV = 'CONNEXA_SECRET_SCAN_DIR';
export const MIN_SECRET_LENGTH = 6;

export type SecretKind = 'node password' | 'proxy password' | 'private key';

export interface Secret {
  kind: SecretKind;
  value: string;
  /** Where it was seen first: the hook. */
  origin: string;
  /** The test file that created it. */
  file: string;
}

export interface ScannedText {
  kind: 'request' | 'log';
  /** `fake Slack`, `fake Discord`, `RecordingPort`, `log`, `bot process`. */
  source: string;
  /** The request (`api chat.postMessage`, `POST /channels/:id/messages 200`) or the logger. */
  label: string;
  text: string;
  /** The test file it came from. */
  file: string;
}

export interface Leak {
  secret: Secret;
  where: Omit<ScannedText, 'text'>;
  /** Context around the first occurrence, every known secret in it masked. */
  excerpt: string;
}

export interface ScanReport {
  requests: number;
  logLines: number;
  bytes: number;
  /** Secrets searched for (distinct per test file), by kind. */
  secrets: number;
  byKind: Record<SecretKind, number>;
  /** Not searched for: shorter than the minimum, in the product's source text, from fuzz tests. */
  ignored: { short: number; vocabulary: number; synthetic: number };
  leaks: Leak[];
}

export interface ScanOptions {
  minLength?: number;
  /** The product's own text (its sources): a secret found in it cannot be told from the product's words. */
  vocabulary?: string;
  /** Test files whose "secrets" are synthetic (fuzzers). */
  synthetic?: (file: string) => boolean;
}

export const FUZZ_FILES = (file: string): boolean => /(^|\/)[^/]*fuzz[^/]*\.test\.ts$/.test(file);

// ---------------------------------------------------------------- the scanner

/**
 * Finds every secret of a test file in every text of the same file: one pass over each text, looking
 * up each `minLength`-character window among the secrets' prefixes, so the cost does not grow with
 * the number of secrets. One leak per (secret, text).
 */
export function scan(texts: Iterable<ScannedText>, secrets: Iterable<Secret>, opts: ScanOptions = {}): ScanReport {
  const min = opts.minLength ?? MIN_SECRET_LENGTH;
  const ignored = { short: new Set<string>(), vocabulary: new Set<string>(), synthetic: new Set<string>() };
  const kept: Secret[] = [];
  for (const s of secrets) {
    if (s.value.length < min) ignored.short.add(s.value);
    else if (opts.synthetic?.(s.file)) ignored.synthetic.add(s.value);
    else kept.push(s);
  }
  if (opts.vocabulary) new SecretIndex(kept, min).find(opts.vocabulary, (s) => ignored.vocabulary.add(s.value));
  const perFile = new Map<string, Secret[]>();
  for (const s of kept) {
    if (ignored.vocabulary.has(s.value)) continue;
    const list = perFile.get(s.file);
    if (list) list.push(s);
    else perFile.set(s.file, [s]);
  }
  const indexes = new Map([...perFile].map(([file, list]) => [file, new SecretIndex(list, min)]));
  const byKind: Record<SecretKind, number> = { 'node password': 0, 'proxy password': 0, 'private key': 0 };
  for (const index of indexes.values()) for (const [k, n] of Object.entries(index.byKind)) byKind[k as SecretKind] += n;
  const report: ScanReport = {
    requests: 0,
    logLines: 0,
    bytes: 0,
    secrets: [...indexes.values()].reduce((n, i) => n + i.size, 0),
    byKind,
    ignored: { short: ignored.short.size, vocabulary: ignored.vocabulary.size, synthetic: ignored.synthetic.size },
    leaks: [],
  };
  for (const t of texts) {
    if (t.kind === 'request') report.requests++;
    else report.logLines++;
    report.bytes += t.text.length;
    const index = indexes.get(t.file);
    if (!index) continue;
    const found = new Map<string, number>();
    index.find(t.text, (s, at) => {
      if (!found.has(s.value)) found.set(s.value, at);
    });
    for (const [value, at] of found) {
      const secret = index.get(value)!;
      const { text, ...where } = t;
      report.leaks.push({ secret, where, excerpt: excerpt(text, at, secret, index) });
    }
  }
  return report;
}

/** Secrets (at least `min` characters long) by their first `min` characters. */
class SecretIndex {
  private readonly byPrefix = new Map<string, Secret[]>();
  private readonly byValue = new Map<string, Secret>();
  readonly byKind: Record<SecretKind, number> = { 'node password': 0, 'proxy password': 0, 'private key': 0 };

  private readonly min: number;
  constructor(secrets: Iterable<Secret>, min: number) {
    this.min = min;
    for (const s of secrets) {
      if (s.value.length < min || this.byValue.has(s.value)) continue;
      this.byValue.set(s.value, s);
      this.byKind[s.kind]++;
      const key = s.value.slice(0, min);
      const list = this.byPrefix.get(key);
      if (list) list.push(s);
      else this.byPrefix.set(key, [s]);
    }
  }

  get size(): number {
    return this.byValue.size;
  }

  get(value: string): Secret | undefined {
    return this.byValue.get(value);
  }

  find(text: string, hit: (s: Secret, at: number) => void): void {
    if (!this.byPrefix.size) return;
    for (let i = 0; i + this.min <= text.length; i++) {
      const candidates = this.byPrefix.get(text.slice(i, i + this.min));
      if (!candidates) continue;
      for (const s of candidates) if (text.startsWith(s.value, i)) hit(s, i);
    }
  }
}

/** `…context «node password Ab…(12 chars)» context…`, with every known secret in the window masked. */
function excerpt(text: string, at: number, secret: Secret, index: SecretIndex): string {
  const from = Math.max(0, at - 60);
  const to = Math.min(text.length, at + secret.value.length + 60);
  const window = text.slice(from, to);
  const marks: Array<{ at: number; s: Secret }> = [];
  index.find(window, (s, i) => marks.push({ at: i, s }));
  let out = '';
  let pos = 0;
  for (const m of marks.sort((a, b) => a.at - b.at)) {
    if (m.at < pos) continue;
    out += window.slice(pos, m.at) + mask(m.s);
    pos = m.at + m.s.value.length;
  }
  out += window.slice(pos);
  // Cut secrets that straddle the window's edges are not found above: drop partial edge words.
  return `${from > 0 ? '…' : ''}${out.replace(/\s+/g, ' ')}${to < text.length ? '…' : ''}`;
}

export function mask(s: Secret): string {
  return `«${s.kind} ${s.value.slice(0, 2)}…(${s.value.length} chars)»`;
}

/** The report as the run prints it: one summary line, then each leak. */
export function formatReport(r: ScanReport, extra = ''): string {
  const kinds = Object.entries(r.byKind).map(([k, n]) => `${n} ${k === 'private key' ? 'private key lines' : `${k}s`}`).join(', ');
  const head =
    `secret scan: ${r.requests} public requests/messages, ${r.logLines} log lines (${(r.bytes / 1e6).toFixed(1)} MB), ` +
    `${r.secrets} secrets searched (${kinds}; not searched: ${r.ignored.short} shorter than ${MIN_SECRET_LENGTH} chars, ` +
    `${r.ignored.vocabulary} found in the product's own source text, ${r.ignored.synthetic} from fuzz tests), ${r.leaks.length} leaks${extra}`;
  if (!r.leaks.length) return head;
  const shown = r.leaks.slice(0, 25).map((l) => `  - ${l.secret.kind} (from ${l.secret.origin} in ${l.secret.file}) in ${l.where.kind === 'log' ? 'a log line' : 'a public request'} of ${l.where.source} [${l.where.label}] during ${l.where.file}:\n      ${l.excerpt}`);
  return [head, 'A secret appeared in a public message or a log line:', ...shown, ...(r.leaks.length > 25 ? [`  … and ${r.leaks.length - 25} more`] : [])].join('\n');
}

// ---------------------------------------------------------------- finding secrets in values

const PEM = /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY|OpenVPN Static key V1)-----([\s\S]*?)-----END \1-----/g;

/** The body lines of every private key (PEM, OpenVPN static key) in `text`. */
export function privateKeyLines(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(PEM)) {
    for (const line of m[2]!.split(/\r?\n/)) {
      const l = line.trim();
      if (l && !l.startsWith('#') && !l.includes(':')) out.push(l);
    }
  }
  return out;
}

/**
 * Walks a value (node fields, a patch, a node) and reports every `password` string (under `socks`:
 * a proxy password) and every private key in any string.
 */
export function harvest(value: unknown, found: (kind: SecretKind, secret: string) => void, path: string[] = [], depth = 0): void {
  if (depth > 8 || value === null || value === undefined) return;
  if (typeof value === 'string') {
    if (value.includes('PRIVATE KEY-----') || value.includes('Static key V1-----')) for (const l of privateKeyLines(value)) found('private key', l);
    return;
  }
  if (Buffer.isBuffer(value)) return harvest(value.toString('utf8'), found, path, depth + 1);
  if (typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const v of value) harvest(v, found, path, depth + 1);
    return;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (/^pass(word)?$/i.test(k) && typeof v === 'string') found(path.includes('socks') ? 'proxy password' : 'node password', v);
    else harvest(v, found, [...path, k], depth + 1);
  }
}

/** The text of every entry of a zip archive (stored or deflated), read from its central directory. */
export function zipTexts(buf: Buffer): string[] {
  if (buf.length < 22 || buf.readUInt32LE(0) !== 0x04034b50) return [];
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65_535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return [];
  const out: string[] = [];
  let p = buf.readUInt32LE(eocd + 16);
  const entries = buf.readUInt16LE(eocd + 10);
  for (let n = 0; n < entries && p + 46 <= buf.length && buf.readUInt32LE(p) === 0x02014b50; n++) {
    const method = buf.readUInt16LE(p + 10);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    p += 46 + nameLen + extraLen + commentLen;
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== 0x04034b50) continue;
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + size);
    try {
      out.push((method === 8 ? inflateRawSync(data) : data).toString('utf8'));
    } catch {
      // not readable: nothing to scan
    }
  }
  return out;
}

/** A file's text for the scan: its bytes as UTF-8, plus the entries when it is a zip. */
export function fileText(data: Buffer): string {
  const inner = zipTexts(data);
  return inner.length ? [data.toString('utf8'), ...inner].join('\n') : data.toString('utf8');
}

// ---------------------------------------------------------------- collecting (in each test process)

export interface SourceItem {
  label: string;
  text: string;
}

export interface ScanCollector {
  readonly enabled: boolean;
  /** A fake platform (or mock port): `collect` is called when the test file ends and returns its public requests. */
  addSource(source: string, collect: () => SourceItem[]): void;
  log(source: string, line: string): void;
  secret(kind: SecretKind, value: string, origin: string): void;
  /** harvest() into secret(). */
  secretsIn(value: unknown, origin: string): void;
  /** The test file now running (origins and texts are attributed to it). */
  currentFile: string;
  /** Writes what was collected since the last flush to the scan directory and forgets it. */
  flush(): void;
}

class Collector implements ScanCollector {
  readonly enabled = true;
  currentFile = '(unknown)';
  private sources: Array<{ source: string; collect: () => SourceItem[]; file: string }> = [];
  private logs: ScannedText[] = [];
  private secrets = new Map<string, Secret>();
  private flushes = 0;

  private readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  addSource(source: string, collect: () => SourceItem[]): void {
    this.sources.push({ source, collect, file: this.currentFile });
  }

  log(source: string, line: string): void {
    this.logs.push({ kind: 'log', source, label: 'line', text: logText(line), file: this.currentFile });
  }

  secret(kind: SecretKind, value: string, origin: string): void {
    if (typeof value !== 'string' || !value || this.secrets.has(value)) return;
    this.secrets.set(value, { kind, value, origin, file: this.currentFile });
  }

  secretsIn(value: unknown, origin: string): void {
    harvest(value, (kind, s) => this.secret(kind, s, origin));
  }

  flush(): void {
    const lines: string[] = [];
    for (const s of this.sources) {
      let items: SourceItem[] = [];
      try {
        items = s.collect();
      } catch (err) {
        items = [{ label: 'collector error', text: String(err) }];
      }
      for (const it of items) lines.push(JSON.stringify({ t: 'text', kind: 'request', source: s.source, label: it.label, text: it.text, file: s.file }));
    }
    for (const l of this.logs) lines.push(JSON.stringify({ t: 'text', ...l }));
    for (const s of this.secrets.values()) lines.push(JSON.stringify({ t: 'secret', ...s }));
    this.sources = [];
    this.logs = [];
    this.secrets = new Map();
    if (!lines.length) return;
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(join(this.dir, `p${process.pid}-${Date.now()}-${++this.flushes}.jsonl`), `${lines.join('\n')}\n`, { mode: 0o600 });
  }
}

const NOOP: ScanCollector = {
  enabled: false,
  currentFile: '',
  addSource() {},
  log() {},
  secret() {},
  secretsIn() {},
  flush() {},
};

const KEY = Symbol.for('connexa.secretScan.collector');

/** This process's collector (a no-op when no scan runs, e.g. in benches or a lone script). */
export function scanCollector(): ScanCollector {
  const dir = process.env[SCAN_DIR_ENV];
  if (!dir) return NOOP;
  const g = globalThis as { [KEY]?: Collector };
  return (g[KEY] ??= new Collector(dir));
}

// ---------------------------------------------------------------- reading back (in the main process)

/** Everything the test processes wrote to `dir`. */
export function readScanDir(dir: string): { texts: ScannedText[]; secrets: Secret[]; files: number } {
  const texts: ScannedText[] = [];
  const secrets: Secret[] = [];
  let files = 0;
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.jsonl')) continue;
    files++;
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
      if (!line) continue;
      const o = JSON.parse(line) as ({ t: 'text' } & ScannedText) | ({ t: 'secret' } & Secret);
      if (o.t === 'text') texts.push({ kind: o.kind, source: o.source, label: o.label, text: o.text, file: o.file });
      else secrets.push({ kind: o.kind, value: o.value, origin: o.origin, file: o.file });
    }
  }
  return { texts, secrets, files };
}

/**
 * A log line as the scan searches it. JSON escapes what it holds (a `"` or `\\` in a password becomes
 * `\\"`, `\\\\`): the decoded strings of a JSON line (LOG_FORMAT=json), or of the `{fields}` that end a
 * pretty line, are searched too, so an escaped secret is found as surely as a plain one.
 */
export function logText(line: string): string {
  const at = line.startsWith('{') ? 0 : line.indexOf(' {') + 1;
  if (at < 0 || (at === 0 && !line.startsWith('{'))) return line;
  let value: unknown;
  try {
    value = JSON.parse(line.slice(at));
  } catch {
    return line;
  }
  const strings: string[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (typeof v === 'string') strings.push(v);
    else if (v && typeof v === 'object' && depth < 20) for (const [k, x] of Object.entries(v)) {
      strings.push(k);
      walk(x, depth + 1);
    }
  };
  walk(value, 0);
  return `${line}\n${strings.join('\n')}`;
}
