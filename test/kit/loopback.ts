/**
 * Loopback address blocks for tests and benches: each call gives this process its own
 * 127.X.0.0/16, distinct from every other process that uses this allocator at the same time (the
 * other vitest workers, another worktree's suite, a bench, a sim fleet in its own process).
 *
 * Why: ranges picked by hand collide as soon as two suites run on one machine (EADDRINUSE on
 * 127.0.110.1:1723), and a "closed" sim server is only refused while nobody else listens there.
 *
 * How: the search starts at a block derived from the pid, so concurrent processes start apart.
 * A block is taken by listening on its claim address (127.X.255.254, port CLAIM_PORT): the kernel
 * lets one process hold it and frees it when that process ends, even by kill -9, so two processes
 * that start at the same block cannot both take it and nothing is left to clean up. A bind probe on
 * the block's first addresses at the PPTP port then checks that nobody outside this allocator (a
 * checkout with hand-picked ranges) is already there. 127.0.0.0/16 is never handed out: the host's
 * own services live there (127.0.0.1, 127.0.0.53, 127.0.1.1, the demo fleet).
 */
import net from 'node:net';

/** Above the kernel's ephemeral range (32768-60999 by default), so no outgoing socket holds it by chance. */
export const CLAIM_PORT = 61_723;
/** Blocks 127.1 .. 127.254 (127.0 is the host's, 127.255.255.255 is the broadcast address). */
const BLOCKS = 254;
/** Addresses per block: third octets 0..254 (255 holds the claim), last octets 1..254. */
export const BLOCK_SIZE = 255 * 254;
/** The probe covers the first 64 /24s: a fleet of up to PROBED_SIZE servers stays inside them. */
const PROBE_SUBNETS = 64;
export const PROBED_SIZE = PROBE_SUBNETS * 254;
const PROBE_PORT = 1723;

export interface LoopbackBlock {
  /** `127.X.0.0/16` */
  readonly cidr: string;
  /** `127.X.0.1`, the first usable address (a sim fleet's firstAddress). */
  readonly first: string;
  /** The i-th usable address (0 is `first`), skipping .0 and .255 as the sim fleet does. */
  address(i: number): string;
  /** Gives the block back before the process ends (a sim fleet does on close). */
  release(): Promise<void>;
}

let cursor: number | null = null;

/** A 127.X.0.0/16 of this process's own; the next call gives another one. */
export async function loopbackRange(): Promise<LoopbackBlock> {
  cursor ??= 1 + (process.pid % BLOCKS);
  const block = await loopbackRangeFrom(cursor);
  cursor = 1 + (Number(block.cidr.split('.')[1]) % BLOCKS);
  return block;
}

/** As loopbackRange, searching upwards from block 127.`start` (exported for the allocator's own test). */
export async function loopbackRangeFrom(start: number): Promise<LoopbackBlock> {
  if (!Number.isInteger(start) || start < 1 || start > BLOCKS) throw new Error(`loopback block start must be 1..${BLOCKS}, got ${start}`);
  let busy = 0;
  for (let t = 0; t < BLOCKS; t++) {
    const x = 1 + ((start - 1 + t) % BLOCKS);
    const claim = await listenOn(`127.${x}.255.254`, CLAIM_PORT);
    if (claim === 'in use') continue;
    if (await probeFree(x)) return block(x, claim);
    busy++;
    await close(claim);
  }
  throw new Error(`no free loopback block: all ${BLOCKS} 127.X.0.0/16 are claimed by other test processes or in use (${busy} in use by something else)`);
}

function block(x: number, claim: net.Server): LoopbackBlock {
  let released = false;
  return {
    cidr: `127.${x}.0.0/16`,
    first: `127.${x}.0.1`,
    address(i: number): string {
      if (!Number.isInteger(i) || i < 0 || i >= BLOCK_SIZE) throw new Error(`address index ${i} is outside a block of ${BLOCK_SIZE}`);
      return `127.${x}.${Math.floor(i / 254)}.${(i % 254) + 1}`;
    },
    async release(): Promise<void> {
      if (released) return;
      released = true;
      await close(claim);
    },
  };
}

/** True when nobody listens on the first address of each probed /24 at the PPTP port. */
async function probeFree(x: number): Promise<boolean> {
  const probes = await Promise.all(Array.from({ length: PROBE_SUBNETS }, (_, k) => listenOn(`127.${x}.${k}.1`, PROBE_PORT)));
  await Promise.all(probes.map((p) => (p === 'in use' ? undefined : close(p))));
  return probes.every((p) => p !== 'in use');
}

function listenOn(host: string, port: number): Promise<net.Server | 'in use'> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve('in use');
      else reject(new Error(`loopback allocator: cannot listen on ${host}:${port}: ${err.code ?? err.message} (the tests need all of 127.0.0.0/8 on lo, as Linux has)`));
    });
    server.listen({ host, port, exclusive: true }, () => {
      server.unref(); // a claim never keeps the process alive
      resolve(server);
    });
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A TCP port free on 127.0.0.1 right now (the kernel picks it), for a server the test starts in another process. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
