/**
 * The probe's destination policy: this host's own services are never connected to unless
 * PROBE_ALLOW names them, and what a non-PPTP service answers is described, never quoted.
 * Real listeners on loopback; "no connection" is proved by the listener never accepting.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeSccrp, SccrpReader, withoutQuotedAnswer } from '../../src/probes/pptp/codec.ts';
import { parseRanges, probePolicy } from '../../src/probes/pptp/policy.ts';
import { probePptp } from '../../src/probes/pptp/probe.ts';

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A listener on 127.0.0.1 that counts accepts and answers each connection with `answer`. */
async function listener(answer: Buffer): Promise<{ port: number; accepted: () => number }> {
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    s.on('error', () => {});
    s.once('data', () => s.end(answer));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, accepted: () => accepted };
}

const noLocal = () => new Set<string>();

describe('probe destination policy', () => {
  it('a loopback service without PROBE_ALLOW is never connected to, and the result says why', async () => {
    const srv = await listener(encodeSccrp());
    const r = await probePptp({ host: '127.0.0.1', port: srv.port }, { timeoutMs: 1000, retries: 2, policy: probePolicy('') });
    expect(r).toMatchObject({ ok: false, outcome: 'blocked', attempts: 0 });
    expect(r.reason).toMatch(/^not probed: 127\.0\.0\.1 is .*PROBE_ALLOW$/);
    // The default policy (no option at all) refuses too.
    const d = await probePptp({ host: '127.0.0.1', port: srv.port }, { timeoutMs: 1000, retries: 0 });
    expect(d.outcome).toBe('blocked');
    // Give a stray connection time to be accepted, if one had been made.
    await new Promise((r) => setTimeout(r, 100));
    expect(srv.accepted()).toBe(0);
  });

  it('a loopback service named by PROBE_ALLOW is probed', async () => {
    const srv = await listener(encodeSccrp());
    const r = await probePptp({ host: '127.0.0.1', port: srv.port }, { timeoutMs: 2000, retries: 0, policy: probePolicy('10.0.0.0/8, 127.0.0.1') });
    expect(r.outcome).toBe('ok');
    expect(srv.accepted()).toBe(1);
  });

  it('refuses this host, unspecified, link-local, multicast and IPv4-mapped loopback; allows the rest', () => {
    const p = probePolicy('', () => new Set(['192.0.2.7', 'fd00::7']));
    for (const ip of ['192.0.2.7', 'fd00::7', '0.0.0.0', '127.1.2.3', '169.254.169.254', '224.0.0.1', '255.255.255.255', '::', '::1', 'fe80::1', 'ff02::1', '::ffff:127.0.0.1']) {
      expect(p(ip), ip).not.toBeNull();
    }
    for (const ip of ['198.51.100.1', '10.1.2.3', '2001:db8::1']) expect(p(ip), ip).toBeNull();
    expect(probePolicy('169.254.0.0/16', noLocal)('169.254.169.254')).toBeNull();
    expect(probePolicy('::1', noLocal)('::1')).toBeNull();
  });

  it('PROBE_ALLOW items that are not addresses or ranges are refused, naming the item', () => {
    expect(() => parseRanges('127.0.0.0/8, localhost')).toThrow('"localhost" is not an IP address or CIDR range');
    expect(() => parseRanges('127.0.0.0/33')).toThrow(/127\.0\.0\.0\/33/);
    expect(() => parseRanges('1.2.3.4/8/1')).toThrow();
    expect(() => parseRanges(' , ')).not.toThrow();
  });
});

describe('non-PPTP answers are described, not quoted', () => {
  it('an SSH banner with control characters: its size and protocol, no banner text', () => {
    const banner = Buffer.from('SSH-2.0-OpenSSH_9.6 secret-host\x1b[31m\x07\r\n', 'latin1');
    const d = new SccrpReader().push(banner);
    expect(d?.kind).toBe('not_pptp');
    const reason = d?.kind === 'not_pptp' ? d.reason : '';
    expect(reason).toMatch(/; it sent \d+ bytes, starts like an SSH banner$/);
    expect(reason).not.toMatch(/OpenSSH|secret-host/);
    expect(reason).not.toMatch(/[\x00-\x1f\x7f]/);
    expect(reason.length).toBeLessThan(120);
  });

  it('a reason stored by an earlier version loses its quoted banner', () => {
    const old = 'not PPTP: magic cookie 0x322E302D (expected 0x1A2B3C4D); it sent "SSH-2.0-OpenSSH_8.9p1 \\x1b[31m \\"db01\\"…" (looks like an SSH banner)';
    expect(withoutQuotedAnswer(old)).toBe('not PPTP: magic cookie 0x322E302D (expected 0x1A2B3C4D); it sent an answer, starts like an SSH banner');
    expect(withoutQuotedAnswer('not PPTP: length field 12; it sent "\\x00\\x0c"')).toBe('not PPTP: length field 12; it sent an answer');
  });

  it('a Redis-like or binary answer through a real probe: short and printable only', async () => {
    const srv = await listener(Buffer.concat([Buffer.from('-ERR unknown command \x00\x1b]0;pwned\x07', 'latin1'), Buffer.alloc(300, 0xff)]));
    const r = await probePptp({ host: '127.0.0.1', port: srv.port }, { timeoutMs: 2000, retries: 0, policy: probePolicy('127.0.0.0/8') });
    expect(r.outcome).toBe('not_pptp');
    expect(r.reason).not.toMatch(/ERR|pwned/);
    expect(r.reason).not.toMatch(/[\x00-\x1f\x7f]/);
    expect(r.reason!.length).toBeLessThan(160);
  });
});
