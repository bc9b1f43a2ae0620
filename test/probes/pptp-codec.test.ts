import { describe, expect, it } from 'vitest';
import {
  decodeName,
  decodeSccrp,
  encodeEchoReply,
  encodeEchoRequest,
  encodeSccrp,
  encodeSccrq,
  encodeStopCcrp,
  encodeStopCcrq,
  errorCodeMeaning,
  resultCodeMeaning,
  SccrpReader,
} from '../../src/probes/pptp/codec.ts';

const u16 = (b: Buffer, o: number): number => b.readUInt16BE(o);
const u32 = (b: Buffer, o: number): number => b.readUInt32BE(o);

describe('Start-Control-Connection-Request layout (RFC 2637 2.1)', () => {
  const rq = encodeSccrq({ hostname: 'probe-host', vendor: 'Connexa', firmware: 7, maxChannels: 0 });

  it('is 156 bytes with the common header', () => {
    expect(rq.length).toBe(156);
    expect(u16(rq, 0)).toBe(156); // Length
    expect(u16(rq, 2)).toBe(1); // PPTP Message Type: control
    expect(u32(rq, 4)).toBe(0x1a2b3c4d); // Magic Cookie
    expect(u16(rq, 8)).toBe(1); // Control Message Type: SCCRQ
    expect(u16(rq, 10)).toBe(0); // Reserved0
  });

  it('carries the body at the RFC offsets', () => {
    expect(u16(rq, 12)).toBe(0x0100); // Protocol Version
    expect(u16(rq, 14)).toBe(0); // Reserved1
    expect(u32(rq, 16)).toBe(3); // Framing Capabilities: async | sync
    expect(u32(rq, 20)).toBe(3); // Bearer Capabilities: analog | digital
    expect(u16(rq, 24)).toBe(0); // Maximum Channels
    expect(u16(rq, 26)).toBe(7); // Firmware Revision
    expect(rq.subarray(28, 28 + 10).toString('latin1')).toBe('probe-host');
    expect(rq.subarray(38, 92).every((b) => b === 0)).toBe(true); // NUL padded to 64
    expect(rq.subarray(92, 99).toString('latin1')).toBe('Connexa');
    expect(rq.subarray(99, 156).every((b) => b === 0)).toBe(true);
  });

  it('is what nmap pptp-version sends, apart from the names and capabilities', () => {
    // The first 16 bytes are the same for every SCCRQ.
    expect(rq.subarray(0, 16).toString('hex')).toBe('009c00011a2b3c4d0001000001000000');
  });

  it('truncates names to 63 bytes so a NUL always ends them', () => {
    const long = encodeSccrq({ hostname: 'x'.repeat(100) });
    expect(long[28 + 62]).toBe(0x78);
    expect(long[28 + 63]).toBe(0);
  });
});

describe('Stop-Control-Connection-Request and Echo', () => {
  it('Stop-Control-Connection-Request is 16 bytes, control type 3, reason 1', () => {
    const s = encodeStopCcrq();
    expect(s.length).toBe(16);
    expect(u16(s, 0)).toBe(16);
    expect(u16(s, 2)).toBe(1);
    expect(u32(s, 4)).toBe(0x1a2b3c4d);
    expect(u16(s, 8)).toBe(3);
    expect(s[12]).toBe(1); // Reason: general request to clear the control connection
    expect(s[13]).toBe(0);
    expect(u16(s, 14)).toBe(0);
  });

  it('Stop reply, Echo-Request and Echo-Reply layouts', () => {
    const sr = encodeStopCcrp(1, 0);
    expect([sr.length, u16(sr, 0), u16(sr, 8), sr[12], sr[13]]).toEqual([16, 16, 4, 1, 0]);
    const eq = encodeEchoRequest(0xdeadbeef);
    expect([eq.length, u16(eq, 0), u16(eq, 8), u32(eq, 12)]).toEqual([16, 16, 5, 0xdeadbeef]);
    const er = encodeEchoReply(42, 1, 0);
    expect([er.length, u16(er, 0), u16(er, 8), u32(er, 12), er[16], er[17]]).toEqual([20, 20, 6, 42, 1, 0]);
  });
});

