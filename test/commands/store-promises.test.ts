import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { ADMIN, fileOf, OPERATOR, testApp, type TestApp } from '../kit/app.ts';

let t: TestApp | null = null;
afterEach(async () => {
  await t?.dispose();
  t = null;
});

const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => `10.7.${(from + k) >> 8}.${(from + k) & 255}:u:p${from + k}\n`).join('');
const onDisk = async (app: TestApp) => JSON.parse(await readFile(join(app.dir, 'data', 'connexa.json'), 'utf8'));

describe('import and the store', () => {
  it('refuses an import that would take the store past MAX_NODES, with the numbers, before anything changes', async () => {
    expect(parseConfig({}).MAX_NODES).toBe(250_000);
    t = await testApp({ MAX_NODES: '5' });
    expect((await t.run('import', OPERATOR, [fileOf('first.txt', lines(0, 3))])).kind).toBe('ok');
    await t.app.store.flush();
    const { audit: _a, ...before } = await onDisk(t);
    // 1 already known (an update, not a new node) and 4 new: 3 + 4 = 7 > 5.
    const out = await t.run('import', OPERATOR, [fileOf('second.txt', '10.7.0.0:u:changed\n' + lines(3, 7))]);
    expect(out.kind).toBe('failed');
    expect(t.port.privateText()).toContain('second.txt was refused: this import would bring the store to 7 nodes; MAX_NODES is 5. Nothing was imported');
    expect(t.app.store.nodes().map((n) => n.password)).toEqual(['p0', 'p1', 'p2']);
    await t.app.store.flush();
    const { audit: _b, ...after } = await onDisk(t);
    expect(after).toEqual(before);
    // Up to the limit exactly is fine.
    expect((await t.run('import', OPERATOR, [fileOf('third.txt', lines(3, 5))])).kind).toBe('ok');
    expect(t.app.store.nodes()).toHaveLength(5);
  });

  it('has the imported nodes on disk by the time the reply says imported', async () => {
    t = await testApp();
    const out = await t.run('import', OPERATOR, [fileOf('servers.txt', lines(0, 500))]);
    expect(out.kind).toBe('ok');
    expect(t.port.publicText()).toContain('500 added');
    // No flush, no close: what a kill -9 right after the reply would leave.
    const file = await onDisk(t);
    expect(file.nodes).toHaveLength(500);
    expect(file.nodes[499].password).toBe('p499');
  });

  it('has deletions and resets on disk by the time the reply says they were done', async () => {
    t = await testApp();
    await t.run('import', OPERATOR, [fileOf('servers.txt', lines(0, 4))]);
    const [a] = t.app.store.nodes();
    t.app.store.transition({ id: a!.id, from: 'not_tested', to: 'ping_failed', reason: 'test', actor: 't' });
    expect((await t.run('reset all', OPERATOR)).kind).toBe('ok');
    expect((await onDisk(t)).nodes[0].status).toBe('not_tested');
    const first = await t.run('delete ip:10.7.0.1', ADMIN);
    const rerun = first.kind === 'needsConfirmation' ? first.rerun : '';
    expect((await t.run(rerun, ADMIN)).kind).toBe('ok');
    expect(t.port.publicText()).toMatch(/deleted\s+1/);
    expect((await onDisk(t)).nodes.map((n: { ip: string }) => n.ip)).toEqual(['10.7.0.0', '10.7.0.2', '10.7.0.3']);
  });
});
