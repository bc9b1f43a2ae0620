import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Leases } from '../../src/pipeline/leases.ts';
import { applyImport } from '../../src/store/apply-import.ts';
import { Store, StoreFileCorrupt } from '../../src/store/store.ts';
import { StoreLocked } from '../../src/store/lock.ts';
import { HISTORY_LIMIT } from '../../src/fleet/node.ts';
import { STORE_VERSION } from '../../src/store/schema.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnx-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fields = (i: number) => ({ ip: `10.0.${i >> 8}.${i & 255}`, login: `u${i}`, password: `p${i}` });

describe('store', () => {
  it('creates the file with mode 0600 in a 0700 directory and reopens what was written', async () => {
    const store = await Store.open(dir);
    store.addNodes([fields(1), fields(2)], 'a.txt');
    await store.close();
    expect((await stat(join(dir, 'connexa.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const again = await Store.open(dir);
    expect(again.nodes().map((n) => [n.id, n.ip, n.status])).toEqual([
      ['n1', '10.0.0.1', 'not_tested'],
      ['n2', '10.0.0.2', 'not_tested'],
    ]);
    expect(again.addNodes([fields(3)], null)[0]!.id).toBe('n3');
    await again.close();
  });

  it('reopened, nodes in one place share one location object (not a copy per node), equal to what was written', async () => {
    const at = (city: string) => ({ country: 'US', region: 'Ohio', city, asn: 64500, asOrg: 'Example', source: 'test db' });
    const store = await Store.open(dir);
    store.addNodes([{ ...fields(1), geo: at('Akron') }, { ...fields(2), geo: at('Akron') }, { ...fields(3), geo: at('Dayton') }], 'a.txt');
    await store.close();
    const again = await Store.open(dir);
    const [a, b, c] = again.nodes();
    expect([a!.geo, c!.geo]).toEqual([at('Akron'), at('Dayton')]);
    expect(a!.geo).toBe(b!.geo);
    expect(a!.geo).not.toBe(c!.geo);
    await again.close();
  });

  it('writes characters beyond Latin-1 as JSON escapes (the file text stays one byte per character) and reads them back', async () => {
    const store = await Store.open(dir);
    store.addNodes([{ ...fields(1), city: 'Łódź', comment: 'ok 👍 Zürich' }], 'a.txt');
    await store.close();
    const text = await readFile(join(dir, 'connexa.json'), 'utf8');
    expect(text).toContain('"city":"\\u0141\u00f3d\\u017a"');
    expect(text).not.toMatch(/[^\x00-\xff]/);
    const again = await Store.open(dir);
    expect(again.nodes()[0]).toMatchObject({ city: 'Łódź', comment: 'ok 👍 Zürich' });
    await again.close();
  });

  it('coalesces a burst of thousands of updates into a handful of writes', async () => {
    const store = await Store.open(dir, { flushDelayMs: 50 });
    const start = store.writeCount;
    const nodes = store.addNodes(Array.from({ length: 5000 }, (_, i) => fields(i)), null);
    for (const n of nodes) store.transition({ id: n.id, from: 'not_tested', to: 'ping_ok', reason: 'ping ok', actor: 'test' });
    await store.close();
    expect(store.writeCount - start).toBeLessThanOrEqual(2);
    const onDisk = JSON.parse(await readFile(join(dir, 'connexa.json'), 'utf8'));
    expect(onDisk.nodes.filter((n: { status: string }) => n.status === 'ping_ok')).toHaveLength(5000);
  });

  it('writes exactly the data in memory, reusing unchanged nodes between writes', async () => {
    const store = await Store.open(dir, { flushDelayMs: 10 });
    const nodes = store.addNodes(Array.from({ length: 50 }, (_, i) => fields(i)), 'a');
    await store.flush();
    store.transition({ id: nodes[3]!.id, from: 'not_tested', to: 'ping_ok', reason: 'ok', actor: 't' });
    store.patchNode(nodes[7]!.id, { password: 'changed' });
    store.transition({ id: nodes[7]!.id, from: 'ping_ok', to: 'ping_failed', reason: 'stale', actor: 't' }); // changed meanwhile: history only
    store.deleteNodes([nodes[9]!.id]);
    store.appendAudit({ at: 't', actor: 'a', platform: 'slack', command: 'stats', args: 'stats', outcome: 'ok', detail: null, ms: 1 });
    await store.flush();
    const onDisk = JSON.parse(await readFile(join(dir, 'connexa.json'), 'utf8'));
    expect(onDisk.nodes).toEqual(JSON.parse(JSON.stringify(store.nodes())));
    expect(onDisk.audit).toEqual(JSON.parse(JSON.stringify(store.audit())));
    expect(onDisk.nodes[3].status).toBe('ping_ok');
    expect(onDisk.nodes[7].password).toBe('changed');
    expect(onDisk.nodes[7].history[0].applied).toBe(false);
    expect(onDisk.nodes).toHaveLength(49);
    await store.close();
  });

  it('writes the state of the moment the write began, even when nodes change while it streams', async () => {
    const store = await Store.open(dir, { flushDelayMs: 10_000 });
    const nodes = store.addNodes(Array.from({ length: 5000 }, (_, i) => fields(i)), 'a');
    const before = JSON.parse(JSON.stringify(store.nodes()));
    const job = store.createJob({ kind: 'ping', actor: 't', selection: 's', total: 5000 });
    const writing = store.flush(); // the first write: no node cached yet, streamed in chunks
    // While it streams: a node in a late chunk, one in an early chunk, a new node, a deleted node.
    store.transition({ id: nodes[4990]!.id, from: 'not_tested', to: 'ping_ok', reason: 'ok', actor: job.id });
    store.patchNode(nodes[10]!.id, { password: 'new' });
    store.updateJob(job.id, { done: 2 });
    store.addNodes([fields(9999)], 'b');
    store.deleteNodes([nodes[20]!.id]);
    await writing;
    const first = JSON.parse(await readFile(join(dir, 'connexa.json'), 'utf8'));
    expect(first.nodes).toEqual(before);
    expect(first.jobs[0].done).toBe(0);
    await store.flush();
    const second = JSON.parse(await readFile(join(dir, 'connexa.json'), 'utf8'));
    expect(second.nodes).toEqual(JSON.parse(JSON.stringify(store.nodes())));
    expect(second.nodes).toHaveLength(5000);
    expect(second.jobs[0].done).toBe(2);
    await store.close();
  });

  it('leaves no temp file behind', async () => {
    const store = await Store.open(dir);
    store.addNodes([fields(1)], null);
    await store.close();
    expect((await readdir(dir)).sort()).toEqual(['connexa.json']);
  });

  it('transition is a compare-and-set: a stale result is recorded but does not overwrite', async () => {
    const store = await Store.open(dir);
    const [n] = store.addNodes([fields(1)], null);
    const first = store.transition({ id: n!.id, from: 'not_tested', to: 'ping_ok', reason: 'handshake ok', actor: 'job j1' });
    expect(first).toMatchObject({ ok: true, changed: true });
    const stale = store.transition({ id: n!.id, from: 'not_tested', to: 'ping_failed', reason: 'timeout', actor: 'job j2' });
    expect(stale).toMatchObject({ ok: false, why: 'changed_meanwhile' });
    const node = store.get(n!.id)!;
    expect(node.status).toBe('ping_ok');
    expect(node.history.map((h) => [h.from, h.to, h.applied ?? true])).toEqual([
      ['not_tested', 'ping_ok', true],
      ['not_tested', 'ping_failed', false],
    ]);
    expect(node.history[1]!.reason).toContain('not applied: node was ping_ok');
    await store.close();
  });

  it('refuses a change that is not a transition of the status machine', async () => {
    const store = await Store.open(dir);
    const [n] = store.addNodes([fields(1)], null);
    const out = store.transition({ id: n!.id, from: 'not_tested', to: 'online', reason: 'x', actor: 't' });
    expect(out).toMatchObject({ ok: false, why: 'illegal' });
    expect(store.get(n!.id)!.status).toBe('not_tested');
    expect(store.transition({ id: 'n999', from: 'not_tested', to: 'ping_ok', reason: 'x', actor: 't' })).toEqual({ ok: false, why: 'not_found' });
    await store.close();
  });

  it('caps the history', async () => {
    const store = await Store.open(dir);
    const [n] = store.addNodes([fields(1)], null);
    for (let i = 0; i < HISTORY_LIMIT + 5; i++) {
      store.transition({ id: n!.id, from: 'not_tested', to: 'ping_failed', reason: `r${i}`, actor: 't' });
      store.transition({ id: n!.id, from: 'ping_failed', to: 'not_tested', reason: `back ${i}`, actor: 't' });
    }
    expect(store.get(n!.id)!.history).toHaveLength(HISTORY_LIMIT);
    expect(store.get(n!.id)!.history.at(-1)!.reason).toBe(`back ${HISTORY_LIMIT + 4}`);
    await store.close();
  });

  it('leases a node to one job at a time', async () => {
    const store = await Store.open(dir);
    const leases = new Leases();
    const ids = store.addNodes([fields(1), fields(2)], null).map((n) => n.id);
    expect(leases.lease(ids, 'j1')).toEqual({ taken: ids, busy: [] });
    expect(leases.lease(ids, 'j2')).toEqual({ taken: [], busy: ids });
    leases.release([ids[0]!], 'j2'); // not the holder: no effect
    expect(leases.holder(ids[0]!)).toBe('j1');
    leases.release(ids, 'j1');
    expect(leases.lease(ids, 'j2').taken).toEqual(ids);
    expect(store.deleteNodes(ids, leases.isLeased)).toEqual({ deleted: [], busy: ids });
    await store.close();
  });

  it('records a running job\'s progress through its own call, as a copy, and writes it with the next flush', async () => {
    const store = await Store.open(dir);
    const job = store.createJob({ kind: 'ping', actor: 't', selection: 'all', total: 10 });
    const counts: Record<string, number> = { ok: 2, refused: 1 };
    store.recordJobProgress(job.id, { done: 3, counts });
    counts.ok = 99; // the caller's own tally: the store keeps what it was handed
    expect(store.jobs().find((j) => j.id === job.id)).toMatchObject({ state: 'running', done: 3, counts: { ok: 2, refused: 1 } });
    await store.flush();
    const written = JSON.parse(await readFile(join(dir, 'connexa.json'), 'utf8')) as { jobs: Array<{ id: string; done: number; counts: Record<string, number> }> };
    expect(written.jobs.find((j) => j.id === job.id)).toMatchObject({ done: 3, counts: { ok: 2, refused: 1 } });
    await store.close();
  });

  it('marks running jobs interrupted on restart and keeps committed results', async () => {
    const store = await Store.open(dir);
    const [n] = store.addNodes([fields(1)], null);
    const job = store.createJob({ kind: 'ping', actor: 't', selection: 'all', total: 10 });
    store.updateJob(job.id, { done: 4 });
    store.transition({ id: n!.id, from: 'not_tested', to: 'ping_ok', reason: 'ok', actor: job.id });
    await store.flush();
    // Simulate a crash: no close(); what the next process finds is the file as written and a pid
    // file naming a dead process (the crashed process's lock itself dies with it).
    const after = join(dir, 'after-crash');
    await mkdir(after);
    await copyFile(join(dir, 'connexa.json'), join(after, 'connexa.json'));
    await writeFile(join(after, 'connexa.lock'), '999999');
    const again = await Store.open(after);
    expect(again.openReport.interruptedJobs).toEqual([job.id]);
    expect(again.jobs()[0]).toMatchObject({ state: 'interrupted', done: 4, note: 'interrupted by a restart after 4 of 10' });
    expect(again.get(n!.id)!.status).toBe('ping_ok');
    await again.close();
    await store.close();
  });

  it('refuses a second opener on the same data directory', async () => {
    const store = await Store.open(dir);
    await expect(Store.open(dir)).rejects.toThrow(StoreLocked);
    await store.close();
  });

  it('stops on a corrupted file and never overwrites it', async () => {
    const path = join(dir, 'connexa.json');
    for (const bad of ['{"version":1,"nodes":[', '[]', '{"version":1,"meta":{},"nodes":"x","jobs":[],"settings":{}}', '{"version":99}']) {
      await writeFile(path, bad);
      await expect(Store.open(dir)).rejects.toThrow(StoreFileCorrupt);
      expect(await readFile(path, 'utf8')).toBe(bad);
    }
    await expect(Store.open(dir)).rejects.toThrow(/newer Connexa/);
  });

  it('migrates a version-0 file (a bare node list) and writes it back at the current version', async () => {
    const store = await Store.open(dir);
    const [n] = store.addNodes([fields(7)], null);
    await store.close();
    const v1 = JSON.parse(await readFile(join(dir, 'connexa.json'), 'utf8'));
    await writeFile(join(dir, 'connexa.json'), JSON.stringify({ nodes: v1.nodes }));
    const again = await Store.open(dir);
    expect(again.openReport.migratedFrom).toBe(0);
    expect(again.get(n!.id)!.ip).toBe('10.0.0.7');
    expect(again.addNodes([fields(8)], null)[0]!.id).toBe('n2');
    await again.close();
    expect(JSON.parse(await readFile(join(dir, 'connexa.json'), 'utf8')).version).toBe(STORE_VERSION);
  });

  it('reads a version-2 file (before geo): its nodes are not located yet and keep their speed results', async () => {
    const store = await Store.open(dir);
    const [n] = store.addNodes([fields(9)], null);
    await store.close();
    const v3 = JSON.parse(await readFile(join(dir, 'connexa.json'), 'utf8'));
    const old = { ...v3, version: 2, nodes: v3.nodes.map(({ geo: _geo, ...rest }: Record<string, unknown>) => ({ ...rest, speed: { downMbps: 12.5, upMbps: null, error: null, checkedAt: '2026-01-01T00:00:00.000Z' } })) };
    expect(old.nodes[0]).not.toHaveProperty('geo');
    await writeFile(join(dir, 'connexa.json'), JSON.stringify(old));
    const again = await Store.open(dir);
    expect(again.openReport.migratedFrom).toBe(2);
    expect(again.get(n!.id)!.geo).toBeNull();
    expect(again.get(n!.id)!.speed).toMatchObject({ downMbps: 12.5 });
    expect(again.get(n!.id)!.speed!.exitIp ?? null).toBeNull();
    await again.close();
    expect(JSON.parse(await readFile(join(dir, 'connexa.json'), 'utf8')).version).toBe(STORE_VERSION);
  });

  it('migrates a version-1 file by adding the audit trail', async () => {
    const store = await Store.open(dir);
    store.addNodes([fields(1)], null);
    await store.close();
    const v2 = JSON.parse(await readFile(join(dir, 'connexa.json'), 'utf8'));
    delete v2.audit;
    await writeFile(join(dir, 'connexa.json'), JSON.stringify({ ...v2, version: 1 }));
    const again = await Store.open(dir);
    expect(again.openReport.migratedFrom).toBe(1);
    expect(again.audit()).toEqual([]);
    expect(again.nodes()).toHaveLength(1);
    await again.close();
  });

  it('applies the duplicate rules of an import', async () => {
    const store = await Store.open(dir);
    const first = applyImport(store, [fields(1), fields(2)], 'a');
    expect(first).toMatchObject({ added: 2, updated: 0, duplicate: 0 });
    const second = applyImport(
      store,
      [
        fields(1), // same ip+login+password: duplicate
        { ...fields(2), password: 'new' }, // same ip+login, new password: update
        { ...fields(1), login: 'other' }, // same ip, other login: a new account
        { ...fields(1), login: 'other' }, // repeated within the file: duplicate
        { ...fields(1), login: 'other', password: 'changed', line: 5 }, // repeated with a new password: a conflict, the last wins
      ].map((r, i) => ({ line: i + 1, ...r })),
      'b',
    );
    expect(second).toMatchObject({ added: 1, updated: 1, duplicate: 2, conflicts: [{ ip: '10.0.0.1', login: 'other', lines: [3, 5] }] });
    expect(store.onIp('10.0.0.2')[0]!.password).toBe('new');
    expect(store.onIp('10.0.0.1').map((n) => [n.login, n.password])).toEqual([
      ['u1', 'p1'],
      ['other', 'changed'],
    ]);
    await store.close();
  });

  it('reports an account given different passwords within one file as a conflict, naming the line that won', async () => {
    const store = await Store.open(dir);
    applyImport(store, [fields(1)], 'a');
    const r = applyImport(
      store,
      [
        { ...fields(1), password: 'first', line: 2 }, // updates the stored node
        { ...fields(1), password: 'second', line: 4 },
        { ...fields(1), password: 'second', line: 6 }, // same as the one before: a duplicate
        { ...fields(2), password: 'a', line: 7 }, // a new account...
        { ...fields(2), password: 'b', line: 9 }, // ...given another password further down
        { ...fields(2), password: 'c', line: 11 },
      ],
      'b',
    );
    expect(r).toMatchObject({ added: 1, updated: 1, duplicate: 1 });
    expect(r.conflicts).toEqual([
      { ip: '10.0.0.1', login: 'u1', lines: [2, 4] },
      { ip: '10.0.0.2', login: 'u2', lines: [7, 9, 11] },
    ]);
    expect(store.onIp('10.0.0.1')[0]!.password).toBe('second');
    expect(store.onIp('10.0.0.2')[0]!.password).toBe('c');
    expect(r.updatedNodes.map((n) => n.ip)).toEqual(['10.0.0.1']);
    expect(r.addedNodes.map((n) => [n.ip, n.password])).toEqual([['10.0.0.2', 'c']]);
    await store.close();
  });
});
