/**
 * A big import is located on the IP database's own thread (batch-locator.ts, locate-worker.ts), beside
 * the main thread's apply. What it finds must be exactly what the main thread's lookup finds; the main
 * thread does not open the database for it; a thread that fails costs nothing but time (the import is
 * located on the main thread, and the operator is told). Addresses are only looked up: no traffic.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchLocator } from '../../src/geo/batch-locator.ts';
import { ipDatabaseOpened, isUnroutedV4, locateIp } from '../../src/geo/ip-database.ts';
import { placeJsonOf, placeSerialOf, type GeoLocation, type Locate } from '../../src/geo/location.ts';
import { subscribe } from '../../src/ops/events.ts';
import { applyImportSliced } from '../../src/store/apply-import.ts';
import { latin1Json } from '../../src/store/latin1-json.ts';
import { Store } from '../../src/store/store.ts';
import { fileOf, OPERATOR, testApp, type TestApp } from '../kit/app.ts';

/** Public unicast addresses spread over the IPv4 space (a bijective hash; reserved blocks skipped). */
function publicAddresses(n: number, salt = 0): number[] {
  const out: number[] = [];
  for (let i = salt; out.length < n; i++) {
    const x = Math.imul(i + 1, 2654435761) >>> 0;
    if (!isUnroutedV4(x) && x >>> 24 !== 0) out.push(x);
  }
  return out;
}
const dotted = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
/** A GeoLocation's own fields, as a plain object (what JSON and the schema see). */
const plain = (g: GeoLocation | null | undefined) => (g ? { ...g } : g);

const tmp = mkdtempSync(join(tmpdir(), 'cnx-geo-thread-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('an import through the command, 400 lines', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('is located on the thread: the main thread never opens the database, an updated password in the same file is located too', async () => {
    const ips = publicAddresses(400).map(dotted);
    const [byHand] = t.app.store.addNodes([{ ip: ips[7]!, login: 'u7', password: 'old', country: null }], 'by hand');
    expect(byHand!.geo).toBeNull();
    const file = ips.map((ip, i) => `${ip}:u${i}:p${i}`).join('\n');
    const out = await t.run('import', OPERATOR, [fileOf('big.txt', file)]);
    expect(out.kind).toBe('ok');
    expect(t.port.publicText()).toMatch(/399 added\W+1 updated/);
    expect(ipDatabaseOpened()).toBe(false);
    expect(t.logs.join('\n')).not.toMatch(/IP database thread/);

    // The main thread's own lookup, opened only now, is the witness.
    const nodes = t.app.store.nodes();
    expect(nodes).toHaveLength(400);
    for (const n of nodes) expect(plain(n.geo), n.ip).toEqual(plain(locateIp(n.ip)));
    expect(t.app.store.get(byHand!.id)!.password).toBe('p7');
    expect(t.app.store.get(byHand!.id)!.geo!.source).toMatch(/^DB-IP Lite city/);
    expect(nodes.filter((n) => n.geo?.country).length).toBeGreaterThan(390);
  });

  it('writes each place once in the file, and the file reads back the same locations', async () => {
    await t.app.store.flush();
    const raw = JSON.parse(readFileSync(join(t.dir, 'data', 'connexa.json'), 'utf8')) as { places: unknown[]; nodes: Array<{ id: string; geo: number }> };
    const texts = raw.places.map((p) => JSON.stringify(p));
    expect(new Set(texts).size).toBe(texts.length);
    const inMemory = new Map(t.app.store.nodes().map((n) => [n.id, plain(n.geo)]));
    for (const n of raw.nodes) expect(raw.places[n.geo]).toEqual(inMemory.get(n.id));
    // A second store reading the first one's file: same locations, node by node.
    const dir2 = mkdtempSync(join(tmp, 'copy-'));
    writeFileSync(join(dir2, 'connexa.json'), readFileSync(join(t.dir, 'data', 'connexa.json')));
    const reread = await Store.open(dir2);
    for (const n of reread.nodes()) expect(plain(n.geo)).toEqual(inMemory.get(n.id));
    await reread.close();
  });
});

