import { describe, expect, it } from 'vitest';
import { STATUSES, type Status } from '../../src/fleet/node.ts';
import { ACTIONS, canRun, isLegalChange, nextStatus, type Action, type StageResult } from '../../src/fleet/status-machine.ts';

// The table of DESIGN.md written out in full, independently of the module: [action, from, result, to].
const LEGAL: Array<[Action, Status, StageResult, Status]> = [
  ['ping', 'not_tested', 'ok', 'ping_ok'], ['ping', 'not_tested', 'fail', 'ping_failed'],
  ['ping', 'ping_failed', 'ok', 'ping_ok'], ['ping', 'ping_failed', 'fail', 'ping_failed'],
  ['ping', 'ping_ok', 'ok', 'ping_ok'], ['ping', 'ping_ok', 'fail', 'ping_failed'],
  ['ping', 'auth_failed', 'ok', 'ping_ok'], ['ping', 'auth_failed', 'fail', 'ping_failed'],
  ['ping', 'speed_ok', 'ok', 'speed_ok'], ['ping', 'speed_ok', 'fail', 'ping_failed'],
  ['speed', 'ping_ok', 'ok', 'speed_ok'], ['speed', 'ping_ok', 'fail', 'ping_ok'], ['speed', 'ping_ok', 'auth_failed', 'auth_failed'],
  ['speed', 'speed_ok', 'ok', 'speed_ok'], ['speed', 'speed_ok', 'fail', 'ping_ok'], ['speed', 'speed_ok', 'auth_failed', 'auth_failed'],
  ['start', 'speed_ok', 'ok', 'online'], ['start', 'speed_ok', 'fail', 'speed_ok'],
  ['stop', 'online', 'ok', 'speed_ok'], ['stop', 'offline', 'ok', 'speed_ok'],
  // move changes where a node runs, never its status
  ['move', 'online', 'ok', 'online'], ['move', 'online', 'fail', 'online'], ['move', 'offline', 'ok', 'offline'], ['move', 'offline', 'fail', 'offline'],
  ['monitor', 'online', 'ok', 'online'], ['monitor', 'offline', 'ok', 'online'],
  ['monitor', 'online', 'fail', 'offline'], ['monitor', 'offline', 'fail', 'offline'],
  ...(['not_tested', 'ping_ok', 'ping_failed', 'speed_ok', 'auth_failed', 'offline'] as Status[]).map(
    (from) => ['reset', from, 'ok', 'not_tested'] as [Action, Status, StageResult, Status],
  ),
];

describe('status machine', () => {
  it.each(LEGAL)('%s from %s with %s leads to %s', (action, from, result, to) => {
    expect(nextStatus(action, from, result)).toEqual({ ok: true, to });
  });

  it('refuses every action from a status the table does not allow', () => {
    const allowed = new Set(LEGAL.map(([a, f]) => `${a}:${f}`));
    let refused = 0;
    for (const action of ACTIONS.filter((a) => a !== 'delete')) {
      for (const from of STATUSES) {
        if (allowed.has(`${action}:${from}`)) continue;
        expect(canRun(action, from)).toBe(false);
        const next = nextStatus(action, from, 'ok');
        expect(next.ok).toBe(false);
        refused++;
      }
    }
    expect(refused).toBe(7 * 7 - new Set(LEGAL.map(([a, f]) => `${a}:${f}`)).size);
  });

  it('keeps speed_ok when a ping passes', () => {
    expect(nextStatus('ping', 'speed_ok', 'ok')).toEqual({ ok: true, to: 'speed_ok' });
  });

  it('does not let the monitor touch not_tested, ping_ok or speed_ok nodes', () => {
    for (const from of ['not_tested', 'ping_ok', 'speed_ok', 'ping_failed', 'auth_failed'] as Status[]) {
      expect(canRun('monitor', from)).toBe(false);
      expect(nextStatus('monitor', from, 'ok').ok).toBe(false);
      expect(nextStatus('monitor', from, 'fail').ok).toBe(false);
    }
  });

  it('keeps an online node online until the N-th consecutive monitor failure', () => {
    expect(nextStatus('monitor', 'online', 'fail', false)).toEqual({ ok: true, to: 'online' });
    expect(nextStatus('monitor', 'online', 'fail', true)).toEqual({ ok: true, to: 'offline' });
  });

  it('refuses to reset an online node', () => {
    const next = nextStatus('reset', 'online', 'ok');
    expect(next.ok).toBe(false);
    if (!next.ok) expect(next.reason).toContain('reset is not allowed on a online node');
  });

  it('accepts auth_failed from speed only', () => {
    expect(nextStatus('ping', 'ping_ok', 'auth_failed').ok).toBe(false);
    expect(nextStatus('start', 'speed_ok', 'auth_failed').ok).toBe(false);
  });

  it('lets delete run on any status', () => {
    for (const from of STATUSES) expect(canRun('delete', from)).toBe(true);
  });

  it('has no dead end: every status can get back to not_tested or be re-tested', () => {
    for (const from of STATUSES) {
      const reachable = canRun('reset', from) || canRun('ping', from) || canRun('stop', from);
      expect(reachable, from).toBe(true);
    }
  });

  it('derives the legal changes from the table and nothing else', () => {
    const expected = new Set(LEGAL.map(([, from, , to]) => `${from}>${to}`));
    for (const from of STATUSES) for (const to of STATUSES) {
      expect(isLegalChange(from, to), `${from}>${to}`).toBe(expected.has(`${from}>${to}`));
    }
  });
});