describe('Start-Control-Connection-Reply decoding', () => {
  const fields = {
    protocolVersion: 0x0100,
    resultCode: 1,
    errorCode: 0,
    framing: 0x1,
    bearer: 0x2,
    maxChannels: 1,
    firmware: 1,
    hostname: 'local',
    vendor: 'linux',
  };

  it('round-trips every field', () => {
    const d = decodeSccrp(encodeSccrp(fields));
    expect(d).toEqual({ kind: 'reply', reply: fields });
  });

  it('reads each field from its RFC offset', () => {
    const b = Buffer.alloc(156);
    b.writeUInt16BE(156, 0);
    b.writeUInt16BE(1, 2);
    b.writeUInt32BE(0x1a2b3c4d, 4);
    b.writeUInt16BE(2, 8);
    b.writeUInt16BE(0x0100, 12);
    b[14] = 2; // result code
    b[15] = 6; // error code
    b.writeUInt32BE(0x2, 16);
    b.writeUInt32BE(0x1, 20);
    b.writeUInt16BE(513, 24);
    b.writeUInt16BE(0x1234, 26);
    b.write('H', 28, 'latin1');
    b.write('V', 92, 'latin1');
    const d = decodeSccrp(b);
    expect(d).toEqual({
      kind: 'reply',
      reply: { protocolVersion: 0x0100, resultCode: 2, errorCode: 6, framing: 2, bearer: 1, maxChannels: 513, firmware: 0x1234, hostname: 'H', vendor: 'V' },
    });
  });

  it('gives every result code and error code a meaning', () => {
    expect(resultCodeMeaning(1)).toMatch(/successful/);
    expect(resultCodeMeaning(2)).toMatch(/general error/);
    expect(resultCodeMeaning(3)).toMatch(/command channel already exists/);
    expect(resultCodeMeaning(4)).toMatch(/not authorized/);
    expect(resultCodeMeaning(5)).toMatch(/protocol version .* not supported/);
    expect(resultCodeMeaning(9)).toMatch(/unknown result code 9/);
    expect(errorCodeMeaning(4)).toMatch(/no resource/);
  });
});

describe('name fields tolerate any bytes', () => {
  const field = (bytes: number[]): Buffer => {
    const b = Buffer.alloc(64);
    Buffer.from(bytes).copy(b);
    return b;
  };

  it('reads valid UTF-8 as UTF-8', () => {
    expect(decodeName(Buffer.concat([Buffer.from('Сервер-1', 'utf8'), Buffer.alloc(10)]), 0)).toBe('Сервер-1');
  });

  it('reads invalid UTF-8 as latin1 and strips control characters', () => {
    expect(decodeName(field([0x63, 0x61, 0x66, 0xe9, 0x01, 0x07, 0x21]), 0)).toBe('café!');
    expect(decodeName(field([0xff, 0xfe, 0x41, 0x9b, 0x42]), 0)).toBe('ÿþAB'); // 0x9b is a C1 control
  });

  it('stops at the first NUL and never reads past 64 bytes', () => {
    expect(decodeName(field([0x61, 0x00, 0x62]), 0)).toBe('a');
    const full = Buffer.alloc(80, 0x41); // no NUL at all
    expect(decodeName(full, 0)).toBe('A'.repeat(64));
    expect(decodeName(field([]), 0)).toBe('');
  });
});

