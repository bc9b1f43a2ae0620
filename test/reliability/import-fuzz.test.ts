// 10,000 mutated and random inputs through the whole import path (dispatcher -> import command ->
// parser -> store): no crash, no exception escapes, every outcome is ok or a clear refusal, and a
// refused file leaves the store exactly as it was. FUZZ_SEED replays.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fileOf, OPERATOR, testApp, type TestApp } from '../kit/app.ts';
import { seededRandom as rng } from '../kit/random.ts';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const INPUTS = Number(process.env.FUZZ_INPUTS ?? 10_000);


const SEEDS = [
  '203.0.113.5:u1:p1\n',
  '203.0.113.5 u1 p1 OH\n',
  '203.0.113.5 - u1:p1 - Ohio/Akron 44301 | 2025-09-03 10:00:00\n',
  '203.0.113.5:u1:p1:US:Ohio:44301\n',
  'Ip: 203.0.113.5\nLogin: u1\nPass: p1\nState: Ohio\nCity: Akron\nZip: 44301\n',
  '> PPTP_SVOIM_VPN:\n🚨 PPTP Connection\nIP: 203.0.113.5\nCredentials: u1:p1\nLocation: US (Ohio, Akron)\nZIP: 44301\n',
  'ip,login,password,city\n203.0.113.5,u1,"p,1",Akron\n"203.0.113.6",u2,"p ""q""","New\nYork"\n',
  '# comment\r\n// other\r\n\r\n-----\r\n203.0.113.9:a:b\r\n',
];
const NASTY = ['\u0000', '\uFEFF', '\uFFFD', '\u202E', '😀', '<script>', '"', "'", ':', ',', '\t', '\r', '\n', '-----', '999', '.', '0.0.0.0', '1.2.3', '\\', '%s', '${x}', 'Ip:', 'Login:', '|'];

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => {
  await t.dispose();
});

function mutate(rand: () => number): Buffer {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const kind = rand();
  if (kind < 0.1) return Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
  if (kind < 0.15) return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(pick(SEEDS), 'utf16le')]);
  let text = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(SEEDS)).join(rand() < 0.5 ? '' : '\n');
  const edits = Math.floor(rand() * 6);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rand() * (text.length + 1));
    const op = rand();
    if (op < 0.4) text = text.slice(0, at) + pick(NASTY) + text.slice(at);
    else if (op < 0.7) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(rand() * 5));
    else if (op < 0.85) text = text.slice(0, at) + 'x'.repeat(Math.floor(rand() * 2000)) + text.slice(at);
    else text = text.slice(0, at) + String.fromCharCode(Math.floor(rand() * 0x3000)) + text.slice(at);
  }
  return Buffer.from(text, rand() < 0.05 ? 'latin1' : 'utf8');
}

const fingerprint = (app: TestApp) => createHash('sha1').update(JSON.stringify(app.app.store.nodes())).digest('hex');

it(`survives ${INPUTS.toLocaleString('en-US')} mutated and random imports (seed ${SEED})`, async () => {
  const rand = rng(SEED);
  const outcomes: Record<string, number> = {};
  for (let i = 0; i < INPUTS; i++) {
    // Keep the store small so that comparing it before and after stays cheap.
    if (t.app.store.nodes().length > 200) t.app.store.deleteNodes(t.app.store.nodes().map((n) => n.id), t.app.jobs.leases.isLeased);
    const input = mutate(rand);
    const before = fingerprint(t);
    t.port.clear();
    const out = await t.run('import', OPERATOR, [fileOf(`fuzz-${i}.txt`, input)]);
    outcomes[out.kind] = (outcomes[out.kind] ?? 0) + 1;
    expect(['ok', 'failed'], `seed ${SEED} input ${i}: ${out.kind} ${JSON.stringify(out)}`).toContain(out.kind);
    if (out.kind === 'failed') {
      expect(fingerprint(t), `seed ${SEED} input ${i}: a refused file changed the store`).toBe(before);
      expect(out.message).toMatch(/Nothing was imported/);
    } else {
      expect(t.port.publicText()).toMatch(/Imported \*\*fuzz-\d+\.txt\*\*: \*\*\d+ added\*\*, \d+ updated, \d+ duplicate(?:, \d+ in conflict)?, \d+ rejected/);
    }
  }
  expect(t.logs.filter((l) => l.includes('command crashed'))).toEqual([]);
  console.log(`import fuzz: seed ${SEED}, ${INPUTS} inputs, outcomes ${JSON.stringify(outcomes)}`);
}, 300_000);
