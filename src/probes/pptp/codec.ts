/**
 * PPTP control-connection codec (RFC 2637, section 2).
 *
 * Only what a prober needs: encode a Start-Control-Connection-Request (SCCRQ) and a
 * Stop-Control-Connection-Request, and read a Start-Control-Connection-Reply (SCCRP) from a TCP
 * stream that may arrive in any number of segments. Every control message starts with the same
 * 12-byte header:
 *
 *   0  Length (uint16)            total message length in bytes
 *   2  PPTP Message Type (uint16) 1 = control message
 *   4  Magic Cookie (uint32)      0x1A2B3C4D
 *   8  Control Message Type (uint16)
 *  10  Reserved0 (uint16)
 *
 * SCCRQ / SCCRP (156 bytes) continue:
 *
 *  12  Protocol Version (uint16)  0x0100
 *  14  SCCRQ: Reserved1 (uint16) | SCCRP: Result Code (uint8) + Error Code (uint8)
 *  16  Framing Capabilities (uint32)  bit 0 asynchronous, bit 1 synchronous
 *  20  Bearer Capabilities (uint32)   bit 0 analog, bit 1 digital
 *  24  Maximum Channels (uint16)
 *  26  Firmware Revision (uint16)
 *  28  Host Name (64 bytes, NUL padded)
 *  92  Vendor String (64 bytes, NUL padded)
 */

export const PPTP_MAGIC_COOKIE = 0x1a2b3c4d;
export const PPTP_CONTROL_MESSAGE = 1;
export const PPTP_PROTOCOL_VERSION = 0x0100;

export const SCCRQ_LENGTH = 156;
export const SCCRP_LENGTH = 156;
export const STOP_CCRQ_LENGTH = 16;
export const STOP_CCRP_LENGTH = 16;
export const ECHO_REQUEST_LENGTH = 16;
export const ECHO_REPLY_LENGTH = 20;
/** Length of the Host Name and Vendor String fields. */
export const NAME_FIELD_LENGTH = 64;

/** Control Message Types (RFC 2637, 2.2). */
export const ControlType = {
  StartControlConnectionRequest: 1,
  StartControlConnectionReply: 2,
  StopControlConnectionRequest: 3,
  StopControlConnectionReply: 4,
  EchoRequest: 5,
  EchoReply: 6,
  OutgoingCallRequest: 7,
  OutgoingCallReply: 8,
  IncomingCallRequest: 9,
  IncomingCallReply: 10,
  IncomingCallConnected: 11,
  CallClearRequest: 12,
  CallDisconnectNotify: 13,
  WanErrorNotify: 14,
  SetLinkInfo: 15,
} as const;

const CONTROL_TYPE_NAMES: Record<number, string> = {
  1: 'Start-Control-Connection-Request',
  2: 'Start-Control-Connection-Reply',
  3: 'Stop-Control-Connection-Request',
  4: 'Stop-Control-Connection-Reply',
  5: 'Echo-Request',
  6: 'Echo-Reply',
  7: 'Outgoing-Call-Request',
  8: 'Outgoing-Call-Reply',
  9: 'Incoming-Call-Request',
  10: 'Incoming-Call-Reply',
  11: 'Incoming-Call-Connected',
  12: 'Call-Clear-Request',
  13: 'Call-Disconnect-Notify',
  14: 'WAN-Error-Notify',
  15: 'Set-Link-Info',
};

export function controlTypeName(type: number): string {
  return CONTROL_TYPE_NAMES[type] ?? `unknown control message type ${type}`;
}

/** Start-Control-Connection-Reply result codes (RFC 2637, 2.2). */
export const SCCRP_RESULT_MEANINGS: Readonly<Record<number, string>> = {
  1: 'successful channel establishment',
  2: 'general error',
  3: 'command channel already exists',
  4: 'requester is not authorized to establish a command channel',
  5: 'the protocol version of the requester is not supported',
};

