import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JsonObjectReader, JsonSyntaxError } from '../../src/store/json-stream.ts';
import { Store, StoreFileCorrupt, StoreOpenError } from '../../src/store/store.ts';
import { seededRandom } from '../kit/random.ts';
import { runConnexa } from '../kit/connexa-process.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnx-read-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

const fields = (i: number) => ({ ip: `10.0.${i >> 8}.${i & 255}`, login: `u${i}`, password: `p"\\${i}\u00e9` });

/** Feeds `text` in pieces of the given sizes (cycled). */
function readInPieces(text: string, sizes: number[]): Record<string, unknown> {
  const r = new JsonObjectReader();
  for (let at = 0, k = 0; at < text.length; k++) {
    const n = sizes[k % sizes.length]!;
    r.feed(text.slice(at, at + n));
    at += n;
  }
  return r.end();
}

describe('opening the store streams the file', () => {
  it('reopens a store in tiny chunks without ever parsing more than one node at a time', async () => {
    const store = await Store.open(dir);
    store.addNodes(Array.from({ length: 3000 }, (_, i) => fields(i)), 'a.txt');
    store.appendAudit({ at: 't', actor: 'a', platform: 'slack', command: 'stats', args: 'stats', outcome: 'ok', detail: null, ms: 1 });
    await store.close();
    const size = (await stat(join(dir, 'connexa.json'))).size;
    const expected = JSON.parse(await readFile(join(dir, 'connexa.json'), 'utf8'));
    const parse = vi.spyOn(JSON, 'parse');
    const again = await Store.open(dir, { readChunkBytes: 61 });
    const longest = Math.max(...parse.mock.calls.map((c) => String(c[0]).length));
    parse.mockRestore();
    expect(longest).toBeLessThan(1000);
    expect(size).toBeGreaterThan(300_000);
    expect(JSON.parse(JSON.stringify(again.nodes()))).toEqual(expected.nodes);
    expect(again.audit()).toEqual(expected.audit);
    await again.close();
  });

  it('reads any layout JSON.parse reads, in any chunking, and refuses what JSON.parse refuses', () => {
    const random = seededRandom(11);
    const texts = [
      '{}',
      ' { "a" : [ ] , "b":[1, -2.5e3 ,true,false,null,"x]\\"}",{"c":[[]]}] ,"c":{"d":"}"},"e":"\\u005d","f":0}\n',
      '{"__proto__":{"x":1},"nodes":[{"__proto__":2}]}',
      JSON.stringify({ version: 2, nodes: [{ s: 'a,b]}{"' }, { t: '\\' }], settings: { k: [1, { z: null }] } }, null, 2),
    ];
    for (const text of texts) {
      for (let round = 0; round < 30; round++) {
        const sizes = Array.from({ length: 5 }, () => 1 + Math.floor(random() * 9));
        expect(readInPieces(text, sizes)).toEqual(JSON.parse(text));
      }
    }
    expect(Object.getPrototypeOf(readInPieces(texts[2]!, [3]))).toBe(Object.prototype);
    for (const bad of ['', '[]', '{', '{"a":[1,]}', '{"a":1,}', '{"a" 1}', '{"a":[1 2]}', '{"a":tru}', '{"a":1}x', '{"a":"x}', '"s"', '{"a":[1]', '{1:2}']) {
      if (bad !== '[]' && bad !== '"s"') expect(() => JSON.parse(bad)).toThrow();
      for (const n of [1, 2, 100]) expect(() => readInPieces(bad, [n]), `${bad} in pieces of ${n}`).toThrow(JsonSyntaxError);
    }
  });

  it('gives one line, exit 2, for a store that cannot be read', async () => {
    const data = join(dir, 'data');
    await mkdir(data, { recursive: true });
    const cases: Array<[() => Promise<void>, RegExp]> = [
      [() => writeFile(join(data, 'connexa.json'), '{"version":2,"nodes":[{"id":'), /connexa\.json is not valid JSON \(the file ends in the middle of the data\); it was left untouched/],
      [async () => {
        await rm(join(data, 'connexa.json'));
        await mkdir(join(data, 'connexa.json'));
      }, /connexa\.json cannot be read: EISDIR/],
    ];
    for (const [make, message] of cases) {
      await make();
      const run = await runConnexa(['stats'], { cwd: dir, dataDir: data });
      expect(run.code).toBe(2);
      expect(run.out).toBe('');
      expect(run.err).toMatch(message);
      expect(run.err.trimEnd().split('\n')).toHaveLength(1);
    }
    await expect(Store.open(data)).rejects.toThrow(StoreOpenError);
    await rm(join(data, 'connexa.json'), { recursive: true });
    await writeFile(join(data, 'connexa.json'), '[]');
    await expect(Store.open(data)).rejects.toThrow(StoreFileCorrupt);
  });
});

