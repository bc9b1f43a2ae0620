/**
 * Port allocation from a configured range (SOCKS_PORT_RANGE, OVPN_PORT_RANGE). A port belongs to at
 * most one node: the pool knows every port that is recorded for a node (node.socks.port, the
 * OpenVPN allocations) and every port being tried right now, and it never hands one of those out.
 * A port that something else on the host already holds is found by the caller's bind attempt and
 * skipped. Allocation walks forward from the last port handed out, so a port just released is not
 * given to the next node at once (a client still holding the old address meets a closed port, not
 * a stranger's proxy).
 */
import dgram from 'node:dgram';
import net from 'node:net';

export interface PortRange {
  from: number;
  to: number;
}

export class NoFreePort extends Error {
  readonly what: string;
  readonly range: PortRange;
  constructor(what: string, range: PortRange) {
    super(`no free ${what} port in ${range.from}-${range.to}: every port is allocated to a node or in use on this host`);
    this.what = what;
    this.range = range;
  }
}

export class PortPool {
  /** port -> owner (a node id) */
  private readonly owners = new Map<number, string>();
  private cursor: number;

  readonly what: string;
  readonly range: PortRange;
  constructor(what: string, range: PortRange) {
    this.what = what;
    this.range = range;
    if (range.from > range.to) throw new Error(`bad ${what} port range ${range.from}-${range.to}`);
    this.cursor = range.from;
  }

  get size(): number {
    return this.range.to - this.range.from + 1;
  }

  /** Ports not allocated to any node (some may still be held by other programs). */
  get free(): number {
    let inRange = 0;
    for (const p of this.owners.keys()) if (this.contains(p)) inRange++;
    return this.size - inRange;
  }

  contains(port: number): boolean {
    return port >= this.range.from && port <= this.range.to;
  }

  ownerOf(port: number): string | undefined {
    return this.owners.get(port);
  }

  /**
   * Records an allocation that already exists (restored from the store). Ports outside the range
   * are recorded too — the range may have been narrowed since — so they are still never reused.
   * Returns false when another owner already has the port.
   */
  claim(port: number, owner: string): boolean {
    const held = this.owners.get(port);
    if (held !== undefined && held !== owner) return false;
    this.owners.set(port, owner);
    return true;
  }

  release(port: number, owner: string): void {
    if (this.owners.get(port) === owner) this.owners.delete(port);
  }

  /** Frees every port `owner` holds (a node stopped: its claimed and its allocated ports alike). */
  releaseOwner(owner: string): void {
    for (const [port, o] of this.owners) if (o === owner) this.owners.delete(port);
  }

  /** The port `owner` holds, if any (one per pool per node). */
  portOf(owner: string): number | undefined {
    for (const [port, o] of this.owners) if (o === owner) return port;
    return undefined;
  }

  /**
   * Finds a port for `owner`: the next unallocated one for which `bind(port)` succeeds. `bind`
   * returns false when the port is taken on the host (EADDRINUSE) and throws for anything else. The
   * port is reserved before bind runs, so concurrent allocations never try the same port.
   */
  async allocate<T>(owner: string, bind: (port: number) => Promise<T | false>): Promise<{ port: number; value: T }> {
    for (let tried = 0; tried < this.size; tried++) {
      const port = this.cursor;
      this.cursor = port >= this.range.to ? this.range.from : port + 1;
      if (this.owners.has(port)) continue;
      this.owners.set(port, owner);
      let value: T | false;
      try {
        value = await bind(port);
      } catch (err) {
        this.owners.delete(port);
        throw err;
      }
      if (value !== false) return { port, value };
      this.owners.delete(port);
    }
    throw new NoFreePort(this.what, this.range);
  }
}

/** Whether a UDP port can be bound on all addresses right now (for OpenVPN, which binds it itself). */
export function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind({ port, address: '0.0.0.0', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** Whether a TCP port can be bound on `host` right now. */
export function tcpPortFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

export function isAddrInUse(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
}
