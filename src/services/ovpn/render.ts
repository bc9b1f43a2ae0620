/**
 * The text of a node's OpenVPN server configuration and of its client profile. Pure functions:
 * every path, address and key comes in as an argument.
 *
 * Directives are the ones verified on this machine kind with OpenVPN 2.6 (see
 * shared/notes/network-lab.md): UDP, `dev tun`, `topology subnet`, `dh none` with EC keys,
 * `tls-crypt`. Three more matter for safety:
 * - `crl-verify`: a revoked profile is refused at its next handshake (OpenVPN re-reads the CRL file
 *   when it changes);
 * - `verify-x509-name connexa-node-<id> name` on the server: every node's server trusts the same CA,
 *   so without it a profile of node A would also connect through node B;
 * - `verify-x509-name connexa-server name` + `remote-cert-tls server` in the profile: a client never
 *   accepts another client's certificate posing as a server.
 */
import { clientCommonName, SERVER_CN } from './names.ts';
import type { OvpnLayout } from './layout.ts';

export interface ServerConfigInput {
  nodeId: string;
  /** For the comment line only. */
  nodeLabel: string;
  layout: OvpnLayout;
  paths: { ca: string; cert: string; key: string; tlsCrypt: string; crl: string; pidFile: string };
  maxClients?: number;
  /** IPv4 resolvers pushed to the clients (reached through the node's tunnel); none: push none. */
  dns?: readonly string[];
  /** Switch to this account once started (the CRL must then be readable by it). */
  runAs?: { user: string; group: string } | null;
}

/**
 * The IPv6 side of every client: a fixed ULA pair pushed to every client (the manual's block-ipv6
 * recipe). Clients never send IPv6 to the server (block-ipv6 answers it on the client), so one pair
 * for all is harmless, and the server's tun needs no IPv6.
 */
export const CLIENT_IPV6 = { local: 'fd63:6e78:6f76::2/64', remote: 'fd63:6e78:6f76::1' } as const;

/** Quotes a path for OpenVPN's config parser (it splits on spaces and reads backslashes). */
export function quoteConfigWord(s: string): string {
  if (/[\r\n]/.test(s)) throw new Error('an OpenVPN configuration word cannot contain a line break');
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function renderServerConfig(i: ServerConfigInput): string {
  const q = quoteConfigWord;
  const l = i.layout;
  return [
    `# Connexa: OpenVPN server of node ${i.nodeId} (${oneLine(i.nodeLabel)}). Generated at every start; edits are lost.`,
    `port ${l.port}`,
    'proto udp',
    `dev ${l.dev}`,
    'dev-type tun',
    'topology subnet',
    `server ${l.network} ${l.netmask}`,
    `max-clients ${i.maxClients ?? 64}`,
    `ca ${q(i.paths.ca)}`,
    `cert ${q(i.paths.cert)}`,
    `key ${q(i.paths.key)}`,
    'dh none',
    `tls-crypt ${q(i.paths.tlsCrypt)}`,
    `crl-verify ${q(i.paths.crl)}`,
    'remote-cert-tls client',
    `verify-x509-name ${clientCommonName(i.nodeId)} name`,
    'tls-version-min 1.2',
    // Every client leaves through the node; the host's own route is never used (a blackhole
    // route stands in for the tunnel while it is down, see routing.ts).
    // IPv6 too: without a route for it a dual-stack client would send IPv6 around the node. It is
    // routed into the tunnel and refused there (block-ipv6), as the node has no IPv6 to give.
    'push "redirect-gateway def1 ipv6 bypass-dhcp"',
    `push "ifconfig-ipv6 ${CLIENT_IPV6.local} ${CLIENT_IPV6.remote}"`,
    'push "block-ipv6"',
    'block-ipv6',
    // The resolvers, reached through the tunnel like everything else; Windows is also told to stop
    // asking the resolvers of its other adapters (other platforms ignore it with a warning).
    ...(i.dns ?? []).map((a) => `push "dhcp-option DNS ${a}"`),
    ...(i.dns?.length ? ['push "block-outside-dns"'] : []),
    // One profile per node, handed to its users: a second user must not disconnect the first.
    'duplicate-cn',
    'keepalive 10 60',
    // Keys and the tun device survive an internal restart, which nobody could redo after dropping root.
    'persist-key',
    'persist-tun',
    ...(i.runAs ? [`user ${i.runAs.user}`, `group ${i.runAs.group}`] : []),
    'explicit-exit-notify 1',
    `writepid ${q(i.paths.pidFile)}`,
    'verb 3',
    '',
  ].join('\n');
}

export interface ClientProfileInput {
  nodeId: string;
  nodeLabel: string;
  remoteHost: string;
  port: number;
  caPem: string;
  certPem: string;
  keyPem: string;
  tlsCryptKey: string;
}

const block = (tag: string, body: string) => `<${tag}>\n${body.trim()}\n</${tag}>`;

/** One self-contained .ovpn file: every key and certificate inline. */
export function renderClientProfile(i: ClientProfileInput): string {
  if (!/^[A-Za-z0-9.:-]+$/.test(i.remoteHost)) throw new Error(`"${i.remoteHost}" is not a host name or address OpenVPN can use in \`remote\``);
  return [
    `# Connexa node ${i.nodeId} (${oneLine(i.nodeLabel)})`,
    '# Keep this file private: it holds the private key that lets you in.',
    'client',
    'dev tun',
    'proto udp',
    `remote ${i.remoteHost} ${i.port}`,
    'resolv-retry infinite',
    'nobind',
    'persist-key',
    'persist-tun',
    'remote-cert-tls server',
    `verify-x509-name ${SERVER_CN} name`,
    'tls-version-min 1.2',
    'verb 3',
    block('ca', i.caPem),
    block('cert', i.certPem),
    block('key', i.keyPem),
    block('tls-crypt', i.tlsCryptKey),
    '',
  ].join('\n');
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 120);
}
