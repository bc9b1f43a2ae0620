import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { NoFreePort, PortPool, tcpPortFree, udpPortFree } from '../../src/services/ports.ts';
import { layoutFor, MAX_SUBNETS, usableRange } from '../../src/services/ovpn/layout.ts';

const yes = async () => true;

describe('PortPool', () => {
  it('hands each port to one owner, even to concurrent allocations', async () => {
    const pool = new PortPool('SOCKS', { from: 30000, to: 30049 });
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => pool.allocate(`n${i}`, async () => {
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      return true;
    })));
    const ports = got.map((g) => g.port);
    expect(new Set(ports).size).toBe(50);
    expect(ports.every((p) => p >= 30000 && p <= 30049)).toBe(true);
    expect(pool.free).toBe(0);
    await expect(pool.allocate('n50', yes)).rejects.toBeInstanceOf(NoFreePort);
  });

  it('skips ports another program holds and ports restored from the store', async () => {
    const pool = new PortPool('SOCKS', { from: 30100, to: 30104 });
    expect(pool.claim(30100, 'n1')).toBe(true);
    expect(pool.claim(30100, 'n2')).toBe(false); // never two owners
    expect(pool.claim(30100, 'n1')).toBe(true); // idempotent for the same owner
    const tried: number[] = [];
    const got = await pool.allocate('n3', async (p) => {
      tried.push(p);
      return p === 30101 ? false : true; // 30101 is in use on the host
    });
    expect(tried).toEqual([30101, 30102]);
    expect(got.port).toBe(30102);
    expect(pool.ownerOf(30101)).toBeUndefined();
    expect(pool.free).toBe(3);
  });

  it('does not hand a just-released port to the next node, and wraps around', async () => {
    const pool = new PortPool('SOCKS', { from: 30200, to: 30202 });
    const a = await pool.allocate('a', yes);
    pool.release(a.port, 'a');
    const b = await pool.allocate('b', yes);
    expect(b.port).not.toBe(a.port);
    pool.release(b.port, 'wrong-owner'); // only the owner releases
    expect(pool.ownerOf(b.port)).toBe('b');
    const c = await pool.allocate('c', yes);
    const d = await pool.allocate('d', yes); // wraps to the first port, free again
    expect([a.port, b.port, c.port]).toEqual([30200, 30201, 30202]);
    expect(d.port).toBe(30200);
  });

  it('releases the reservation when bind throws', async () => {
    const pool = new PortPool('SOCKS', { from: 30300, to: 30300 });
    await expect(pool.allocate('a', async () => {
      throw new Error('EACCES');
    })).rejects.toThrow('EACCES');
    expect(pool.free).toBe(1);
  });

  it('probes real TCP and UDP ports', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    expect(await tcpPortFree(port, '127.0.0.1')).toBe(false);
    await new Promise<void>((r) => s.close(() => r()));
    expect(await tcpPortFree(port, '127.0.0.1')).toBe(true);
    expect(await udpPortFree(port)).toBe(true);
  });
});

describe('OpenVPN layout by port', () => {
  it('gives every port of a range its own /24 of 100.64.0.0/10, tun name and table', () => {
    const range = { from: 21000, to: 21999 };
    const seen = new Set<string>();
    const tables = new Set<number>();
    for (let p = range.from; p <= range.to; p++) {
      const l = layoutFor(p);
      expect(l.dev.length).toBeLessThanOrEqual(15);
      expect(l.cidr).toMatch(/^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.0\/24$/);
      seen.add(l.cidr);
      tables.add(l.table);
    }
    expect(seen.size).toBe(1000);
    expect(tables.size).toBe(1000);
    // 21000 % 16384 = 4616 = 18 * 256 + 8
    expect(layoutFor(21000)).toMatchObject({ network: '100.82.8.0', gateway: '100.82.8.1', cidr: '100.82.8.0/24', dev: 'cxo21000', table: 291000 });
    // Two instances with different ranges do not share subnets or tables.
    expect(layoutFor(31000).cidr).not.toBe(layoutFor(21000).cidr);
    expect(layoutFor(1).cidr).toBe(layoutFor(1 + MAX_SUBNETS).cidr); // only 16,384 apart
    expect(() => layoutFor(0)).toThrow();
    expect(usableRange({ from: 1, to: 65535 })).toEqual({ from: 1, to: MAX_SUBNETS });
    expect(usableRange({ from: 21000, to: 21999 })).toEqual({ from: 21000, to: 21999 });
  });
});
