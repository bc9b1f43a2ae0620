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
}

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
    'push "redirect-gateway def1 bypass-dhcp"',
    'keepalive 10 60',
    'persist-key',
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
