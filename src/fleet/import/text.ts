// Turning an uploaded file into lines: size cap, encoding checks, line splitting, and the
// sanitising of a line before it is echoed back in a report.

/** Lines longer than this are rejected without being parsed (no server line is that long). */
export const MAX_LINE_CHARS = 1000;
/** Any single field (login, password, city, ...) longer than this is rejected. */
export const MAX_FIELD_CHARS = 256;
/** How much of an offending line a rejection carries. */
export const REPORT_TEXT_CHARS = 120;

export type Decoded = { ok: true; text: string } | { ok: false; reason: string };

const MiB = 1024 * 1024;

/** "20 MiB", "50.5 MiB", "12 KiB", "300 bytes". */
export function formatSize(bytes: number): string {
  const unit = (v: number, name: string) => `${Math.round(v * 10) / 10} ${name}`;
  if (bytes >= MiB) return unit(bytes / MiB, 'MiB');
  if (bytes >= 1024) return unit(bytes / 1024, 'KiB');
  return `${bytes} bytes`;
}

function tooBig(bytes: number, maxBytes: number): Decoded {
  return {
    ok: false,
    reason: `the file is ${formatSize(bytes)} (${bytes} bytes), over the ${formatSize(maxBytes)} import limit`,
  };
}

const EMPTY: Decoded = { ok: false, reason: 'the file is empty' };
const UTF16: Decoded = { ok: false, reason: 'the file looks like UTF-16; save it as UTF-8' };
const UTF32: Decoded = { ok: false, reason: 'the file looks like UTF-32; save it as UTF-8' };
const NUL_BINARY: Decoded = {
  ok: false,
  reason: 'the file contains NUL bytes: it looks like a binary file, not a text list of servers',
};

/**
 * UTF-16 text without a BOM shows up as NULs in every other byte (ASCII characters have a zero high
 * byte). Random binary has NULs scattered anywhere, so we only call it UTF-16 when one parity is
 * mostly NUL and the other mostly not.
 */
function looksLikeUtf16(at: (i: number) => number, length: number): boolean {
  const n = Math.min(length, 4096);
  let even = 0;
  let odd = 0;
  for (let i = 0; i < n; i++) {
    if (at(i) === 0) {
      if (i % 2 === 0) even++;
      else odd++;
    }
  }
  const half = Math.max(1, Math.floor(n / 2));
  return (odd / half > 0.3 && even / half < 0.05) || (even / half > 0.3 && odd / half < 0.05);
}

/** Offset and value of the first byte that breaks UTF-8, for a message a person can act on. */
function firstInvalidUtf8(buf: Uint8Array): { offset: number; byte: number } {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    let need: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return { offset: i, byte: b };
    }
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return { offset: i, byte: b };
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return { offset: i, byte: b };
    i += need + 1;
  }
  return { offset: buf.length, byte: 0 };
}

