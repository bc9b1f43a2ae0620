/**
 * The loopback block allocator (test/kit/loopback.ts) that keeps concurrent test processes, and
 * concurrent suites on one machine, off each other's addresses.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startSimFleet } from '../sim/fleet.ts';
import { loopbackRange, loopbackRangeFrom, type LoopbackBlock } from './loopback.ts';

const blockOf = (b: LoopbackBlock) => Number(b.cidr.split('.')[1]);

/** Another process that takes a block searching from `start` and holds it until killed. */
function holder(start: number): Promise<{ block: number; kill(): Promise<void> }> {
  const code = `const m = await import(${JSON.stringify(resolve('test/kit/loopback.ts'))});
const b = await m.loopbackRangeFrom(${start});
console.log('holding ' + b.cidr);
setInterval(() => {}, 60_000);`;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /holding 127\.(\d+)\.0\.0\/16/.exec(out);
      if (m) done({ block: Number(m[1]), kill: async () => (child.kill('SIGKILL'), await exited) });
    });
    void exited.then(() => fail(new Error(`holder exited early:\n${out}`)));
  });
}

describe('loopback blocks for tests', () => {
  it('each call gives another /16 outside 127.0/16, and its addresses stay inside it', async () => {
    const a = await loopbackRange();
    const b = await loopbackRange();
    try {
      expect(blockOf(a)).not.toBe(blockOf(b));
      for (const x of [a, b]) {
        expect(blockOf(x)).toBeGreaterThanOrEqual(1);
        expect(blockOf(x)).toBeLessThanOrEqual(254);
        expect(x.cidr).toBe(`127.${blockOf(x)}.0.0/16`);
        expect(x.first).toBe(x.address(0));
      }
      expect([a.address(0), a.address(253), a.address(254), a.address(255 * 254 - 1)]).toEqual(
        [`127.${blockOf(a)}.0.1`, `127.${blockOf(a)}.0.254`, `127.${blockOf(a)}.1.1`, `127.${blockOf(a)}.254.254`],
      );
      expect(() => a.address(255 * 254)).toThrow(/outside a block/);
    } finally {
      await a.release();
      await b.release();
    }
  });

  it('a process that starts where another process holds a block gets another one; kill -9 frees the block', async () => {
    const mine = await loopbackRange();
    const other = await holder(blockOf(mine));
    try {
      expect(other.block).not.toBe(blockOf(mine));
      // ...and the other process's block is not handed out here while it lives.
      const again = await loopbackRangeFrom(other.block);
      expect(blockOf(again)).not.toBe(other.block);
      await again.release();
    } finally {
      await other.kill();
    }
    const freed = await loopbackRangeFrom(other.block);
    expect(blockOf(freed)).toBe(other.block);
    await freed.release();
    await mine.release();
  });

  it('a block where something outside the allocator listens on the PPTP port is skipped', async () => {
    const probe = await loopbackRange();
    const x = blockOf(probe);
    await probe.release();
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen({ host: `127.${x}.5.1`, port: 1723, exclusive: true }, r));
    try {
      const b = await loopbackRangeFrom(x);
      expect(blockOf(b)).not.toBe(x);
      await b.release();
    } finally {
      await new Promise((r) => squatter.close(r));
    }
    const free = await loopbackRangeFrom(x);
    expect(blockOf(free)).toBe(x);
    await free.release();
  });

  it('sim fleets started at once without a firstAddress share no address and give their blocks back on close', async () => {
    const fleets = await Promise.all([1, 2].map((seed) => startSimFleet({ count: 300, seed, mix: { good: 1, closed: 1 } })));
    const blocks = fleets.map((f) => Number(f.servers[0]!.ip.split('.')[1]));
    expect(blocks[0]).not.toBe(blocks[1]);
    for (const [i, f] of fleets.entries()) expect(f.servers.every((s) => s.ip.startsWith(`127.${blocks[i]}.`))).toBe(true);
    for (const f of fleets) await f.close();
    for (const x of blocks) {
      const again = await loopbackRangeFrom(x!);
      expect(blockOf(again)).toBe(x);
      await again.release();
    }
  });
});
