/** Neutral markdown to terminal text: code fences dropped, **bold** in ANSI bold when colour is on. */
export function toTerminal(text: string, color: boolean): string {
  return text
    .split('\n')
    .filter((line) => !line.startsWith('```'))
    .join('\n')
    .replace(/\*\*([^*]+)\*\*/g, (_, s: string) => (color ? `\x1b[1m${s}\x1b[22m` : s));
}

/** https://no-color.org: any non-empty NO_COLOR turns colour and text attributes off. */
export function colorWanted(env: Record<string, string | undefined> = process.env): boolean {
  return !env.NO_COLOR;
}

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/y;
const ZERO_WIDTH = /[\u200b-\u200f\u0300-\u036f\ufe00-\ufe0f\u20d0-\u20ff]/u;
const WIDE = /[\p{Extended_Pictographic}\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]/u;

/** Columns one character takes on a terminal (an emoji or CJK character takes two). */
function charWidth(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if (cp < 0x20 || ZERO_WIDTH.test(ch)) return 0;
  // Pictographs below U+2300 (©, ®, ‼, ↔ …) are drawn one column wide unless a VS16 follows.
  if (cp < 0x2300) return 1;
  return WIDE.test(ch) ? 2 : 1;
}

/** Splits a line into printable characters and ANSI escapes (which take no column). */
function cells(line: string): Array<{ s: string; w: number }> {
  const out: Array<{ s: string; w: number }> = [];
  for (let i = 0; i < line.length; ) {
    ANSI.lastIndex = i;
    const esc = ANSI.exec(line);
    if (esc) {
      out.push({ s: esc[0], w: 0 });
      i += esc[0].length;
      continue;
    }
    const ch = String.fromCodePoint(line.codePointAt(i)!);
    out.push({ s: ch, w: charWidth(ch) });
    i += ch.length;
  }
  return out;
}

/** Columns a line takes on a terminal. */
export function displayWidth(line: string): number {
  return cells(line).reduce((n, c) => n + c.w, 0);
}

/** Cuts a line to `width` columns with a final `…`, keeping every escape (so bold is still closed). */
function cut(line: string, width: number): string {
  let used = 0;
  let out = '';
  let full = false;
  for (const c of cells(line)) {
    if (c.w === 0) {
      if (!full || c.s.startsWith('\x1b')) out += c.s;
      continue;
    }
    if (full) continue;
    if (used + c.w > width - 1) {
      out += '…';
      full = true;
      continue;
    }
    out += c.s;
    used += c.w;
  }
  return out;
}

/**
 * Fits one line into `width` columns. A ` · `-separated status line (a progress bar) loses its
 * middle fields first, so the bar, the count and the rate/ETA at the end stay readable; anything
 * else is cut at the end with `…`.
 */
export function fitLine(line: string, width: number): string {
  if (width < 2 || displayWidth(line) <= width) return line;
  const parts = line.split(' · ');
  if (parts.length >= 4) {
    const head = parts.slice(0, 2);
    const tail = parts.slice(-2);
    const middle = parts.slice(2, -2);
    while (middle.length) {
      middle.pop();
      const candidate = [...head, ...middle, '…', ...tail].join(' · ');
      if (displayWidth(candidate) <= width) return candidate;
    }
  }
  return cut(line, width);
}

/** Terminal rows a printed line occupies once the terminal wraps it at `columns`. */
export function rowsOf(line: string, columns: number | undefined): number {
  if (!columns || columns < 1) return 1;
  return Math.max(1, Math.ceil(displayWidth(line) / columns));
}