/** C0 controls other than tab/LF/CR, plus DEL: plenty of them means binary that happens to be valid UTF-8. */
function tooManyControlChars(text: string): boolean {
  const n = Math.min(text.length, 65536);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13) || c === 0x7f) count++;
  }
  return count > 32 && count > n / 10;
}
const CONTROL_BINARY: Decoded = {
  ok: false,
  reason: 'the file is full of control characters: it looks like a binary file, not a text list of servers',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Checks size and encoding and returns the text (BOM removed), or why the whole file is refused. */
export function decodeInput(input: Buffer | Uint8Array | string, maxBytes: number): Decoded {
  if (typeof input === 'string') {
    // Every UTF-16 code unit is at least one UTF-8 byte, so a long string is refused without counting.
    if (input.length > maxBytes) return tooBig(Buffer.byteLength(input, 'utf8'), maxBytes);
    if (input.length * 3 > maxBytes) {
      const bytes = Buffer.byteLength(input, 'utf8');
      if (bytes > maxBytes) return tooBig(bytes, maxBytes);
    }
    const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
    if (text.length === 0) return EMPTY;
    if (text.indexOf('\0') !== -1) {
      return looksLikeUtf16((i) => text.charCodeAt(i), text.length) ? UTF16 : NUL_BINARY;
    }
    return tooManyControlChars(text) ? CONTROL_BINARY : { ok: true, text };
  }
  const buf = input;
  if (buf.length === 0) return EMPTY;
  if (buf.length > maxBytes) return tooBig(buf.length, maxBytes);
  const [b0, b1, b2, b3] = [buf[0], buf[1], buf[2], buf[3]];
  if ((b0 === 0xff && b1 === 0xfe && b2 === 0 && b3 === 0) || (b0 === 0 && b1 === 0 && b2 === 0xfe && b3 === 0xff)) {
    return UTF32;
  }
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff)) return UTF16;
  if (buf.indexOf(0) !== -1) return looksLikeUtf16((i) => buf[i]!, buf.length) ? UTF16 : NUL_BINARY;
  let text: string;
  try {
    text = utf8.decode(buf); // strips a UTF-8 BOM
  } catch {
    const bad = firstInvalidUtf8(buf);
    return {
      ok: false,
      reason:
        `the file is not valid UTF-8 (byte 0x${bad.byte.toString(16).toUpperCase().padStart(2, '0')} at offset ${bad.offset}): ` +
        'it is binary or saved in another encoding; save it as UTF-8',
    };
  }
  if (text.length === 0) return EMPTY;
  return tooManyControlChars(text) ? CONTROL_BINARY : { ok: true, text };
}

const LINE_BREAK_RE = /\r\n|\r|\n/;

/** Physical lines; CRLF, LF and lone CR all end a line. A final line break does not add an empty line. */
export function splitLines(text: string): string[] {
  const lines = text.split(LINE_BREAK_RE);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * splitLines in slices of about `sliceMs`, awaiting `pause` between them: splitting 20 MiB at once
 * holds the event loop for a noticeable time. Same lines as splitLines.
 */
export async function splitLinesSliced(text: string, sliceMs: number, pause: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const breaks = /\r\n|\r|\n/g;
  let start = 0;
  let n = 0;
  let until = performance.now() + sliceMs;
  for (let m = breaks.exec(text); m; m = breaks.exec(text)) {
    lines.push(text.slice(start, m.index));
    start = m.index + m[0].length;
    if ((++n & 4095) === 0 && performance.now() > until) {
      await pause();
      until = performance.now() + sliceMs;
    }
  }
  lines.push(text.slice(start));
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * Characters that never belong in a field: C0 controls except tab and line feed (those two are
 * checked per field), DEL, C1 controls, Unicode line/paragraph separators and bidirectional
 * overrides (they make a login look like something else when displayed).
 */
const CONTROL_RE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const CONTROL_OR_TAB_LF_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** The first forbidden character in a field value, described for a person, or null. */
export function findControlChar(value: string, allowTabAndNewline: boolean): string | null {
  const m = (allowTabAndNewline ? CONTROL_RE : CONTROL_OR_TAB_LF_RE).exec(value);
  if (!m) return null;
  const c = m[0];
  if (c === '\t') return 'a tab';
  if (c === '\n') return 'a line break';
  return `a control character (U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')})`;
}

const STRIP_RE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The offending line as a report shows it: control characters removed, at most 120 characters. */
export function reportText(line: string): string {
  let s = line.replace(/\t/g, ' ').replace(STRIP_RE, '');
  if (s.length > REPORT_TEXT_CHARS) {
    let end = REPORT_TEXT_CHARS;
    const last = s.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end--; // do not split a surrogate pair (emoji)
    s = s.slice(0, end);
  }
  return s;
}

/** A value quoted for a reason string, shortened so a reason stays one readable line. */
export function quote(value: string, max = 40): string {
  const v = value.replace(STRIP_RE, '');
  return JSON.stringify(v.length > max ? `${v.slice(0, max)}…` : v);
}
