/**
 * The speed probe against curl on the same HTB-shaped link, in the same test: at 20 Mbit/s and at
 * 5 Mbit/s the probe's figure (socket bound to the shaped path's address) must be within 3 % of
 * curl's. Needs root, iproute2 and curl; it FAILS (not skips) when they are missing.
 * Run: npx vitest run -c vitest.lab.config.ts test/lab/speed.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesFor, startShapedLink, type ShapedLink } from '../../bench/speed-link.ts';

let link: ShapedLink | undefined;

beforeAll(async () => {
  link = await startShapedLink();
});
afterAll(async () => {
  await link?.cleanup();
});

describe('speed probe vs curl on an HTB-shaped veth', () => {
  for (const mbit of [20, 5]) {
    it(`${mbit} Mbit/s: the probe is within 3 % of curl`, async () => {
      await link!.setRate(mbit);
      const bytes = bytesFor(mbit, 5);
      const probe = await link!.probe(bytes);
      const curl = await link!.curl(bytes);
      expect(probe.ok, JSON.stringify(probe)).toBe(true);
      if (!probe.ok) return;
      expect(probe.totalBytes).toBe(bytes);
      expect(curl.bytes).toBe(bytes);
      const ratio = probe.mbps / curl.mbps;
      process.stdout.write(`${mbit} Mbit/s link: probe ${probe.mbps.toFixed(2)} Mbit/s (${probe.bytes} B in ${probe.seconds.toFixed(2)} s), curl ${curl.mbps.toFixed(2)} Mbit/s, ratio ${ratio.toFixed(4)}\n`);
      expect(Math.abs(ratio - 1)).toBeLessThanOrEqual(0.03);
      // And both see the shaped rate (HTB on a veth gives ~95.7 % of it after headers: network-lab.md).
      expect(probe.mbps).toBeGreaterThan(mbit * 0.9);
      expect(probe.mbps).toBeLessThan(mbit * 1.02);
    });
  }

});
