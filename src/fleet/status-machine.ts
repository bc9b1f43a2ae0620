import type { FleetNode, Status } from './node.ts';
import { STATUSES } from './node.ts';

/**
 * The status machine of DESIGN.md, in one place and asked once on each path: a command splits its
 * selection here (splitByStatus), a job asks canRun before a node's check and leadsTo after it, and
 * a write that names its own target status (reset, setup in tests) is checked against LEGAL_CHANGES.
 */
export const ACTIONS = ['ping', 'speed', 'start', 'stop', 'move', 'monitor', 'reset', 'delete'] as const;
export type Action = (typeof ACTIONS)[number];

/** What a stage reports for one node. `auth_failed` only means something to speed. */
export type StageResult = 'ok' | 'fail' | 'auth_failed';

const ALLOWED_FROM: Record<Action, readonly Status[]> = {
  ping: ['not_tested', 'ping_failed', 'ping_ok', 'auth_failed', 'speed_ok'],
  speed: ['ping_ok', 'speed_ok'],
  start: ['speed_ok'],
  stop: ['online', 'offline'],
  // A node keeps its status through a move: only where it runs (and its credentials) change.
  move: ['online', 'offline'],
  monitor: ['online', 'offline'],
  reset: ['not_tested', 'ping_ok', 'ping_failed', 'speed_ok', 'auth_failed', 'offline'],
  delete: [...STATUSES],
};

export function canRun(action: Action, status: Status): boolean {
  return ALLOWED_FROM[action].includes(status);
}

/** Splits a selection into the nodes `action` may run on and a count of the others by status. */
export function splitByStatus<N extends FleetNode>(action: Action, nodes: readonly N[]): { runnable: N[]; refused: Record<string, number> } {
  const runnable: N[] = [];
  const refused: Record<string, number> = {};
  for (const n of nodes) {
    if (canRun(action, n.status)) runnable.push(n);
    else refused[n.status] = (refused[n.status] ?? 0) + 1;
  }
  return { runnable, refused };
}

export type Next = { ok: true; to: Status } | { ok: false; reason: string };

/**
 * Where `action` with `result` leads from `from`. `monitorFailsReached` says whether a failing monitor
 * check is the N-th consecutive one (MONITOR_FAILS); before that an online node stays online.
 */
export function nextStatus(action: Action, from: Status, result: StageResult, monitorFailsReached = true): Next {
  if (!canRun(action, from)) {
    return { ok: false, reason: `${action} is not allowed on a ${from} node (allowed from: ${ALLOWED_FROM[action].join(', ')})` };
  }
  return leadsTo(action, from, result, monitorFailsReached);
}

/** nextStatus for a node the caller already asked canRun about before the work began. */
export function leadsTo(action: Action, from: Status, result: StageResult, monitorFailsReached = true): Next {
  if (result === 'auth_failed' && action !== 'speed') {
    return { ok: false, reason: `only speed can report auth_failed, not ${action}` };
  }
  switch (action) {
    case 'ping':
      // A weaker test never demotes a stronger success: a passing ping keeps speed_ok.
      if (result === 'ok') return { ok: true, to: from === 'speed_ok' ? 'speed_ok' : 'ping_ok' };
      return { ok: true, to: 'ping_failed' };
    case 'speed':
      if (result === 'ok') return { ok: true, to: 'speed_ok' };
      if (result === 'auth_failed') return { ok: true, to: 'auth_failed' };
      return { ok: true, to: 'ping_ok' };
    case 'start':
      return { ok: true, to: result === 'ok' ? 'online' : 'speed_ok' };
    case 'stop':
      return { ok: true, to: 'speed_ok' };
    case 'move':
      return { ok: true, to: from };
    case 'monitor':
      if (result === 'ok') return { ok: true, to: 'online' };
      if (from === 'online' && !monitorFailsReached) return { ok: true, to: 'online' };
      return { ok: true, to: 'offline' };
    case 'reset':
      return { ok: true, to: 'not_tested' };
    case 'delete':
      return { ok: false, reason: 'delete removes the node; it has no next status' };
  }
}

/** Every (from -> to) change some action can make; the store checks writes against it. */
export const LEGAL_CHANGES: ReadonlySet<string> = (() => {
  const edges = new Set<string>();
  const results: StageResult[] = ['ok', 'fail', 'auth_failed'];
  for (const action of ACTIONS) {
    for (const from of ALLOWED_FROM[action]) {
      for (const result of results) {
        for (const reached of [true, false]) {
          const next = nextStatus(action, from, result, reached);
          if (next.ok) edges.add(`${from}>${next.to}`);
        }
      }
    }
  }
  return edges;
})();

export function isLegalChange(from: Status, to: Status): boolean {
  return LEGAL_CHANGES.has(`${from}>${to}`);
}
