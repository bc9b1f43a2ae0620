// A big import yields to the event loop while it is parsed and applied, with the same outcome.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseImport, parseImportSliced } from '../../src/fleet/import/index.ts';
import { applyImport, applyImportSliced } from '../../src/store/apply-import.ts';
import { Store } from '../../src/store/store.ts';
import { splitLines, splitLinesSliced } from '../../src/fleet/import/text.ts';
import { seededRandom } from '../kit/random.ts';
import { useTempDir } from '../kit/temp-dir.ts';

/** Counts event-loop turns (setImmediate callbacks) until stopped. */
function loopTurns(): { stop(): number } {
  let turns = 0;
  let on = true;
  const spin = () => {
    if (!on) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  return {
    stop() {
      on = false;
      return turns;
    },
  };
}

function bigFile(n: number): string {
  const out: string[] = ['# generated', 'ip,login,password,comment'];
  for (let i = 0; i < n; i++) {
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) || 1}`;
    out.push(i % 3 === 0 ? `${ip},u${i},p${i},"two\nlines"` : `${ip},u${i},p${i},`);
  }
  out.push('', ...Array.from({ length: n }, (_, i) => (i % 4 === 0 ? `10.200.0.${(i % 250) + 1} u${i} p${i} OH` : `10.201.${(i >> 8) & 255}.${(i & 255) || 1}:u${i}:p${i}`)));
  out.push('999.1.1.1:x:y', '10.0.0.1:u0:other-password');
  return `${out.join('\n')}\n`;
}

const tmp = useTempDir('cnx-sliced-');

describe('a big import does not hold the event loop', () => {
  it('parses in slices that yield, with exactly the outcome of the one-piece parser', async () => {
    const text = bigFile(20_000);
    const whole = parseImport(text);
    const turns = loopTurns();
    const sliced = await parseImportSliced(text);
    expect(turns.stop()).toBeGreaterThan(1);
    expect(sliced).toStrictEqual(whole);
  });

  it('splits lines in slices exactly as in one piece (CRLF, CR, LF, a final break or none)', async () => {
    const rnd = seededRandom(7);
    const parts = ['a', 'bc', '', ' ', '\r\n', '\r', '\n', '\n\r', '😀'];
    for (let k = 0; k < 50; k++) {
      let text = '';
      const n = Math.floor(rnd() * 30_000);
      for (let i = 0; i < n; i++) text += parts[Math.floor(rnd() * parts.length)]!;
      let pauses = 0;
      const sliced = await splitLinesSliced(text, -1, async () => {
        pauses++;
      });
      expect(sliced).toEqual(splitLines(text));
      if (sliced.length > 4096) expect(pauses).toBeGreaterThan(0);
    }
  });

  it('applies in slices that yield, with the result of applyImport, and two imports at once do not interleave', async () => {
    const parsed = parseImport(bigFile(20_000));
    if (!parsed.ok) throw new Error(parsed.reason);
    const one = await Store.open(join(tmp.path, 'one'));
    const expected = applyImport(one, parsed.records, 'f');
    const two = await Store.open(join(tmp.path, 'two'));
    const turns = loopTurns();
    const [a, b] = await Promise.all([applyImportSliced(two, parsed.records, 'f'), applyImportSliced(two, parsed.records, 'f')]);
    expect(turns.stop()).toBeGreaterThan(1);
    const counts = (r: typeof a) => [r.added, r.updated, r.duplicate, r.conflicts];
    expect(counts(a)).toEqual(counts(expected));
    // The second saw everything the first added: all duplicates (conflicts settle on the last password).
    expect(b.added).toBe(0);
    expect(two.nodes().map((n) => [n.ip, n.login, n.password])).toEqual(one.nodes().map((n) => [n.ip, n.login, n.password]));
    await one.close();
    await two.close();
  });
});