/** General error codes (RFC 2637, 2.16), used when a result code is "general error". */
export const GENERAL_ERROR_MEANINGS: Readonly<Record<number, string>> = {
  0: 'no general error',
  1: 'not connected: no control connection exists yet',
  2: 'bad format: the length is wrong or the magic cookie is wrong',
  3: 'bad value: a field is out of range or a reserved field is not zero',
  4: 'no resource: insufficient resources to handle the command',
  5: 'bad call ID',
  6: 'PAC error: a PAC-specific error occurred',
};

export function resultCodeMeaning(code: number): string {
  return SCCRP_RESULT_MEANINGS[code] ?? `unknown result code ${code}`;
}

export function errorCodeMeaning(code: number): string {
  return GENERAL_ERROR_MEANINGS[code] ?? `unknown error code ${code}`;
}

export const FramingCapability = { Asynchronous: 0x1, Synchronous: 0x2 } as const;
export const BearerCapability = { Analog: 0x1, Digital: 0x2 } as const;

export interface SccrqFields {
  protocolVersion?: number;
  framing?: number;
  bearer?: number;
  maxChannels?: number;
  firmware?: number;
  hostname?: string;
  vendor?: string;
}

export const DEFAULT_SCCRQ: Required<SccrqFields> = {
  protocolVersion: PPTP_PROTOCOL_VERSION,
  framing: FramingCapability.Asynchronous | FramingCapability.Synchronous,
  bearer: BearerCapability.Analog | BearerCapability.Digital,
  maxChannels: 0,
  firmware: 1,
  hostname: 'connexa',
  vendor: 'Connexa',
};

function writeHeader(buf: Buffer, length: number, controlType: number): void {
  buf.writeUInt16BE(length, 0);
  buf.writeUInt16BE(PPTP_CONTROL_MESSAGE, 2);
  buf.writeUInt32BE(PPTP_MAGIC_COOKIE, 4);
  buf.writeUInt16BE(controlType, 8);
  buf.writeUInt16BE(0, 10);
}

/** Writes `text` as UTF-8 into a NUL-padded field; at most length - 1 bytes so a NUL always ends it. */
function writeName(buf: Buffer, offset: number, text: string | Uint8Array): void {
  buf.fill(0, offset, offset + NAME_FIELD_LENGTH);
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const n = Math.min(bytes.length, NAME_FIELD_LENGTH - 1);
  for (let i = 0; i < n; i++) buf[offset + i] = bytes[i]!;
}

/** Encodes a 156-byte Start-Control-Connection-Request. */
export function encodeSccrq(fields: SccrqFields = {}): Buffer {
  const f = { ...DEFAULT_SCCRQ, ...fields };
  const buf = Buffer.alloc(SCCRQ_LENGTH);
  writeHeader(buf, SCCRQ_LENGTH, ControlType.StartControlConnectionRequest);
  buf.writeUInt16BE(f.protocolVersion, 12);
  buf.writeUInt16BE(0, 14); // Reserved1
  buf.writeUInt32BE(f.framing >>> 0, 16);
  buf.writeUInt32BE(f.bearer >>> 0, 20);
  buf.writeUInt16BE(f.maxChannels, 24);
  buf.writeUInt16BE(f.firmware, 26);
  writeName(buf, 28, f.hostname);
  writeName(buf, 92, f.vendor);
  return buf;
}

export interface SccrpFields {
  protocolVersion?: number;
  resultCode?: number;
  errorCode?: number;
  framing?: number;
  bearer?: number;
  maxChannels?: number;
  firmware?: number;
  /** A string is written as UTF-8; raw bytes are written as they are (for odd-name tests). */
  hostname?: string | Uint8Array;
  vendor?: string | Uint8Array;
}

/** Encodes a 156-byte Start-Control-Connection-Reply (what a server sends; used by the simulator). */
export function encodeSccrp(fields: SccrpFields = {}): Buffer {
  const buf = Buffer.alloc(SCCRP_LENGTH);
  writeHeader(buf, SCCRP_LENGTH, ControlType.StartControlConnectionReply);
  buf.writeUInt16BE(fields.protocolVersion ?? PPTP_PROTOCOL_VERSION, 12);
  buf.writeUInt8(fields.resultCode ?? 1, 14);
  buf.writeUInt8(fields.errorCode ?? 0, 15);
  buf.writeUInt32BE((fields.framing ?? 0) >>> 0, 16);
  buf.writeUInt32BE((fields.bearer ?? 0) >>> 0, 20);
  buf.writeUInt16BE(fields.maxChannels ?? 1, 24);
  buf.writeUInt16BE(fields.firmware ?? 1, 26);
  writeName(buf, 28, fields.hostname ?? '');
  writeName(buf, 92, fields.vendor ?? '');
  return buf;
}

