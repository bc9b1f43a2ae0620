/**
 * bench:speed — the speed probe beside curl on the same HTB-shaped link (20 and 5 Mbit/s, 3 runs
 * each, ~5 s per transfer), printed as a table. Figures only: it never fails on a slow machine.
 * Needs root, iproute2 and curl (see bench/speed-link.ts). Run: node bench/speed-curl.ts [runs]
 */
import { bytesFor, startShapedLink } from './speed-link.ts';

const RATES = [20, 5];
const runs = Number(process.argv[2] ?? 3);

const link = await startShapedLink();
const rows: string[][] = [];
try {
  for (const mbit of RATES) {
    await link.setRate(mbit);
    const bytes = bytesFor(mbit, 5);
    for (let i = 1; i <= runs; i++) {
      const p = await link.probe(bytes);
      const c = await link.curl(bytes);
      if (!p.ok) {
        rows.push([`${mbit}`, `${i}`, `probe failed: ${p.kind} ${p.reason}`, c.mbps.toFixed(2), '', '']);
        continue;
      }
      rows.push([`${mbit}`, `${i}`, p.mbps.toFixed(2), c.mbps.toFixed(2), (p.mbps / c.mbps).toFixed(4), `${p.bytes} B / ${p.seconds.toFixed(2)} s`]);
    }
  }
} finally {
  await link.cleanup();
}

const head = ['link Mbit/s', 'run', 'probe Mbit/s', 'curl Mbit/s', 'probe/curl', 'probe counted'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (r: string[]) => r.map((v, i) => (i === 5 ? v : v.padStart(widths[i]!))).join('  ');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
