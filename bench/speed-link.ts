/**
 * A shaped link for comparing the speed probe with curl: a network namespace joined to the host by
 * a veth (test/lab/netns.ts), the project's speed server inside it, and HTB on the namespace's end
 * of the veth, so every byte of a download crosses a link of a known rate. Both tools bind to the
 * host's end of the veth (the shaped path's address), as the probe binds to a tunnel's address.
 *
 * Used by test/lab/speed.test.ts (the 3 % check) and bench/speed-curl.ts (the figures).
 * Needs root, iproute2 (ip, tc, ss) and curl.
 */
import { randomBytes } from 'node:crypto';
import { measureDownload, type MeasureResult } from '../src/probes/speed/measure.ts';
import { createNamespacePair, requireLab, run, type NamespacePair } from '../test/lab/netns.ts';

export const SPEED_PORT = 8080;
/** The server listens on a non-loopback address, so it needs a token (a fresh one per run). */
const SPEED_TOKEN = randomBytes(12).toString('hex');

export interface CurlFigure {
  mbps: number;
  bytes: number;
  seconds: number;
}

export interface ShapedLink {
  pair: NamespacePair;
  url(bytes: number): string;
  /** Sets the HTB rate of the download direction, in Mbit/s. */
  setRate(mbit: number): Promise<void>;
  probe(bytes: number): Promise<MeasureResult>;
  curl(bytes: number): Promise<CurlFigure>;
  cleanup(): Promise<void>;
}

export function requireSpeedLab(): void {
  requireLab([
    { bin: 'ip', pkg: 'iproute2' },
    { bin: 'tc', pkg: 'iproute2' },
    { bin: 'ss', pkg: 'iproute2' },
    { bin: 'curl', pkg: 'curl' },
  ]);
}

export async function startShapedLink(): Promise<ShapedLink> {
  requireSpeedLab();
  const pair = await createNamespacePair({ prefix: 'cnxspd' });
  try {
    // The speed server runs inside the namespace (Node runs the TypeScript source from this checkout), listening on its veth end only.
    const server = pair.spawn(process.execPath, ['src/probes/speed/server.ts', '--host', pair.nsAddr, '--port', String(SPEED_PORT), '--token', SPEED_TOKEN]);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`the speed server did not start in ${pair.ns}: ${out}`)), 20_000);
      const take = (c: Buffer) => {
        out += c.toString();
        if (out.includes('listening')) {
          clearTimeout(t);
          resolve();
        }
      };
      server.stdout?.on('data', take);
      server.stderr?.on('data', take);
      server.once('exit', (code) => reject(new Error(`the speed server exited (${code}): ${out}`)));
    });
    await pair.exec('tc', ['qdisc', 'add', 'dev', pair.nsIf, 'root', 'handle', '1:', 'htb', 'default', '10']);
    await pair.exec('tc', ['class', 'add', 'dev', pair.nsIf, 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '20mbit']);
  } catch (err) {
    await pair.cleanup();
    throw err;
  }
  const url = (bytes: number) => `http://${pair.nsAddr}:${SPEED_PORT}/?bytes=${bytes}&token=${SPEED_TOKEN}`;
  return {
    pair,
    url,
    async setRate(mbit) {
      await pair.exec('tc', ['class', 'change', 'dev', pair.nsIf, 'parent', '1:', 'classid', '1:10', 'htb', 'rate', `${mbit}mbit`]);
    },
    probe: (bytes) => measureDownload({ url: url(bytes), localAddress: pair.hostAddr, bytes, timeoutMs: 120_000, stallMs: 10_000 }),
    async curl(bytes) {
      // curl's own figure: speed_download is the body's bytes over the whole transfer time.
      const { stdout } = await run('curl', ['-sS', '-o', '/dev/null', '--interface', pair.hostAddr, '-w', '%{speed_download} %{size_download} %{time_total}', url(bytes)], { timeoutMs: 120_000 });
      const [speed, size, total] = stdout.trim().split(/\s+/).map(Number) as [number, number, number];
      return { mbps: (speed * 8) / 1e6, bytes: size, seconds: total };
    },
    cleanup: () => pair.cleanup(),
  };
}

/** Bytes for a transfer of about `seconds` at `mbit` Mbit/s. */
export function bytesFor(mbit: number, seconds: number): number {
  return Math.round(((mbit * 1e6) / 8) * seconds);
}
