/**
 * The gateway commands on a bot without REDIS_URL (its own host the one gateway). With real remote
 * gateways they run in test/lab/gateways.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, OPERATOR, testApp, VIEWER, type TestApp } from '../kit/app.ts';
import { speedOkNodes } from '../kit/services-app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(async () => {
  await t.dispose();
});

const said = () => t.port.publicText() + t.port.privateText();

describe('gateway commands without Redis', () => {
  it('gateways lists the local gateway, what it can run and what is missing, to a viewer', async () => {
    expect((await t.run('gateways', VIEWER)).kind).toBe('ok');
    const text = t.port.publicText();
    expect(text).toMatch(/\blocal\b.*\bup\b/);
    expect(text).toContain('this host');
    // TUNNEL_DRIVER=none here: the row says PPP is missing, from the host check itself.
    expect(text).toMatch(/PPP no \(/);
  });

  it('gateway drain is for admins; drained, start refuses the gateway until undrain; unknown names are said', async () => {
    expect((await t.run('gateway drain local', OPERATOR)).kind).toBe('denied');
    expect((await t.run('gateway drain nowhere', ADMIN)).kind).toBe('failed');
    expect(said()).toContain('no gateway is named nowhere');
    expect((await t.run('gateway drain local', ADMIN)).kind).toBe('ok');
    expect(t.app.gateways.directory!.get('local')!.draining).toBe(true);
    expect(t.app.store.setting('gateways.draining')).toEqual(['local']);
    const placed = await t.app.gateways.placement(['n1']);
    expect(placed).toEqual({ ok: false, reason: expect.stringContaining('gateway local is draining') });
    expect((await t.run('gateway undrain local', ADMIN)).kind).toBe('ok');
    expect(await t.app.gateways.placement(['n1'])).toEqual({ ok: true, byGateway: new Map([['local', ['n1']]]) });
    expect((await t.run('gateway sideways local', ADMIN)).kind).toBe('failed');
  });

  it('move says when nodes are already where they are asked to go, and refuses an unknown gateway before any job', async () => {
    const [n] = speedOkNodes(t.app.store, [{ ip: '203.0.113.7' }]);
    t.app.store.transition({ id: n!.id, from: 'speed_ok', to: 'online', reason: 'test', actor: 'test', patch: { gateway: 'local' } });
    expect((await t.run('move 203.0.113.7 gateway=local', OPERATOR)).kind).toBe('failed');
    expect(said()).toContain('1 node already on local');
    expect((await t.run('move 203.0.113.7 gateway=fra-1', OPERATOR)).kind).toBe('failed');
    expect(said()).toContain('no gateway is named fra-1');
    expect(t.app.store.jobs()).toEqual([]);
  });
});