/** Encodes a 16-byte Stop-Control-Connection-Request; reason 1 = "General request to clear control connection". */
export function encodeStopCcrq(reason = 1): Buffer {
  const buf = Buffer.alloc(STOP_CCRQ_LENGTH);
  writeHeader(buf, STOP_CCRQ_LENGTH, ControlType.StopControlConnectionRequest);
  buf.writeUInt8(reason, 12);
  return buf;
}

/** Encodes a 16-byte Stop-Control-Connection-Reply (result 1 = OK). */
export function encodeStopCcrp(resultCode = 1, errorCode = 0): Buffer {
  const buf = Buffer.alloc(STOP_CCRP_LENGTH);
  writeHeader(buf, STOP_CCRP_LENGTH, ControlType.StopControlConnectionReply);
  buf.writeUInt8(resultCode, 12);
  buf.writeUInt8(errorCode, 13);
  return buf;
}

/** Encodes a 16-byte Echo-Request. */
export function encodeEchoRequest(identifier: number): Buffer {
  const buf = Buffer.alloc(ECHO_REQUEST_LENGTH);
  writeHeader(buf, ECHO_REQUEST_LENGTH, ControlType.EchoRequest);
  buf.writeUInt32BE(identifier >>> 0, 12);
  return buf;
}

/** Encodes a 20-byte Echo-Reply. */
export function encodeEchoReply(identifier: number, resultCode = 1, errorCode = 0): Buffer {
  const buf = Buffer.alloc(ECHO_REPLY_LENGTH);
  writeHeader(buf, ECHO_REPLY_LENGTH, ControlType.EchoReply);
  buf.writeUInt32BE(identifier >>> 0, 12);
  buf.writeUInt8(resultCode, 16);
  buf.writeUInt8(errorCode, 17);
  return buf;
}