describe('BatchLocator', () => {
  it('answers as the main thread does, in order, one object per place, each with its file text and a serial', async () => {
    const locator = new BatchLocator();
    try {
      const ips = publicAddresses(3000, 5000);
      const located = await locator.locate(Uint32Array.from(ips));
      expect(located).toHaveLength(ips.length);
      const byText = new Map<string, GeoLocation>();
      let escaped = 0;
      for (let i = 0; i < ips.length; i++) {
        const g = located[i]!;
        expect(plain(g), dotted(ips[i]!)).toEqual(plain(locateIp.v4!(ips[i]!)));
        expect(Object.isFrozen(g)).toBe(true);
        const text = placeJsonOf(g)!;
        expect(text).toBe(latin1Json(JSON.stringify(g)));
        if (text.includes('\\u')) escaped++;
        // The same place is the same object.
        const seen = byText.get(text);
        if (seen) expect(g).toBe(seen);
        else byText.set(text, g);
      }
      expect(escaped).toBeGreaterThan(0); // a city beyond Latin-1 (Łódź, 東京) is written escaped
      const serials = [...byText.values()].map((g) => placeSerialOf(g));
      expect(new Set(serials).size).toBe(byText.size);
      // A second batch reuses the places it already sent.
      const again = await locator.locate(Uint32Array.from(ips.slice(0, 100)));
      for (let i = 0; i < 100; i++) expect(again[i]).toBe(located[i]);
    } finally {
      await locator.close();
    }
  });

  it('stops after its idle time and starts again on the next batch', async () => {
    const locator = new BatchLocator({ idleMs: 50 });
    try {
      const ips = Uint32Array.from(publicAddresses(10));
      const first = await locator.locate(ips.slice());
      expect(locator.started).toBe(true);
      const until = Date.now() + 10_000;
      while (locator.started && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(locator.started).toBe(false);
      const second = await locator.locate(ips.slice());
      expect(second.map(plain)).toEqual(first.map(plain));
    } finally {
      await locator.close();
    }
  });

  it('a batch awaited when the thread is closed is refused, not left hanging', async () => {
    const locator = new BatchLocator();
    const refused = expect(locator.locate(Uint32Array.from(publicAddresses(50_000)))).rejects.toThrow(/closed/);
    await locator.close();
    await refused;
  });
});

describe('a thread that fails', () => {
  it('refuses its batches; the import is located on the main thread instead, and a warning event says why', async () => {
    const broken = join(tmp, 'broken-worker.mjs');
    writeFileSync(broken, "throw new Error('no database here');\n");
    const locator = new BatchLocator({ url: pathToFileURL(broken) });
    await expect(locator.locate(Uint32Array.from([0x08080808]))).rejects.toThrow(/the IP database thread failed: no database here/);

    const reasons: string[] = [];
    const unsubscribe = subscribe('geo.fallback', (e) => reasons.push(e.reason));
    const dir = mkdtempSync(join(tmp, 'store-'));
    const store = await Store.open(dir);
    try {
      const locate: Locate = Object.assign((ip: string) => locateIp(ip), { v4: locateIp.v4, many: (ips: Uint32Array) => locator.locate(ips) });
      const records = publicAddresses(300, 9000).map((n, i) => ({ ip: dotted(n), login: `u${i}`, password: `p${i}` }));
      const applied = await applyImportSliced(store, records, 'x.txt', { locate });
      expect(applied.added).toBe(300);
      for (const n of store.nodes()) expect(plain(n.geo)).toEqual(plain(locateIp(n.ip)));
      expect(reasons).toEqual([expect.stringMatching(/no database here/)]);
    } finally {
      unsubscribe();
      await store.close();
      await locator.close();
    }
  });
});
