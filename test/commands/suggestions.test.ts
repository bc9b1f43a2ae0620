/** What autocomplete (Discord) and `help` (Slack) offer, from a known set of nodes. */
import { describe, expect, it } from 'vitest';
import { filterSuggestions, nodeSuggestions, seenLines, seenValues } from '../../commands/suggestions.ts';
import { newNode } from '../../src/fleet/node.ts';

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