/** The decoded Start-Control-Connection-Reply. */
export interface Sccrp {
  protocolVersion: number;
  resultCode: number;
  errorCode: number;
  framing: number;
  bearer: number;
  maxChannels: number;
  firmware: number;
  hostname: string;
  vendor: string;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a NUL-terminated name field. Any bytes are tolerated: valid UTF-8 is read as UTF-8,
 * anything else as latin1 (one character per byte, nothing lost), then control characters
 * (C0, DEL, C1) are removed and surrounding white space trimmed.
 */
export function decodeName(buf: Uint8Array, offset: number, length = NAME_FIELD_LENGTH): string {
  let end = offset;
  const limit = offset + length;
  let ascii = true;
  while (end < limit && buf[end] !== 0) {
    if (buf[end]! >= 0x80) ascii = false;
    end++;
  }
  if (end === offset) return '';
  const bytes = buf.subarray(offset, end);
  let text: string;
  if (ascii) {
    text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  } else {
    try {
      text = utf8Fatal.decode(bytes);
    } catch {
      text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
    }
  }
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim();
}

/** Decodes the fields of a Start-Control-Connection-Reply whose header has been validated. */
export function decodeSccrpFields(buf: Uint8Array, offset = 0): Sccrp {
  const view = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  return {
    protocolVersion: view.readUInt16BE(offset + 12),
    resultCode: view[offset + 14]!,
    errorCode: view[offset + 15]!,
    framing: view.readUInt32BE(offset + 16),
    bearer: view.readUInt32BE(offset + 20),
    maxChannels: view.readUInt16BE(offset + 24),
    firmware: view.readUInt16BE(offset + 26),
    hostname: decodeName(view, offset + 28),
    vendor: decodeName(view, offset + 92),
  };
}

/** What the reader decided. */
export type SccrpDecision =
  | { kind: 'reply'; reply: Sccrp }
  | { kind: 'not_pptp'; reason: string };

/** What a partial reply looked like when the stream ended or the deadline passed. */
export type PartialVerdict =
  | { kind: 'empty' }
  | { kind: 'not_pptp'; reason: string }
  | { kind: 'truncated'; received: number; reason: string };

const hex32 = (n: number): string => '0x' + n.toString(16).toUpperCase().padStart(8, '0');
const hex16 = (n: number): string => '0x' + n.toString(16).toUpperCase().padStart(4, '0');

/** Guesses which protocol a non-PPTP answer speaks, from its first bytes. */
export function guessProtocol(bytes: Uint8Array): string | null {
  const n = bytes.length;
  if (n === 0) return null;
  const starts = (s: string): boolean => {
    if (n < s.length) return false;
    for (let i = 0; i < s.length; i++) if (bytes[i] !== s.charCodeAt(i)) return false;
    return true;
  };
  if (starts('HTTP/') || starts('HTTP') || starts('<!DOCTYPE') || starts('<html') || starts('<HTML')) return 'HTTP';
  if (starts('SSH-')) return 'an SSH banner';
  if (n >= 2 && bytes[0] === 0x16 && bytes[1] === 0x03) return 'TLS';
  if (n >= 2 && bytes[0] === 0x15 && bytes[1] === 0x03) return 'a TLS alert';
  if (starts('220')) return 'an FTP or SMTP greeting';
  if (starts('+OK')) return 'a POP3 greeting';
  if (starts('* OK')) return 'an IMAP greeting';
  if (starts('RFB ')) return 'VNC';
  if (n >= 4 && bytes[0] === 0x03 && bytes[1] === 0x00) return 'RDP (TPKT)';
  if (n >= 4 && bytes[0] === 0x00 && bytes[1] === 0x00 && bytes[2] === 0x00 && bytes[3] === 0x00) return null;
  // Mostly printable text?
  let printable = 0;
  const m = Math.min(n, 32);
  for (let i = 0; i < m; i++) {
    const b = bytes[i]!;
    if ((b >= 0x20 && b < 0x7f) || b === 0x0d || b === 0x0a || b === 0x09) printable++;
  }
  return printable === m ? 'text' : null;
}

/**
 * Removes the quoted banner that earlier versions stored in not_pptp reasons (`it sent "SSH-2.0-…"
 * (looks like an SSH banner)`), for records written before answers were only described.
 */
export function withoutQuotedAnswer(text: string): string {
  return text.replace(/it sent "(?:[^"\\]|\\.)*"(?: \(looks like ([^)]{1,40})\))?/g, (_m, guess?: string) => `it sent an answer${guess ? `, starts like ${guess}` : ''}`);
}

/**
 * What came back, without the bytes themselves: the reason is shown to viewers and written to the
 * failures CSV, and a banner of this host's or anyone's service (versions, hostnames, control
 * characters) has no business there. A length and a protocol guess from a fixed list is enough.
 */
function describeAnswer(bytes: Uint8Array): string {
  const guess = guessProtocol(bytes);
  const n = bytes.length;
  return `it sent ${n}${n >= SCCRP_LENGTH ? ' or more' : ''} byte${n === 1 ? '' : 's'}${guess ? `, starts like ${guess}` : ''}`;
}

/**
 * Checks the header fields present in the first `n` bytes of `bytes`, in the order that best says
 * what came back: magic cookie (the field that makes it PPTP at all), message type, length,
 * control message type. Returns null when everything present is valid.
 */
