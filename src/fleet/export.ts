import { guardCell } from './import/csv.ts';
import type { FleetNode } from './node.ts';

/** CSV columns: the node record's own field names, nested ones dotted (pptp.latencyMs). */
export const CSV_COLUMNS = [
  'id', 'ip', 'port', 'login', 'password', 'provider', 'country', 'state', 'city', 'zip', 'comment', 'status',
  'createdAt', 'updatedAt', 'importedFrom', 'pptp.ok', 'pptp.latencyMs', 'pptp.vendor', 'pptp.hostname', 'pptp.firmware',
  'pptp.result', 'pptp.error', 'pptp.checkedAt', 'speed.downMbps', 'speed.upMbps', 'speed.error', 'speed.checkedAt',
] as const;

function field(node: FleetNode, column: string): unknown {
  const [a, b] = column.split('.');
  const top = (node as unknown as Record<string, unknown>)[a!];
  if (b === undefined) return top;
  return top && typeof top === 'object' ? (top as Record<string, unknown>)[b] : null;
}

/**
 * RFC 4180 quoting, and a leading `'` on cells a spreadsheet would run as a formula (and on cells
 * starting with `'`): the importer takes exactly that one `'` off again (see guardCell).
 */
export function csvCell(value: unknown): string {
  const s = guardCell(value === null || value === undefined ? '' : String(value));
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRows(header: readonly string[], rows: Iterable<readonly unknown[]>): string {
  const out = [header.map(csvCell).join(',')];
  for (const r of rows) out.push(r.map(csvCell).join(','));
  return `${out.join('\r\n')}\r\n`;
}

export function toCsv(nodes: readonly FleetNode[]): string {
  return csvRows(CSV_COLUMNS, (function* () {
    for (const n of nodes) yield CSV_COLUMNS.map((c) => field(n, c));
  })());
}

/** A login or password that `ip:login:password` cannot carry: the importer would split it elsewhere. */
const NOT_IN_TXT_RE = /[:\s]/;

/**
 * `ip:login:password`, one per line: the importer's format 7 (and `ip:port:...` is never guessed).
 * It keeps only those three fields. A node whose login or password contains ':' or whitespace would
 * not import back as it is, so it is left out and returned in `left` (csv carries it).
 */
export function toTxt(nodes: readonly FleetNode[]): { text: string; left: FleetNode[] } {
  const lines: string[] = [];
  const left: FleetNode[] = [];
  for (const n of nodes) {
    if (NOT_IN_TXT_RE.test(n.login) || NOT_IN_TXT_RE.test(n.password)) left.push(n);
    else lines.push(`${n.ip}:${n.login}:${n.password}\n`);
  }
  return { text: lines.join(''), left };
}

/** `host:port:login:password` for nodes whose SOCKS proxy is up. */
export function toSocks(nodes: readonly FleetNode[]): string {
  return nodes.filter((n) => n.status === 'online' && n.socks).map((n) => `${n.socks!.host}:${n.socks!.port}:${n.socks!.login}:${n.socks!.password}`).join('\n');
}
