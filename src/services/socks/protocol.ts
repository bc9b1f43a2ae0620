/**
 * The SOCKS5 wire format (RFC 1928) and username/password sub-negotiation (RFC 1929), as pure
 * functions over buffers. Each parser says whether it needs more bytes, found garbage, or read a
 * message (and how many bytes it took), so the server can feed it TCP chunks of any size.
 */
import net from 'node:net';

export const SOCKS_VERSION = 0x05;
/** RFC 1929: the version of the username/password sub-negotiation. */
export const AUTH_VERSION = 0x01;

export const Method = { NO_AUTH: 0x00, USER_PASS: 0x02, NO_ACCEPTABLE: 0xff } as const;
export const Command = { CONNECT: 0x01, BIND: 0x02, UDP_ASSOCIATE: 0x03 } as const;
export const AddressType = { IPV4: 0x01, DOMAIN: 0x03, IPV6: 0x04 } as const;

/** Reply codes (RFC 1928 section 6). */
export const Reply = {
  SUCCEEDED: 0x00,
  GENERAL_FAILURE: 0x01,
  NOT_ALLOWED: 0x02,
  NETWORK_UNREACHABLE: 0x03,
  HOST_UNREACHABLE: 0x04,
  CONNECTION_REFUSED: 0x05,
  TTL_EXPIRED: 0x06,
  COMMAND_NOT_SUPPORTED: 0x07,
  ADDRESS_TYPE_NOT_SUPPORTED: 0x08,
} as const;
export type ReplyCode = (typeof Reply)[keyof typeof Reply];

export type Parsed<T> = { status: 'more' } | { status: 'invalid'; reason: string } | { status: 'ok'; value: T; consumed: number };

const MORE = { status: 'more' } as const;
const invalid = (reason: string) => ({ status: 'invalid', reason }) as const;

/** VER NMETHODS METHODS... */
export function parseGreeting(buf: Buffer): Parsed<{ methods: number[] }> {
  if (buf.length < 2) return MORE;
  if (buf[0] !== SOCKS_VERSION) return invalid(`not SOCKS5 (version byte ${buf[0]})`);
  const n = buf[1]!;
  if (n === 0) return invalid('no authentication methods offered');
  if (buf.length < 2 + n) return MORE;
  return { status: 'ok', value: { methods: [...buf.subarray(2, 2 + n)] }, consumed: 2 + n };
}

/** VER ULEN UNAME PLEN PASSWD (RFC 1929). Kept as bytes: credentials are compared, never decoded. */
export function parseAuth(buf: Buffer): Parsed<{ username: Buffer; password: Buffer }> {
  if (buf.length < 2) return MORE;
  if (buf[0] !== AUTH_VERSION) return invalid(`bad username/password version ${buf[0]}`);
  const ulen = buf[1]!;
  if (buf.length < 2 + ulen + 1) return MORE;
  const plen = buf[2 + ulen]!;
  const end = 3 + ulen + plen;
  if (buf.length < end) return MORE;
  return { status: 'ok', value: { username: buf.subarray(2, 2 + ulen), password: buf.subarray(3 + ulen, end) }, consumed: end };
}

export interface ConnectRequest {
  command: number;
  addressType: number;
  /** Dotted IPv4, a domain name as sent, or an IPv6 literal. */
  host: string;
  port: number;
}

/** VER CMD RSV ATYP DST.ADDR DST.PORT */
export function parseRequest(buf: Buffer): Parsed<ConnectRequest> {
  if (buf.length < 5) return MORE;
  if (buf[0] !== SOCKS_VERSION) return invalid(`bad request version ${buf[0]}`);
  const command = buf[1]!;
  const addressType = buf[3]!;
  let host: string;
  let at: number;
  switch (addressType) {
    case AddressType.IPV4:
      if (buf.length < 10) return MORE;
      host = `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`;
      at = 8;
      break;
    case AddressType.DOMAIN: {
      const len = buf[4]!;
      if (len === 0) return invalid('empty domain name');
      if (buf.length < 5 + len + 2) return MORE;
      host = buf.subarray(5, 5 + len).toString('latin1');
      at = 5 + len;
      break;
    }
    case AddressType.IPV6: {
      if (buf.length < 22) return MORE;
      const groups: string[] = [];
      for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(4 + i * 2).toString(16));
      host = groups.join(':');
      at = 20;
      break;
    }
    default:
      return { status: 'ok', value: { command, addressType, host: '', port: 0 }, consumed: buf.length };
  }
  return { status: 'ok', value: { command, addressType, host, port: buf.readUInt16BE(at) }, consumed: at + 2 };
}

/** VER REP RSV ATYP BND.ADDR BND.PORT, with an IPv4 bound address (0.0.0.0:0 on failures). */
export function buildReply(code: ReplyCode, boundAddress = '0.0.0.0', boundPort = 0): Buffer {
  const out = Buffer.alloc(10);
  out[0] = SOCKS_VERSION;
  out[1] = code;
  out[3] = AddressType.IPV4;
  const parts = net.isIPv4(boundAddress) ? boundAddress.split('.').map(Number) : [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) out[4 + i] = parts[i]!;
  out.writeUInt16BE(boundPort, 8);
  return out;
}

export const methodReply = (method: number): Buffer => Buffer.from([SOCKS_VERSION, method]);
export const authReply = (ok: boolean): Buffer => Buffer.from([AUTH_VERSION, ok ? 0x00 : 0x01]);

/** The reply code for a failed outbound connect or lookup, by Node's error code. */
export function replyForError(err: NodeJS.ErrnoException): ReplyCode {
  switch (err.code) {
    case 'ECONNREFUSED':
      return Reply.CONNECTION_REFUSED;
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL': // the egress address is gone: the node's tunnel is down
      return Reply.NETWORK_UNREACHABLE;
    case 'EHOSTUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ENODATA':
      return Reply.HOST_UNREACHABLE;
    case 'ETIMEDOUT':
      return Reply.TTL_EXPIRED;
    default:
      return Reply.GENERAL_FAILURE;
  }
}