function checkHeader(bytes: Uint8Array, n: number): string | null {
  const at16 = (o: number): number => (bytes[o]! << 8) | bytes[o + 1]!;
  if (n >= 8) {
    const cookie = ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0;
    if (cookie !== PPTP_MAGIC_COOKIE) {
      return `not PPTP: magic cookie ${hex32(cookie)} (expected ${hex32(PPTP_MAGIC_COOKIE)}); ${describeAnswer(bytes.subarray(0, n))}`;
    }
  }
  if (n >= 4) {
    const type = at16(2);
    if (type !== PPTP_CONTROL_MESSAGE) {
      return `not PPTP: message type ${type} (expected 1, a control message); ${describeAnswer(bytes.subarray(0, n))}`;
    }
  }
  if (n >= 2) {
    const length = at16(0);
    if (length !== SCCRP_LENGTH) {
      const what = n >= 10 ? ` carrying a ${controlTypeName(at16(8))}` : '';
      return `not PPTP: length field ${length}${what} (a Start-Control-Connection-Reply is ${SCCRP_LENGTH} bytes)${n >= 8 ? '' : `; ${describeAnswer(bytes.subarray(0, n))}`}`;
    }
  }
  if (n >= 10) {
    const control = at16(8);
    if (control !== ControlType.StartControlConnectionReply) {
      return `not PPTP: control message type ${control} (${controlTypeName(control)}) where a Start-Control-Connection-Reply (2) was expected`;
    }
  }
  return null;
}

/**
 * Reads a Start-Control-Connection-Reply from a stream of TCP segments.
 *
 * Feed every chunk to push(); it returns null while it needs more bytes, or a decision. It never
 * holds more than 156 bytes: it decides as soon as the 8 bytes that carry the magic cookie show a
 * non-PPTP answer, and otherwise when 156 bytes have arrived; bytes after that are not looked at.
 * When the stream ends (or the deadline passes) first, partial() says what the bytes so far were.
 */
export class SccrpReader {
  private buf: Buffer | null = null;
  private have = 0;
  private decided = false;

  /** Bytes received so far (at most 156). */
  get received(): number {
    return this.have;
  }

  push(chunk: Uint8Array): SccrpDecision | null {
    if (this.decided || chunk.length === 0) return null;
    // Fast path: the whole reply (or enough to judge it) in the first segment, no copy.
    if (this.have === 0 && chunk.length >= SCCRP_LENGTH) {
      return this.decide(chunk, SCCRP_LENGTH);
    }
    if (this.buf === null) this.buf = Buffer.allocUnsafe(SCCRP_LENGTH);
    const take = Math.min(chunk.length, SCCRP_LENGTH - this.have);
    this.buf.set(take === chunk.length ? chunk : chunk.subarray(0, take), this.have);
    const before = this.have;
    this.have += take;
    if (this.have >= SCCRP_LENGTH) return this.decide(this.buf, SCCRP_LENGTH);
    // Judge the header once the magic cookie is complete (or, later, the control type).
    if ((before < 8 && this.have >= 8) || (before < 10 && this.have >= 10)) {
      const bad = checkHeader(this.buf, this.have);
      if (bad !== null) {
        this.decided = true;
        return { kind: 'not_pptp', reason: bad };
      }
    }
    return null;
  }

  /** What the bytes so far amount to, for a stream that ended before a decision. */
  partial(): PartialVerdict {
    if (this.have === 0 || this.buf === null) return { kind: 'empty' };
    const bad = checkHeader(this.buf, this.have);
    if (bad !== null) return { kind: 'not_pptp', reason: bad };
    return {
      kind: 'truncated',
      received: this.have,
      reason: `${this.have} of the ${SCCRP_LENGTH} bytes of a Start-Control-Connection-Reply`,
    };
  }

  private decide(bytes: Uint8Array, n: number): SccrpDecision {
    this.decided = true;
    const bad = checkHeader(bytes, n);
    if (bad !== null) return { kind: 'not_pptp', reason: bad };
    return { kind: 'reply', reply: decodeSccrpFields(bytes, 0) };
  }
}

/** Decodes a complete Start-Control-Connection-Reply from one buffer (at least 156 bytes). */
export function decodeSccrp(bytes: Uint8Array): SccrpDecision {
  const reader = new SccrpReader();
  const d = reader.push(bytes);
  if (d !== null) return d;
  const p = reader.partial();
  return { kind: 'not_pptp', reason: p.kind === 'not_pptp' ? p.reason : `too short: ${bytes.length} bytes` };
}

/** "0x0100" style. */
export function formatProtocolVersion(v: number): string {
  return hex16(v);
}
