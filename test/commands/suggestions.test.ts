/** What autocomplete (Discord) and `help` (Slack) offer, from a known set of nodes. */
import { describe, expect, it } from 'vitest';
import { gateway } from '../../commands/gateways.ts';
import { move } from '../../commands/move.ts';
import { ping } from '../../commands/ping.ts';
import { start } from '../../commands/start.ts';
import { filterSuggestions, gatewayActionSuggestions, gatewayNames, nodeSuggestions, seenLines, seenValues } from '../../commands/suggestions.ts';
import type { CommandServices } from '../../src/app.ts';
import { newNode } from '../../src/fleet/node.ts';
import { GatewayDirectory } from '../../src/gateway/directory.ts';
import { StandInGateway } from '../gateway/stand-in-gateway.ts';
import { OPERATOR, testApp } from '../kit/app.ts';

const nodes = [
  { ip: '203.0.113.1', country: 'US', provider: 'Acme', city: 'New York' },
  { ip: '203.0.113.2', country: 'us', provider: 'Acme' },
  { ip: '198.51.100.7', country: 'DE', provider: 'Beta' },
].map((f, i) => newNode(`n${i + 1}`, { login: 'u', password: 'p', ...f }, null, '2026-01-01T00:00:00.000Z'));

describe('suggestions', () => {
  it('counts the values seen, case-insensitively, most common first', () => {
    expect(seenValues(nodes, 'country')).toEqual([['US', 2], ['DE', 1]]);
    expect(seenLines(nodes)).toContain('• `country:US` 2, `country:DE` 1');
    expect(seenLines(nodes)).toContain('• `city:New_York` 1');
    expect(seenLines([])).toEqual(['The store has no nodes yet.']);
  });

  it('completes the last word of a filter: a key, a value of it (after a comma too), a node', () => {
    expect(filterSuggestions(nodes, 'co')).toEqual(['co', 'country:']);
    expect(filterSuggestions(nodes, 'status:ping_ok,sp')).toEqual(['status:ping_ok,speed_ok']);
    expect(filterSuggestions(nodes, 'limit:5 provider:')).toEqual(['limit:5 provider:Acme', 'limit:5 provider:Beta']);
    // City names with spaces would need quotes: they are listed by help, not completed.
    expect(filterSuggestions(nodes, 'city:')).toEqual([]);
    expect(filterSuggestions(nodes, '198')).toEqual(['198', '198.51.100.7']);
    expect(filterSuggestions(nodes, 'ip:203')).toEqual(['ip:203.0.113.1', 'ip:203.0.113.2']);
    expect(nodeSuggestions(nodes, 'N')).toEqual(['n1', 'n2', 'n3']);
  });
});

describe('gateway names', () => {
  /** A directory as the bot keeps it: the local gateway, and remote ones known by their heartbeats. */
  async function services(): Promise<CommandServices> {
    const directory = new GatewayDirectory({ deadAfterMs: 30_000, connect: null, drained: { get: () => [], set: () => {} }, events: { down: () => {}, up: () => {} } });
    directory.addLocal(new StandInGateway('local'));
    for (const name of ['fra-1', 'fra-2', 'sgp-1']) {
      const port = new StandInGateway(name);
      directory.heartbeat({ name, sentAt: new Date().toISOString(), bootId: `boot-${name}`, description: await port.describe(), running: [] });
    }
    return { gateways: { directory, defaultGateway: 'local' } } as unknown as CommandServices;
  }

  it('come from the directory, the local one first', async () => {
    expect(gatewayNames(await services())).toEqual(['local', 'fra-1', 'fra-2', 'sgp-1']);
  });

  it('are offered for gateway= and from= values, the gateway: filter key and gateway drain|undrain <name>', async () => {
    const s = await services();
    expect(start.suggest!('option:gateway', 'fr', s)).toEqual(['fra-1', 'fra-2']);
    expect(move.suggest!('option:gateway', '', s)).toEqual(['local', 'fra-1', 'fra-2', 'sgp-1']);
    expect(ping.suggest!('option:from', 's', s)).toEqual(['sgp-1']);
    expect(ping.suggest!('option:confirm', '', s)).toEqual([]);
    expect([start.suggestOptions, move.suggestOptions, ping.suggestOptions]).toEqual([['gateway'], ['gateway'], ['from']]);
    expect(filterSuggestions(nodes, 'country:US gateway:f', gatewayNames(s))).toEqual(['country:US gateway:fra-1', 'country:US gateway:fra-2']);
    expect(filterSuggestions(nodes, 'gateway:local,s', gatewayNames(s))).toEqual(['gateway:local,sgp-1']);
    expect(gateway.suggest!('positional', 'dr', s)).toEqual(['drain local', 'drain fra-1', 'drain fra-2', 'drain sgp-1']);
    expect(gateway.suggest!('positional', 'undrain f', s)).toEqual(['undrain fra-1', 'undrain fra-2']);
    expect(gatewayActionSuggestions(['a'], '')).toEqual(['drain a', 'undrain a']);
    expect(gatewayActionSuggestions(['a'], 'drain a extra')).toEqual([]);
  });

  it('are listed by `help` (Slack has no autocomplete) where a command takes one', async () => {
    const t = await testApp();
    try {
      await t.run('help ping', OPERATOR);
      expect(t.port.privateText()).toContain('Gateways now (for `gateway:`, `from=`): `local`');
      t.port.clear();
      await t.run('help gateway', OPERATOR);
      expect(t.port.privateText()).toContain('Gateways now (for `<name>`): `local`');
      t.port.clear();
      await t.run('help stats', OPERATOR);
      expect(t.port.privateText()).not.toContain('Gateways now');
    } finally {
      await t.dispose();
    }
  });
});
