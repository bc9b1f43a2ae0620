import type { FleetNode, Status } from '../fleet/node.ts';

/** Statuses that mean a node works (answers, passed a speed test, or serves). */
const WORKING: ReadonlySet<Status> = new Set(['ping_ok', 'speed_ok', 'online']);

export interface Digest {
  since: string;
  until: string;
  /** Nodes that work now and did not at `since` (or were imported since). */
  gained: FleetNode[];
  /** Nodes that worked at `since` and no longer do. */
  lost: FleetNode[];
  /** Status changes in the window, e.g. { 'online>offline': 3 }. */
  changes: Record<string, number>;
  /** Median download speed of the nodes measured in the window, and of the other measured nodes' last result before it. */
  speed: { recent: { median: number; nodes: number } | null; before: { median: number; nodes: number } | null };
}

/**
 * The status a node had at `at`, read back from its history: the `from` of its first applied
 * change after `at`, else its status now. A node created after `at` did not exist (null).
 */
export function statusAt(node: FleetNode, at: string): Status | null {
  if (node.createdAt > at) return null;
  const next = node.history.find((h) => h.applied !== false && h.at > at);
  return next ? next.from : node.status;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** What changed in the fleet between `since` and `until` (ISO times), from node histories and speeds. */
export function digestOf(nodes: readonly FleetNode[], since: string, until: string): Digest {
  const gained: FleetNode[] = [];
  const lost: FleetNode[] = [];
  const changes: Record<string, number> = {};
  const recent: number[] = [];
  const before: number[] = [];
  for (const n of nodes) {
    const then = statusAt(n, since);
    const works = WORKING.has(n.status);
    if (works && (then === null || !WORKING.has(then))) gained.push(n);
    if (!works && then !== null && WORKING.has(then)) lost.push(n);
    for (const h of n.history) {
      if (h.applied === false || h.at <= since || h.at > until) continue;
      changes[`${h.from}>${h.to}`] = (changes[`${h.from}>${h.to}`] ?? 0) + 1;
    }
    const down = n.speed?.downMbps;
    if (down != null && !n.speed!.error) (n.speed!.checkedAt > since ? recent : before).push(down);
  }
  return {
    since,
    until,
    gained,
    lost,
    changes,
    speed: {
      recent: recent.length ? { median: median(recent), nodes: recent.length } : null,
      before: before.length ? { median: median(before), nodes: before.length } : null,
    },
  };
}

const LISTED = 10;

/** The digest as one message: counts first, then the first nodes gained and lost by name. */
export function digestText(d: Digest): string {
  const day = (iso: string) => iso.slice(0, 16).replace('T', ' ');
  const who = (n: FleetNode) => `${n.id} ${n.ip}${n.country ? ` (${n.country})` : ''} ${n.status}`;
  const list = (nodes: FleetNode[]) => [...nodes.slice(0, LISTED).map((n) => `• ${who(n)}`), ...(nodes.length > LISTED ? [`…and ${nodes.length - LISTED} more`] : [])];
  const changes = Object.entries(d.changes).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k.replace('>', ' → ')} ${v}`);
  const { recent, before } = d.speed;
  const mbps = (x: number) => `${x.toFixed(1)} Mbit/s`;
  let speed = 'Speed: no speed test in this period.';
  if (recent) {
    speed = `Speed: median ${mbps(recent.median)} over ${recent.nodes} node${recent.nodes === 1 ? '' : 's'} tested in this period`;
    if (before) {
      const pct = before.median > 0 ? ((recent.median - before.median) / before.median) * 100 : 0;
      speed += `; ${pct >= 0 ? '▲' : '▼'} ${Math.abs(pct).toFixed(0)} % against ${mbps(before.median)} (the last result of ${before.nodes} other node${before.nodes === 1 ? '' : 's'})`;
    }
    speed += '.';
  }
  return [
    `📰 **Weekly digest** ${day(d.since)} → ${day(d.until)} UTC`,
    `**${d.gained.length} gained** (working now, not before) · **${d.lost.length} lost** (worked before, not now)`,
    ...(d.gained.length ? ['Gained:', ...list(d.gained)] : []),
    ...(d.lost.length ? ['Lost:', ...list(d.lost)] : []),
    changes.length ? `Status changes: ${changes.join(' · ')}` : 'No status changed.',
    speed,
  ].join('\n');
}
