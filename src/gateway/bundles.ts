/**
 * A bundle as a value: for each node, its SOCKS line (the host of the gateway that runs it) and its
 * OpenVPN profile (`remote <that gateway's OpenVPN host> <the node's port>`, signed by the bot's CA),
 * built from node records alone. A command delivers it (commands/delivery.ts): zipping, splitting
 * under the platform's limit and sending privately are the chat side's business.
 */
import type { FleetNode } from '../fleet/node.ts';
import { profileFileName, type BundleNode } from '../services/bundle/bundle.ts';
import { ovpnServerNote } from '../services/host-capability.ts';
import type { Pki } from '../services/ovpn/pki.ts';
import { renderClientProfile } from '../services/ovpn/render.ts';
import type { GatewayDescription } from './port.ts';
import { nodeLabel } from './target.ts';

export interface BundleValue {
  nodes: BundleNode[];
  /** Nodes without services (not included). */
  skipped: Array<{ nodeId: string; reason: string }>;
  /** Said wherever the bundle goes when a gateway of these nodes cannot run their OpenVPN servers. */
  ovpnServerNote: string | null;
  /** A public host that is guessed, and the like. */
  warnings: string[];
}

const isLive = (n: FleetNode) => n.status === 'online' || n.status === 'offline';

/** `describe` answers for a node's gateway (null: unknown gateway). */
export async function buildBundleValue(nodes: readonly FleetNode[], describe: (n: FleetNode) => Promise<GatewayDescription | null>, pki: () => Promise<Pki>): Promise<BundleValue> {
  const out: BundleNode[] = [];
  const skipped: BundleValue['skipped'] = [];
  const notes = new Set<string>();
  const warnings = new Set<string>();
  let ca: Pki | null = null;
  for (const n of nodes) {
    const gw = isLive(n) && n.socks ? await describe(n) : null;
    if (!isLive(n) || !n.socks || !gw) {
      skipped.push({ nodeId: n.id, reason: gw === null && isLive(n) && n.socks ? `its gateway ${n.gateway} is not known` : `${n.status}: no services` });
      continue;
    }
    const note = ovpnServerNote(gw.ovpn);
    if (note) notes.add(note);
    for (const w of gw.warnings) warnings.add(w);
    const entry: BundleNode = {
      nodeId: n.id,
      label: nodeLabel(n),
      socksLine: `${gw.publicHost.socks}:${n.socks.port}:${n.socks.login}:${n.socks.password}`,
      profile: null,
      profileName: profileFileName(n.id, n.ip),
    };
    const port = n.ovpn?.port;
    if (!n.ovpn || n.ovpn.revokedAt) entry.profileMissing = 'no OpenVPN certificate';
    else if (port == null) entry.profileMissing = 'no OpenVPN port allocated';
    else {
      ca ??= await pki();
      const m = ca.clientMaterial(n.ovpn.serial);
      if (!m) entry.profileMissing = 'its certificate or key is missing from DATA_DIR/pki';
      else entry.profile = renderClientProfile({ nodeId: n.id, nodeLabel: entry.label, remoteHost: gw.publicHost.ovpn, port, caPem: ca.caPem(), certPem: m.certPem, keyPem: m.keyPem, tlsCryptKey: ca.tlsCryptKey() });
    }
    out.push(entry);
  }
  return { nodes: out, skipped, ovpnServerNote: [...notes].join('; ') || null, warnings: [...warnings] };
}
