/**
 * Runs a simulated PPTP fleet until SIGINT/SIGTERM.
 *
 *   node test/sim/cli.ts --count 300 --seed 1 --out data/sim-fleet.txt
 *
 * Options:
 *   --count N             servers (default 300)
 *   --seed N              seed of behaviours, credentials and names (default 1)
 *   --out FILE            write the import file (format 7, ip:login:password), mode 0600
 *   --manifest FILE       write every server with its behaviour as JSON (for benches and tests)
 *   --mix good=0.7,closed=0.1,silent=0.1,slow=0.05,garbage=0.05,rejecting=0
 *                         behaviour fractions (default good=0.6,slow=0.08,silent=0.08,
 *                         rejecting=0.08,garbage=0.08,closed=0.08)
 *   --slow-delay-ms N     reply delay of slow servers (default 500)
 *   --first-address IP    first loopback address (default: a free 127.X.0.0/16 of its own, from
 *                         test/kit/loopback.ts, so concurrent fleets and test runs never collide)
 *   --base-port N         port (default 1723)
 *
 * When the fleet is up it prints a summary and then a line starting with "sim fleet ready".
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loopbackRange } from '../kit/loopback.ts';
import { SIM_BEHAVIOURS, startSimFleet, type SimMix } from './fleet.ts';

const DEFAULT_CLI_MIX: SimMix = { good: 0.6, slow: 0.08, silent: 0.08, rejecting: 0.08, garbage: 0.08, closed: 0.08 };

function parseMix(text: string): SimMix {
  const mix: SimMix = {};
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const m = /^([a-z]+)\s*=\s*([0-9.]+)$/.exec(item);
    if (!m || !(SIM_BEHAVIOURS as readonly string[]).includes(m[1]!)) {
      throw new Error(`--mix: "${item}" is not behaviour=fraction (behaviours: ${SIM_BEHAVIOURS.join(', ')})`);
    }
    mix[m[1] as keyof SimMix] = Number(m[2]);
  }
  return mix;
}

function intOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} expects a whole number, got "${value}"`);
  return n;
}

function writePrivate(file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, text, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      manifest: { type: 'string' },
      mix: { type: 'string' },
      'slow-delay-ms': { type: 'string' },
      'first-address': { type: 'string' },
      'base-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log('usage: node test/sim/cli.ts --count 300 --seed 1 --out data/sim-fleet.txt [--manifest FILE] [--mix good=0.7,...] [--slow-delay-ms 500] [--first-address 127.X.0.1 (default: a free block)] [--base-port 1723]');
    return;
  }
  const count = intOption('count', values.count, 300);
  const seed = intOption('seed', values.seed, 1);
  const mix = values.mix !== undefined ? parseMix(values.mix) : DEFAULT_CLI_MIX;
  const slowDelayMs = intOption('slow-delay-ms', values['slow-delay-ms'], 500);
  const basePort = intOption('base-port', values['base-port'], 1723);
  // The block is held by this process until it exits.
  const firstAddress = values['first-address'] ?? (await loopbackRange()).first;

  const fleet = await startSimFleet({ count, seed, mix, slowDelayMs, basePort, firstAddress });
  const st = fleet.stats();
  if (values.out) writePrivate(values.out, fleet.importText());
  if (values.manifest) writePrivate(values.manifest, JSON.stringify({ count, seed, mix, slowDelayMs, basePort, firstAddress, servers: fleet.servers }));

  const byBehaviour = new Map<string, number>();
  for (const s of fleet.servers) byBehaviour.set(s.behaviour, (byBehaviour.get(s.behaviour) ?? 0) + 1);
  const first = fleet.servers[0]?.ip ?? '-';
  const last = fleet.servers[fleet.servers.length - 1]?.ip ?? '-';
  console.log(`sim fleet: ${count} servers on ${first} .. ${last} port ${basePort}, seed ${seed}`);
  console.log(`  behaviours: ${SIM_BEHAVIOURS.map((b) => `${b} ${byBehaviour.get(b) ?? 0}`).join(', ')}`);
  console.log(`  ${st.listeners} listeners bound in ${st.bindMs} ms; connection budget ${st.maxConnections} (open-file limit ${st.fdLimit})`);
  console.log(`  RSS ${Math.round(process.memoryUsage().rss / 1048576)} MB${values.out ? `; import file ${values.out}` : ''}${values.manifest ? `; manifest ${values.manifest}` : ''}`);
  console.log(`sim fleet ready (pid ${process.pid}); stop with Ctrl-C or SIGTERM`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const s = fleet.stats();
    void fleet.close().then(() => {
      console.log(
        `sim fleet stopped (${signal}): ${s.acceptedConnections} connections served, peak ${s.peakConnections} open, ${s.shedConnections} shed`,
      );
      process.exit(0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
