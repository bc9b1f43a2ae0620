import { describe, expect, it } from 'vitest';
import { ArgError, parseFilter, splitArgs, tokenize } from '../../src/chat/args.ts';
import { describeFilter, matchesFilter, selectNodes } from '../../src/fleet/filter.ts';
import { newNode, type FleetNode } from '../../src/fleet/node.ts';

const node = (over: Partial<FleetNode> & { ip: string }): FleetNode => ({ ...newNode('n1', { ip: over.ip, login: 'u', password: 'p' }, null, 't'), ...over });

describe('tokenize', () => {
  it('splits on spaces and keeps quoted values together, whatever quote was typed', () => {
    expect(tokenize('list city:"New York" state:\'New Mexico\' provider:“Acme Co”  limit:5')).toEqual(['list', 'city:New York', 'state:New Mexico', 'provider:Acme Co', 'limit:5']);
    expect(tokenize('  ')).toEqual([]);
    expect(tokenize('show ""')).toEqual(['show', '']);
  });
  it('refuses an unterminated quote', () => {
    expect(() => tokenize('list city:"New York')).toThrow(ArgError);
  });
});

describe('splitArgs', () => {
  it('separates options, filter terms and positionals', () => {
    expect(splitArgs(['status:ping_ok', 'format=csv', 'speed>5', '203.0.113.5'], 0)).toEqual({ positionals: [], options: { format: 'csv' }, filterTerms: ['status:ping_ok', 'speed>5', '203.0.113.5'] });
    expect(splitArgs(['203.0.113.5'], 1)).toEqual({ positionals: ['203.0.113.5'], options: {}, filterTerms: [] });
    expect(() => splitArgs(['format=csv', 'format=txt'], 0)).toThrow(/given twice/);
  });
});

describe('parseFilter', () => {
  it('parses every key of the grammar', () => {
    const f = parseFilter(['status:ping_ok,speed_ok', 'country:US', 'state:Ohio', 'city:Akron', 'provider:X', 'ip:203.0.113.', 'ip:198.51.100.0/24', 'zip:44301', 'speed>5', 'latency<=200', 'limit:100', '192.0.2.1', 'n7']);
    expect(f).toMatchObject({
      statuses: ['ping_ok', 'speed_ok'], countries: ['us'], states: ['ohio'], cities: ['akron'], providers: ['x'], zips: ['44301'],
      ipPrefixes: ['203.0.113.'], ips: ['192.0.2.1'], ids: ['n7'], limit: 100,
      comparisons: [{ field: 'speed', op: '>', value: 5 }, { field: 'latency', op: '<=', value: 200 }],
    });
    expect(f.cidrs).toEqual([{ text: '198.51.100.0/24', base: (198 * 2 ** 24 + 51 * 2 ** 16 + 100 * 256) >>> 0, mask: 0xffffff00 }]);
  });

  it('explains what was wrong', () => {
    expect(() => parseFilter(['status:pinged'])).toThrow(/status:pinged is not a status; statuses are not_tested/);
    expect(() => parseFilter(['colour:red'])).toThrow(/unknown filter key "colour"/);
    expect(() => parseFilter(['ip:1.2.3.4/33'])).toThrow(/not a CIDR block/);
    expect(() => parseFilter(['ip:999.1.1.1'])).toThrow(/not a valid IPv4 address/);
    expect(() => parseFilter(['limit:0'])).toThrow(/at least 1/);
    expect(() => parseFilter(['weight>3'])).toThrow(/comparisons work on speed, up, latency/);
    expect(() => parseFilter(['<script>'])).toThrow(/is not a filter term/);
    expect(() => parseFilter(['country:'])).toThrow(/needs a value/);
  });

  it('matches nodes: keys ANDed, values ORed, an exact IP is not a prefix', () => {
    const a = node({ ip: '203.0.113.1', country: 'US', state: 'Ohio', status: 'ping_ok' });
    const b = node({ ip: '203.0.113.10', country: 'us', state: 'Texas', status: 'speed_ok', speed: { downMbps: 12, upMbps: 3, error: null, checkedAt: 't' } });
    const c = node({ ip: '198.51.100.200', country: 'CA', status: 'ping_failed' });
    const all = [a, b, c];
    const sel = (...terms: string[]) => selectNodes(all, parseFilter(terms)).map((n) => n.ip);
    expect(sel('203.0.113.1')).toEqual(['203.0.113.1']);
    expect(sel('ip:203.0.113.')).toEqual(['203.0.113.1', '203.0.113.10']);
    expect(sel('ip:198.51.100.128/25')).toEqual(['198.51.100.200']);
    expect(sel('country:US', 'state:ohio,texas')).toEqual(['203.0.113.1', '203.0.113.10']);
    expect(sel('status:ping_ok,ping_failed')).toEqual(['203.0.113.1', '198.51.100.200']);
    expect(sel('speed>5')).toEqual(['203.0.113.10']);
    expect(sel('speed>50')).toEqual([]);
    expect(sel('limit:1')).toEqual(['203.0.113.1']);
    expect(matchesFilter(c, parseFilter(['ip:203.0.113.1', 'ip:198.51.100.0/24']))).toBe(true);
  });

  it('a partial IP selects whole octets, never a longer octet that starts the same', () => {
    const ips = ['10.1.0.1', '10.1.200.7', '10.15.0.1', '10.150.3.4', '10.10.1.1', '110.1.2.3', '10.1.15.9', '10.1.150.9'];
    const all = ips.map((ip) => node({ ip }));
    const sel = (...terms: string[]) => selectNodes(all, parseFilter(terms)).map((n) => n.ip);
    expect(sel('ip:10.1')).toEqual(['10.1.0.1', '10.1.200.7', '10.1.15.9', '10.1.150.9']);
    expect(sel('ip:10.1.')).toEqual(sel('ip:10.1'));
    expect(sel('ip:10.1.15')).toEqual(['10.1.15.9']);
    expect(sel('ip:10.1.1')).toEqual([]);
    expect(sel('ip:10')).toEqual(ips.filter((ip) => ip.startsWith('10.')));
    expect(sel('ip:1')).toEqual([]);
    expect(sel('ip:010.001')).toEqual(sel('ip:10.1'));
    expect(describeFilter(parseFilter(['ip:10.1']))).toBe('ip:10.1.');
    expect(() => parseFilter(['ip:10.300'])).toThrow(/octet is over 255/);
    // A filter built without the parser (a stored selection) matches whole octets too.
    expect(matchesFilter(node({ ip: '10.15.0.1' }), { ipPrefixes: ['10.1'] })).toBe(false);
    expect(matchesFilter(node({ ip: '10.1.0.1' }), { ipPrefixes: ['10.1'] })).toBe(true);
  });
});
