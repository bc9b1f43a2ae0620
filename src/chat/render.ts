/**
 * Neutral text building blocks shared by every command. Data from imports is hostile until shown
 * otherwise: `clean` strips control characters and code fences so a field cannot break a message's
 * layout; adapters escape what is special on their platform (Slack `<>&`, Discord mentions).
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/g;

export function clean(value: unknown, max = 64): string {
  let s = value === null || value === undefined ? '' : String(value);
  s = s.replace(CONTROL, ' ').replace(/`/g, "'");
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Visible width of a string in a monospace table (emoji and CJK take two cells). */
function width(s: string): number {
  let w = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    w += cp >= 0x1100 && (cp <= 0x115f || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0x1f300 && cp <= 0x1faff)) ? 2 : 1;
  }
  return w;
}

function pad(s: string, w: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, w - width(s)));
  return right ? fill + s : s + fill;
}

/** A compact monospace table in a code block. Columns named in `rightAlign` are numbers. */
export function table(headers: string[], rows: Array<Array<string | number | null>>, rightAlign: number[] = [], maxCell = 40): string {
  const cells = rows.map((r) => r.map((c) => clean(c ?? '–', maxCell)));
  const widths = headers.map((h, i) => Math.max(width(h), ...cells.map((r) => width(r[i] ?? ''))));
  const line = (r: string[]) => r.map((c, i) => pad(c, widths[i]!, rightAlign.includes(i))).join('  ').trimEnd();
  return ['```', line(headers), ...cells.map(line), '```'].join('\n');
}

export function code(s: string): string {
  return `\`${clean(s, 200)}\``;
}

export function bold(s: string): string {
  return `**${s}**`;
}

/** `[#######.............] 35 %` */
export function bar(done: number, total: number, cells = 20): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(frac * cells);
  return `[${'#'.repeat(filled)}${'.'.repeat(cells - filled)}] ${Math.floor(frac * 100)} %`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Splits text into pieces of at most `max` characters at line breaks, keeping code blocks closed. */
export function splitText(text: string, max: number): string[] {
  if (text.length <= max) return [text];
  const out: string[] = [];
  let cur = '';
  let inCode = false;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.length > max - 8 ? `${rawLine.slice(0, max - 9)}…` : rawLine;
    if (cur.length + line.length + 1 + (inCode ? 4 : 0) > max) {
      out.push(inCode ? `${cur}\n\`\`\`` : cur);
      cur = inCode ? '```' : '';
    }
    cur = cur ? `${cur}\n${line}` : line;
    if (line.startsWith('```')) inCode = !inCode;
  }
  if (cur) out.push(cur);
  return out;
}
