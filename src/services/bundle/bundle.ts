/**
 * Bundles: what a user is handed for a set of online nodes — one zip with each node's `.ovpn`
 * profile, a `socks.txt` (`host:port:login:password` per line) and a README.txt.
 *
 * Chat platforms cap attachments (PortLimits.maxFileBytes). A bundle that would be larger is split
 * into several complete zips ("part 1 of 3"), each with its own socks.txt and README for the nodes
 * it holds, so every part is usable on its own. Nodes are packed greedily by their compressed size
 * (measured with zlib at archiver's level); every zip is then checked against the limit and a part
 * that still came out too large is split again, so the limit holds whatever the estimate said.
 */
import { deflateRawSync } from 'node:zlib';
import { makeZip, ZIP_LEVEL, type ZipEntry } from './zip.ts';

export interface BundleNode {
  nodeId: string;
  /** e.g. `203.0.113.5 · US, Ohio, Akron` */
  label: string;
  /** `host:port:login:password` */
  socksLine: string;
  /** The .ovpn text, or null when the node has no usable profile (then the README says why). */
  profile: string | null;
  profileName: string;
  profileMissing?: string;
}

export interface BundleOptions {
  maxBytes: number;
  now?: Date;
  /** Said plainly in every README when the OpenVPN server side is not running on the bot's host. */
  ovpnServerNote?: string | null;
}

export class BundleTooSmall extends Error {}

const ZIP_ENTRY_OVERHEAD = 30 + 16 + 46; // local header, data descriptor, central directory record
const ZIP_END_OVERHEAD = 22 + 64;

/** A file name safe on every OS: letters, digits, dot, dash, underscore. */
export function safeFileName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 80) || 'node';
}

export function profileFileName(nodeId: string, ip: string): string {
  return `${safeFileName(`${nodeId}-${ip}`)}.ovpn`;
}

function compressedSize(data: string): number {
  return deflateRawSync(Buffer.from(data, 'utf8'), { level: ZIP_LEVEL }).length;
}

function entrySize(name: string, data: string): number {
  return ZIP_ENTRY_OVERHEAD + 2 * Buffer.byteLength(name) + compressedSize(data);
}

export function readme(nodes: readonly BundleNode[], part: { index: number; of: number }, o: BundleOptions): string {
  const when = (o.now ?? new Date()).toISOString().replace('T', ' ').slice(0, 19);
  const lines = [
    `Connexa bundle — ${nodes.length} node${nodes.length === 1 ? '' : 's'}, made ${when} UTC${part.of > 1 ? ` (part ${part.index} of ${part.of})` : ''}`,
    '',
    'KEEP THESE FILES PRIVATE: socks.txt holds passwords and every .ovpn file holds a private key.',
    '',
    'socks.txt',
    '  One SOCKS5 proxy per line: host:port:login:password. Every proxy requires its login and',
    "  password and connects through its node's PPTP tunnel. A host name you give the proxy",
    "  (socks5h, curl --socks5-hostname) is looked up by the bot's host with its own resolver,",
    "  outside the tunnel; only the connection goes through the node:",
    '    curl --socks5-hostname LOGIN:PASSWORD@HOST:PORT https://example.com/',
    '  To keep the lookup off that host, resolve the name yourself and give the proxy the address:',
    '    curl --socks5 LOGIN:PASSWORD@HOST:PORT --resolve example.com:443:ADDRESS https://example.com/',
    '',
    '*.ovpn',
    '  One OpenVPN profile per node (OpenVPN 2.5 or later, OpenVPN Connect 3). Import the file; all',
    '  your traffic then leaves through that node. Command line: openvpn --config FILE.ovpn',
    '  A profile stops working for good when its node is stopped (the certificate is revoked).',
    '  Several people may use the same profile at once; they all leave with the node address.',
    '  IPv6 is blocked while connected (the node has none), and DNS goes through the node. On Linux,',
    '  DNS applies only with a resolver script (update-resolv-conf) or NetworkManager; if your',
    '  kernel has IPv6 switched off, add the line: pull-filter ignore "ifconfig-ipv6"',
  ];
  if (o.ovpnServerNote) lines.push('', `NOTE: ${o.ovpnServerNote}`);
  lines.push('', 'Nodes:');
  for (const n of nodes) {
    lines.push(`  ${n.nodeId}  ${n.label}`);
    lines.push(`      socks5  ${n.socksLine.split(':').slice(0, 2).join(':')}`);
    lines.push(`      openvpn ${n.profile ? n.profileName : `none (${n.profileMissing ?? 'no profile'})`}`);
  }
  return `${lines.join('\n')}\n`;
}

