/**
 * Probes a simulated fleet of 500 servers (on a loopback block of its own) at concurrency 100 and checks that every
 * outcome matches the behaviour the seed gave the server.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { probePolicy } from '../../src/probes/pptp/policy.ts';
import { probePptp, type PptpOutcome, type PptpProbeResult } from '../../src/probes/pptp/probe.ts';
import { parseImport } from '../../src/fleet/import/index.ts';
import { behaviourCounts, loopbackAddresses, planSimFleet, simImportText, type SimBehaviour } from '../sim/fleet.ts';
import { useSimFleet } from '../kit/sim-fleet.ts';
import { mapLimit } from '../sim/probe-all.ts';

/** The servers here listen on loopback, which the probe refuses unless told (PROBE_ALLOW). */
const LOOPBACK = probePolicy('127.0.0.0/8');

const EXPECTED: Record<SimBehaviour, PptpOutcome> = {
  good: 'ok',
  slow: 'ok',
  silent: 'timeout_reply',
  rejecting: 'rejected',
  garbage: 'not_pptp',
  closed: 'refused',
};

describe('sim fleet planning', () => {
  it('is deterministic per seed and follows the mix exactly', () => {
    const mix = { good: 0.7, closed: 0.1, silent: 0.1, slow: 0.05, garbage: 0.05 };
    const a = planSimFleet({ count: 2336, seed: 5, mix });
    const b = planSimFleet({ count: 2336, seed: 5, mix });
    const c = planSimFleet({ count: 2336, seed: 6, mix });
    expect(a).toEqual(b);
    expect(a.map((s) => s.behaviour)).not.toEqual(c.map((s) => s.behaviour));
    expect(behaviourCounts(2336, mix)).toEqual({ good: 1635, slow: 117, silent: 234, rejecting: 0, garbage: 117, closed: 233 });
    const counted = new Map<string, number>();
    for (const s of a) counted.set(s.behaviour, (counted.get(s.behaviour) ?? 0) + 1);
    expect(Object.fromEntries(counted)).toMatchObject({ good: 1635, slow: 117, silent: 234, garbage: 117, closed: 233 });
    expect(new Set(a.map((s) => s.ip)).size).toBe(2336);
    expect(a.every((s) => /^[A-Za-z0-9]+$/.test(s.login) && !/[:\s#]/.test(s.password))).toBe(true);
  });

  it('skips .0 and .255 and stays inside 127.0.0.0/8', () => {
    expect(loopbackAddresses('127.0.1.253', 4)).toEqual(['127.0.1.253', '127.0.1.254', '127.0.2.1', '127.0.2.2']);
    expect(loopbackAddresses('127.0.1.1', 15_000).at(-1)).toBe('127.0.60.14');
    expect(() => loopbackAddresses('10.0.0.1', 1)).toThrow(/not inside 127\.0\.0\.0\/8/);
  });

  it('writes a format 7 import file that the importer reads back as exactly its servers', () => {
    const servers = planSimFleet({ count: 300, seed: 1, mix: { good: 1, closed: 1, silent: 1 }, basePort: 1724 });
    const text = simImportText(servers, 'a header');
    const [header, note, ...data] = text.split('\n');
    expect([header, note]).toEqual(['# a header', '# NOTE: these servers listen on port(s) 1724, format 7 carries no port']);
    expect(data).toEqual([...servers.map((s) => `${s.ip}:${s.login}:${s.password}`), '']);
    const parsed = parseImport(text);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.rejected).toEqual([]);
    expect(parsed.skipped).toBe(2);
    expect(parsed.records.map((r) => ({ ip: r.ip, login: r.login, password: r.password }))).toEqual(
      servers.map((s) => ({ ip: s.ip, login: s.login, password: s.password })),
    );
  });
});

describe('probing a sim fleet of 500 servers at concurrency 100', () => {
  const fleet = useSimFleet({ count: 500, seed: 2024, mix: { good: 0.6, slow: 0.08, silent: 0.08, rejecting: 0.08, garbage: 0.08, closed: 0.08 }, slowDelayMs: 200 }, 60_000);
  let results: PptpProbeResult[];
  let wallMs = 0;

  beforeAll(async () => {
    const t0 = performance.now();
    results = await mapLimit(fleet.servers, 100, (s) => probePptp({ host: s.ip, port: s.port }, { policy: LOOPBACK, timeoutMs: 1000, retries: 1 }));
    wallMs = performance.now() - t0;
  }, 60_000);

  it('every outcome matches the seeded behaviour', () => {
    const mismatches = fleet.servers
      .map((s, i) => ({ s, r: results[i]! }))
      .filter(({ s, r }) => r.outcome !== EXPECTED[s.behaviour])
      .map(({ s, r }) => `${s.ip} ${s.behaviour}: ${r.outcome} ${r.reason ?? ''}`);
    expect(mismatches).toEqual([]);
    expect(wallMs).toBeGreaterThan(0);
  });

  it('decoded fields match what each server sent', () => {
    fleet.servers.forEach((s, i) => {
      const r = results[i]!;
      if (s.behaviour === 'good' || s.behaviour === 'slow' || s.behaviour === 'rejecting') {
        expect(r).toMatchObject({ vendor: s.vendor, hostname: s.hostname, firmware: s.firmware, maxChannels: s.maxChannels, resultCode: s.resultCode, errorCode: s.errorCode });
      } else {
        expect(r.vendor).toBeNull();
      }
      expect(r.attempts).toBe(s.behaviour === 'silent' ? 2 : 1);
      expect(r.ok).toBe(r.outcome === 'ok');
      expect(r.ok ? r.reason === null : typeof r.reason === 'string' && r.reason.length > 10).toBe(true);
    });
  });

  it('the fleet stayed inside its connection budget', async () => {
    const st = fleet.stats();
    expect(st.listeners).toBe(fleet.servers.filter((s) => s.behaviour !== 'closed').length);
    expect(st.shedConnections).toBe(0);
    expect(st.peakConnections).toBeLessThanOrEqual(250); // 100 in flight + goodbyes within their grace
    // every connection the prober opened is closed within the goodbye grace
    await new Promise((r) => setTimeout(r, 400));
    expect(fleet.stats().openConnections).toBe(0);
  });
});
