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

/** RFC 4180 quoting, and a leading quote on cells a spreadsheet would run as a formula. */
export function csvCell(value: unknown): string {
  let s = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
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

/** `ip:login:password`, one per line: the importer's format 7 (and `ip:port:...` is never guessed). */
export function toTxt(nodes: readonly FleetNode[]): string {
  return nodes.map((n) => `${n.ip}:${n.login}:${n.password}`).join('\n') + (nodes.length ? '\n' : '');
}

/** `host:port:login:password` for nodes whose SOCKS proxy is up. */
export function toSocks(nodes: readonly FleetNode[]): string {
  return nodes.filter((n) => n.status === 'online' && n.socks).map((n) => `${n.socks!.host}:${n.socks!.port}:${n.socks!.login}:${n.socks!.password}`).join('\n');
}