function entriesFor(nodes: readonly BundleNode[], part: { index: number; of: number }, o: BundleOptions): ZipEntry[] {
  const entries: ZipEntry[] = [
    { name: 'README.txt', data: readme(nodes, part, o) },
    { name: 'socks.txt', data: `${nodes.map((n) => n.socksLine).join('\n')}\n` },
  ];
  for (const n of nodes) if (n.profile) entries.push({ name: n.profileName, data: n.profile });
  return entries;
}

/** Groups nodes so each group's zip stays under maxBytes by the compressed-size estimate. */
export function planParts(nodes: readonly BundleNode[], o: BundleOptions): BundleNode[][] {
  // README and socks.txt of a part grow with its nodes; estimate them per node, generously.
  const fixed = ZIP_END_OVERHEAD + entrySize('README.txt', readme([], { index: 99, of: 99 }, o)) + ZIP_ENTRY_OVERHEAD + 2 * 'socks.txt'.length;
  const perNode = (n: BundleNode) => (n.profile ? entrySize(n.profileName, n.profile) : 0) + Buffer.byteLength(n.socksLine) + 1 + 200 + Buffer.byteLength(n.label);
  const budget = Math.floor(o.maxBytes * 0.97); // a margin for what the estimate cannot see
  const parts: BundleNode[][] = [];
  let current: BundleNode[] = [];
  let size = fixed;
  for (const n of nodes) {
    const s = perNode(n);
    if (fixed + s > budget) throw new BundleTooSmall(`one node's files (${fixed + s} bytes zipped) do not fit the ${o.maxBytes}-byte attachment limit`);
    if (current.length && size + s > budget) {
      parts.push(current);
      current = [];
      size = fixed;
    }
    current.push(n);
    size += s;
  }
  if (current.length) parts.push(current);
  return parts;
}

/** Builds the bundle: one zip, or several when one would pass maxBytes. */
/** A zip, ready to attach (the chat port's OutgoingFile has this shape; services do not import the chat layer). */
export interface BundleFile {
  name: string;
  data: Buffer;
  contentType: string;
}

export async function buildBundles(nodes: readonly BundleNode[], o: BundleOptions): Promise<BundleFile[]> {
  if (!nodes.length) return [];
  const now = o.now ?? new Date();
  const stamp = now.toISOString().replace(/[:.]/g, '-').slice(0, 19);
  let groups = planParts(nodes, o);
  for (let attempt = 0; attempt < 6; attempt++) {
    const zips: Buffer[] = [];
    let over = -1;
    for (let i = 0; i < groups.length; i++) {
      const zip = await makeZip(entriesFor(groups[i]!, { index: i + 1, of: groups.length }, { ...o, now }), now);
      if (zip.length > o.maxBytes) {
        over = i;
        break;
      }
      zips.push(zip);
    }
    if (over < 0) {
      return zips.map((data, i) => ({
        name: groups.length === 1 ? `connexa-bundle-${stamp}.zip` : `connexa-bundle-${stamp}-part${i + 1}of${groups.length}.zip`,
        data,
        contentType: 'application/zip',
      }));
    }
    // The estimate was wrong for this part: split it in two and build again.
    const g = groups[over]!;
    if (g.length < 2) throw new BundleTooSmall(`the files of node ${g[0]!.nodeId} do not fit the ${o.maxBytes}-byte attachment limit`);
    const half = Math.ceil(g.length / 2);
    groups = [...groups.slice(0, over), g.slice(0, half), g.slice(half), ...groups.slice(over + 1)];
  }
  throw new BundleTooSmall(`the bundle could not be split under the ${o.maxBytes}-byte attachment limit`);
}
