/**
 * Hands a bundle to the person who asked, by the secret path only (DM or private reply per
 * SECRETS_DELIVERY; the terminal writes it to data/outbox), split under the platform's attachment limit.
 */
import type { Replies } from '../src/chat/command.ts';
import { plural } from '../src/chat/render.ts';
import type { BundleValue } from '../src/gateway/bundles.ts';
import type { Logger } from '../src/log.ts';
import { buildBundles, BundleTooSmall } from '../src/services/bundle/bundle.ts';

export interface DeliveredBundle {
  nodes: number;
  files: number;
  bytes: number;
}

/** Zips and sends `bundle`; returns null (after saying why) when there is nothing to send. */
export async function deliverBundle(bundle: BundleValue, to: Pick<Replies, 'secret' | 'maxFileBytes'>, intro: string): Promise<DeliveredBundle | null> {
  const { nodes: entries, skipped, ovpnServerNote: note } = bundle;
  if (!entries.length) return null;
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
  for (const w of bundle.warnings) lines.push(`Note: ${w}.`);
  await to.secret({ text: lines.join('\n'), files });
  return { nodes: entries.length, files: files.length, bytes: files.reduce((a, f) => a + f.data.length, 0) };
}

/**
 * After a job whose stage leaves a bundle (start, move): sends it, or says privately why it could
 * not be built. Delivering is the command's part; the stage only builds the value.
 */
export async function deliverJobBundle(bundle: BundleValue | null, ctx: { reply: Pick<Replies, 'secret' | 'maxFileBytes'>; services: { log: Logger } }, job: { id: string; kind: string }, intro: string): Promise<void> {
  if (!bundle) return;
  try {
    await deliverBundle(bundle, ctx.reply, intro);
  } catch (err) {
    ctx.services.log.error(`the ${job.kind} bundle could not be delivered`, { job: job.id, error: (err as Error).message });
    await ctx.reply.secret(`❌ The bundle of ${job.kind} ${job.id} could not be built: ${(err as Error).message}. Try \`bundle status:online\`.`);
  }
}
