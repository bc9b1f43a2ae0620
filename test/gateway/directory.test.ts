import { describe, expect, it } from 'vitest';
import { GatewayDirectory, type GatewayState } from '../../src/gateway/directory.ts';
import { place, speedCapable } from '../../src/gateway/placement.ts';
import type { GatewayDescription, GatewayHeartbeat } from '../../src/gateway/port.ts';

const describeAs = (name: string, free: number, tunnels = true): GatewayDescription => ({
  name,
  publicHost: { socks: `${name}.example`, ovpn: `${name}.example` },
  warnings: [],
  tunnels: tunnels ? { ok: true } : { ok: false, missing: ['ppp_generic'], message: 'no kernel PPP' },
  ovpn: { ok: true },
  ports: { socks: { from: 20000, to: 20099 }, ovpn: { from: 21000, to: 21099 } },
  capacity: { total: 100, free },
  running: 100 - free,
  version: '0.1.0',
});
const beat = (name: string, bootId: string, free = 50, running: string[] = []): GatewayHeartbeat => ({ name, sentAt: new Date(0).toISOString(), bootId, description: describeAs(name, free), running });

function directory(deadAfterMs = 30_000) {
  let now = 1_000_000;
  const events: string[] = [];
  let drained: readonly string[] = [];
  const dir = new GatewayDirectory({
    deadAfterMs,
    connect: null,
    drained: { get: () => drained, set: (n) => void (drained = n) },
    events: { down: (g, silent) => events.push(`down ${g.name} ${silent}`), up: (g, how) => events.push(`up ${g.name}${how.rebooted ? ' rebooted' : ''}`) },
    now: () => now,
  });
  return { dir, events, advance: (ms: number) => void (now += ms) };
}

describe('gateway directory', () => {
  it('sees a gateway down once it is silent for deadAfterMs, announces it once, and back once', () => {
    const { dir, events, advance } = directory();
    dir.heartbeat(beat('gw1', 'boot-a'));
    advance(29_999);
    dir.sweep();
    expect(events).toEqual([]);
    advance(1);
    dir.sweep();
    dir.sweep();
    expect(events).toEqual(['down gw1 30000']);
    expect(dir.get('gw1')).toMatchObject({ up: false, downSince: expect.any(Number) });
    advance(5_000);
    dir.heartbeat(beat('gw1', 'boot-a', 50, ['n1']));
    expect(events).toEqual(['down gw1 30000', 'up gw1']);
    expect(dir.get('gw1')).toMatchObject({ up: true, downSince: null, running: ['n1'] });
  });

  it('tells a gateway that came back after a restart (new boot id) from one that was cut off', () => {
    const { dir, events, advance } = directory(1_000);
    dir.heartbeat(beat('gw1', 'boot-a'));
    advance(1_000);
    dir.sweep();
    dir.heartbeat(beat('gw1', 'boot-b'));
    expect(events).toEqual(['down gw1 1000', 'up gw1 rebooted']);
  });

  it('a first heartbeat is not news; a gateway the store names but that never speaks is down after deadAfterMs', () => {
    const { dir, events, advance } = directory(1_000);
    dir.expect(['gw2']);
    dir.heartbeat(beat('gw3', 'x'));
    advance(999);
    dir.heartbeat(beat('gw3', 'x'));
    dir.sweep();
    expect(events).toEqual([]);
    advance(1);
    dir.sweep();
    expect(events).toEqual(['down gw2 1000']);
    expect(dir.list().map((g) => [g.name, g.up])).toEqual([['gw2', false], ['gw3', true]]);
  });

  it('keeps draining in the settings it was given', () => {
    const { dir } = directory();
    dir.heartbeat(beat('gw1', 'a'));
    dir.setDraining('gw1', true);
    expect(dir.get('gw1')!.draining).toBe(true);
    dir.setDraining('gw1', false);
    expect(dir.get('gw1')!.draining).toBe(false);
  });
});

const state = (name: string, free: number, extra: Partial<GatewayState> = {}): GatewayState => ({
  name, local: false, description: describeAs(name, free), lastHeartbeatAt: 0, bootId: 'b', running: [], up: true, downSince: null, draining: false, ...extra,
});

describe('placement', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);

  it('fills gateways by free capacity, evenly in proportion to their room', () => {
    const r = place(ids(60), [state('a', 100), state('b', 20), state('c', 40)]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const counts = Object.fromEntries([...r.byGateway].map(([k, v]) => [k, v.length]));
    // In proportion to the room: 60 of 160 free is 37.5 %, so a 37-38, b 7-8, c 15.
    expect(counts).toEqual({ a: 37, b: 8, c: 15 });
    expect(Object.values(counts).reduce((x, y) => x + y, 0)).toBe(60);
  });

  it('skips down, draining and tunnel-less gateways, and says why none can take nodes', () => {
    const gws = [state('a', 10, { up: false }), state('b', 10, { draining: true }), { ...state('c', 10), description: describeAs('c', 10, false) }];
    const r = place(ids(1), gws);
    expect(r).toEqual({ ok: false, reason: expect.stringContaining('gateway a is down') });
    if (r.ok) return;
    expect(r.reason).toContain('gateway b is draining');
    expect(r.reason).toContain('gateway c cannot open tunnels: no kernel PPP');
    expect(speedCapable(gws)).toEqual([state('b', 10, { draining: true })]);
  });

  it('honours gateway=NAME, and refuses an unknown, full or draining one before any job', () => {
    const gws = [state('a', 5), state('b', 100)];
    const r = place(ids(3), gws, 'a');
    expect(r.ok && [...r.byGateway]).toEqual([['a', ['n0', 'n1', 'n2']]]);
    expect(place(ids(6), gws, 'a')).toEqual({ ok: false, reason: expect.stringContaining('room for 5 more nodes, not 6') });
    expect(place(ids(1), gws, 'zz')).toEqual({ ok: false, reason: 'no gateway is named zz (known: a, b)' });
    expect(place(ids(106), gws)).toEqual({ ok: false, reason: expect.stringContaining('room for 105 more nodes, not 106') });
  });
});

describe('gateway slots (speed tests per gateway)', () => {
  it('spreads tests over gateways, never more than perGateway on one, and hands a freed slot to the next waiter', async () => {
    const { GatewaySlots } = await import('../../src/gateway/slots.ts');
    const slots = new GatewaySlots(['a', 'b'], 2);
    expect(slots.total).toBe(4);
    const got = await Promise.all([slots.acquire(), slots.acquire(), slots.acquire(), slots.acquire()]);
    expect(got.sort()).toEqual(['a', 'a', 'b', 'b']);
    const fifth = slots.acquire();
    const ac = new AbortController();
    const sixth = slots.acquire(ac.signal);
    ac.abort(new Error('cancelled'));
    await expect(sixth).rejects.toThrow('cancelled');
    slots.release('b');
    await expect(fifth).resolves.toBe('b');
  });
});