describe('SccrpReader', () => {
  const good = encodeSccrp({ hostname: 'local', vendor: 'linux' });

  it('accumulates a reply split into single bytes', () => {
    const r = new SccrpReader();
    for (let i = 0; i < 155; i++) expect(r.push(good.subarray(i, i + 1))).toBeNull();
    const d = r.push(good.subarray(155));
    expect(d?.kind).toBe('reply');
    expect(d?.kind === 'reply' && d.reply.vendor).toBe('linux');
  });

  it('accumulates uneven segments and ignores what follows the reply', () => {
    const r = new SccrpReader();
    expect(r.push(good.subarray(0, 7))).toBeNull();
    expect(r.push(good.subarray(7, 100))).toBeNull();
    const d = r.push(Buffer.concat([good.subarray(100), encodeStopCcrp()]));
    expect(d?.kind).toBe('reply');
    expect(r.push(Buffer.alloc(1000))).toBeNull(); // decided: nothing more is looked at
  });

  it('names the wrong magic cookie and what the answer looks like', () => {
    const r = new SccrpReader();
    const d = r.push(Buffer.from('HTTP/1.1 400 Bad Request\r\nServer: x\r\n\r\n'));
    expect(d?.kind).toBe('not_pptp');
    expect(d?.kind === 'not_pptp' && d.reason).toMatch(/^not PPTP: magic cookie 0x2F312E31 \(expected 0x1A2B3C4D\); it sent 39 bytes, starts like HTTP$/);
    const p = encodeSccrp();
    p.write('HTTP', 4, 'latin1');
    const d2 = decodeSccrp(p);
    expect(d2.kind === 'not_pptp' && d2.reason).toMatch(/^not PPTP: magic cookie 0x48545450/);
  });

  it('decides at the magic cookie without waiting for 156 bytes', () => {
    const r = new SccrpReader();
    expect(r.push(Buffer.from('SSH-2.'))).toBeNull();
    const d = r.push(Buffer.from('0-OpenSSH'));
    expect(d?.kind === 'not_pptp' && d.reason).toMatch(/magic cookie .*; it sent 15 bytes, starts like an SSH banner$/);
  });

  it('names a wrong length field', () => {
    const stop = encodeStopCcrq(); // valid PPTP, 16 bytes, wrong message
    const d = decodeSccrp(Buffer.concat([stop, Buffer.alloc(140)]));
    expect(d.kind === 'not_pptp' && d.reason).toMatch(/^not PPTP: length field 16 carrying a Stop-Control-Connection-Request/);
    const twelve = encodeSccrp();
    twelve.writeUInt16BE(12, 0);
    const d2 = decodeSccrp(twelve);
    expect(d2.kind === 'not_pptp' && d2.reason).toMatch(/^not PPTP: length field 12 /);
  });

  it('names a wrong message type and control type', () => {
    const b = encodeSccrp();
    b.writeUInt16BE(2, 2);
    expect(decodeSccrp(b)).toMatchObject({ kind: 'not_pptp', reason: expect.stringMatching(/message type 2 \(expected 1/) });
    const c = encodeSccrp();
    c.writeUInt16BE(1, 8); // an SCCRQ echoed back
    expect(decodeSccrp(c)).toMatchObject({ kind: 'not_pptp', reason: expect.stringMatching(/control message type 1 \(Start-Control-Connection-Request\)/) });
  });

  it('never holds more than 156 bytes of an endless stream', () => {
    const r = new SccrpReader();
    // A stream that starts like PPTP and never stops: decided at byte 156.
    const head = encodeSccrp().subarray(0, 20);
    expect(r.push(head)).toBeNull();
    let decision = null;
    for (let i = 0; i < 1000 && decision === null; i++) decision = r.push(Buffer.alloc(64 * 1024, 0x41));
    expect(decision?.kind).toBe('reply');
    expect(r.received).toBe(156);
    // Zeros: not PPTP at byte 8.
    const z = new SccrpReader();
    expect(z.push(Buffer.alloc(4))).toBeNull();
    expect(z.push(Buffer.alloc(1 << 20))?.kind).toBe('not_pptp');
  });

  it('describes a partial reply', () => {
    const r = new SccrpReader();
    expect(r.partial()).toEqual({ kind: 'empty' });
    r.push(good.subarray(0, 40));
    expect(r.partial()).toMatchObject({ kind: 'truncated', received: 40, reason: '40 of the 156 bytes of a Start-Control-Connection-Reply' });
    const g = new SccrpReader();
    g.push(Buffer.from('OK\r\n'));
    expect(g.partial()).toMatchObject({ kind: 'not_pptp' });
  });
});
