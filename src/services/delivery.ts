/**
 * Hands a bundle to the person who asked, by the secret path only (DM or private reply per
 * SECRETS_DELIVERY; the terminal writes it to data/outbox), split under the platform's attachment limit.
 */
import type { Replies } from '../chat/command.ts';
import { plural } from '../chat/render.ts';
import type { FleetNode } from '../fleet/node.ts';
import { buildBundles, BundleTooSmall } from './bundle/bundle.ts';
import type { ServiceManager } from './manager.ts';

export interface DeliveredBundle {
  nodes: number;
  files: number;
  bytes: number;
}

/** Builds and sends the bundle for `nodes`; returns null (after saying why) when there is nothing to send. */
export async function deliverBundle(services: ServiceManager, to: Pick<Replies, 'secret' | 'maxFileBytes'>, nodes: readonly FleetNode[], intro: string): Promise<DeliveredBundle | null> {
  const { nodes: entries, skipped } = await services.bundleNodes(nodes);
  if (!entries.length) return null;
  const note = services.ovpnServerNote();
  let files;
  try {
    files = await buildBundles(entries, { maxBytes: to.maxFileBytes, ovpnServerNote: note });
  } catch (err) {
    if (!(err instanceof BundleTooSmall)) throw err;
    await to.secret(`❌ ${intro}: the bundle cannot be sent here: ${err.message}.`);
    return null;
  }
  const noProfile = entries.filter((e) => !e.profile).length;
  const lines = [
    `🔐 ${intro}: ${plural(entries.length, 'node')} in ${files.length === 1 ? 'one zip' : `${files.length} zips (split under this platform's attachment limit)`}. Keep it private: it holds passwords and private keys.`,
  ];
  if (note) lines.push(`⚠️ ${note}.`);
  if (noProfile) lines.push(`${plural(noProfile, 'node')} without an OpenVPN profile (see README.txt).`);
  if (skipped.length) lines.push(`Not included: ${plural(skipped.length, 'node')} without services.`);
  for (const w of services.publicHosts().warnings) lines.push(`Note: ${w}.`);
  await to.secret({ text: lines.join('\n'), files });
  return { nodes: entries.length, files: files.length, bytes: files.reduce((a, f) => a + f.data.length, 0) };
}
