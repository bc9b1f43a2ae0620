import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GeoLocation } from '../../src/geo/location.ts';
import { STORE_VERSION } from '../../src/store/schema.ts';
import { Store, StoreFileCorrupt } from '../../src/store/store.ts';
import { useTempDir } from '../kit/temp-dir.ts';

const tmp = useTempDir('cnx-places-');

const fields = (i: number) => ({ ip: `10.0.${i >> 8}.${i & 255}`, login: `u${i}`, password: `p${i}` });
const at = (city: string): GeoLocation => ({ country: 'PL', region: 'Łódź Voivodeship', city, asn: 64500, asOrg: 'Example', source: 'test db' });
const speed = (exitGeo: GeoLocation | null) => ({ downMbps: 10, upMbps: 2, error: null, checkedAt: '2026-01-01T00:00:00.000Z', exitIp: exitGeo ? '198.51.100.1' : null, exitGeo });
const file = async () => JSON.parse(await readFile(join(tmp.path, 'connexa.json'), 'utf8'));

describe('the store file writes each place once', () => {
  it('nodes refer to a table of places (geo and exit geo); reopened, they share one object per place', async () => {
    const store = await Store.open(tmp.path);
    const [a, b, c, d] = store.addNodes([{ ...fields(1), geo: at('Łódź') }, { ...fields(2), geo: at('Łódź') }, { ...fields(3), geo: at('Kraków') }, fields(4)], 'a.txt');
    store.patchNode(b!.id, { speed: speed(at('Kraków')) });
    store.patchNode(d!.id, { speed: speed(null) });
    const inMemory = JSON.parse(JSON.stringify(store.nodes()));
    await store.close();

    const text = await readFile(join(tmp.path, 'connexa.json'), 'utf8');
    expect(text).not.toMatch(/[^\x00-\xff]/);
    const raw = JSON.parse(text);
    expect(raw.version).toBe(STORE_VERSION);
    expect(raw.places).toEqual([at('Łódź'), at('Kraków')]);
    expect(raw.nodes.map((n: { geo: unknown; speed: { exitGeo?: unknown } | null }) => [n.geo, n.speed?.exitGeo])).toEqual([
      [0, undefined],
      [0, 1],
      [1, undefined],
      [null, null],
    ]);
    expect(text.match(/Krak/g)).toHaveLength(1);

    const again = await Store.open(tmp.path);
    expect(JSON.parse(JSON.stringify(again.nodes()))).toEqual(inMemory);
    const [a2, b2, c2] = again.nodes();
    expect(a2!.geo).toBe(b2!.geo);
    expect(c2!.geo).toBe(b2!.speed!.exitGeo);
    expect(a2!.geo).not.toBe(c2!.geo);
    expect(a2!.id).toBe(a!.id);
    expect(c2!.id).toBe(c!.id);
    await again.close();
  });

  it('keeps indexes stable across writes: a cached node and a newly placed one read back right', async () => {
    const store = await Store.open(tmp.path, { flushDelayMs: 10 });
    const [a, b] = store.addNodes([{ ...fields(1), geo: at('Łódź') }, fields(2)], 'a.txt');
    await store.flush();
    store.patchNode(b!.id, { geo: at('Gdańsk') });
    store.patchNode(a!.id, { comment: 'x' });
    store.addNodes([{ ...fields(3), geo: at('Łódź') }], 'b.txt');
    await store.flush();
    expect((await file()).nodes.map((n: { geo: unknown }) => n.geo)).toEqual([0, 1, 0]);
    const inMemory = JSON.parse(JSON.stringify(store.nodes()));
    await store.close();
    const again = await Store.open(tmp.path);
    expect(JSON.parse(JSON.stringify(again.nodes()))).toEqual(inMemory);
    await again.close();
  });

  it('a place given while a write streams is in the table of the next write, and the first write is whole', async () => {
    const store = await Store.open(tmp.path, { flushDelayMs: 10_000 });
    const nodes = store.addNodes(Array.from({ length: 3000 }, (_, i) => ({ ...fields(i), geo: at(i % 2 ? 'Łódź' : 'Kraków') })), 'a');
    const before = JSON.parse(JSON.stringify(store.nodes()));
    const writing = store.flush();
    store.patchNode(nodes[2990]!.id, { geo: at('Gdańsk') });
    store.patchNode(nodes[5]!.id, { speed: speed(at('Poznań')) });
    await writing;
    const raw = await file();
    expect(raw.nodes.map((n: { geo: number }) => raw.places[n.geo])).toEqual(before.map((n: { geo: unknown }) => n.geo));
    await store.flush();
    const inMemory = JSON.parse(JSON.stringify(store.nodes()));
    await store.close();
    const again = await Store.open(tmp.path);
    expect(JSON.parse(JSON.stringify(again.nodes()))).toEqual(inMemory);
    expect(again.nodes()[2990]!.geo!.city).toBe('Gdańsk');
    expect(again.nodes()[5]!.speed!.exitGeo!.city).toBe('Poznań');
    await again.close();
  });

  it('writes a frozen speed result (a caller\'s object) through a copy, leaving it as it was', async () => {
    const store = await Store.open(tmp.path);
    const [a] = store.addNodes([{ ...fields(1), geo: at('Łódź') }], 'a.txt');
    const result = Object.freeze(speed(Object.freeze(at('Kraków'))));
    store.patchNode(a!.id, { speed: result });
    const inMemory = JSON.parse(JSON.stringify(store.nodes()));
    await store.close();
    expect(result.exitGeo).toEqual(at('Kraków'));
    expect((await file()).nodes[0].speed.exitGeo).toBe(1);
    const again = await Store.open(tmp.path);
    expect(JSON.parse(JSON.stringify(again.nodes()))).toEqual(inMemory);
    await again.close();
  });

  it('reads a version-3 file (places inline) unchanged and rewrites it with the table', async () => {
    const store = await Store.open(tmp.path);
    store.addNodes([{ ...fields(1), geo: at('Łódź') }, { ...fields(2), geo: at('Łódź') }, fields(3)], 'a.txt');
    store.patchNode('n3', { speed: speed(at('Kraków')) });
    const inMemory = JSON.parse(JSON.stringify(store.nodes()));
    await store.close();
    const { places: _places, ...v4 } = await file();
    const v3 = { ...v4, version: 3, nodes: JSON.parse(JSON.stringify(inMemory)) };
    await writeFile(join(tmp.path, 'connexa.json'), JSON.stringify(v3));

    const again = await Store.open(tmp.path);
    expect(again.openReport.migratedFrom).toBe(3);
    expect(JSON.parse(JSON.stringify(again.nodes()))).toEqual(inMemory);
    expect(again.nodes()[0]!.geo).toBe(again.nodes()[1]!.geo);
    await again.close();
    const raw = await file();
    expect(raw.version).toBe(STORE_VERSION);
    expect(raw.places).toEqual([at('Łódź'), at('Kraków')]);
    expect(raw.nodes.map((n: { geo: unknown }) => n.geo)).toEqual([0, 0, null]);
  });

  it('stops on a place index the table does not have, and leaves the file untouched', async () => {
    const store = await Store.open(tmp.path);
    store.addNodes([{ ...fields(1), geo: at('Łódź') }], 'a.txt');
    await store.close();
    const raw = await file();
    raw.nodes[0].geo = 5;
    const text = JSON.stringify(raw);
    await writeFile(join(tmp.path, 'connexa.json'), text);
    await expect(Store.open(tmp.path)).rejects.toThrow(StoreFileCorrupt);
    await expect(Store.open(tmp.path)).rejects.toThrow(/nodes\.0\.geo refers to place 5/);
    expect(await readFile(join(tmp.path, 'connexa.json'), 'utf8')).toBe(text);
  });
});
