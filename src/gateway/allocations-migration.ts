/**
 * Up to now the OpenVPN port of each node lived in DATA_DIR/ovpn/allocations.json; it now lives in
 * the node record (node.ovpn.port), next to the certificate it goes with. At the first start after
 * the upgrade the file is read once into the nodes and, once the store has them on disk, removed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log.ts';
import { readTextOrNull } from '../services/private-files.ts';
import type { Store } from '../store/store.ts';

const fileSchema = z.object({ version: z.literal(1), ports: z.record(z.string(), z.number().int().min(1).max(65535)) });

/** Returns how many nodes got their port from the file (0 when there is no file). */
export async function migrateOvpnAllocations(dataDir: string, store: Store, log: Logger): Promise<number> {
  const file = path.join(dataDir, 'ovpn', 'allocations.json');
  const text = readTextOrNull(file);
  if (text === null) return 0;
  const parsed = fileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    log.error('DATA_DIR/ovpn/allocations.json is not a Connexa OpenVPN allocation file; it was left untouched', { file });
    return 0;
  }
  if (store.readOnly) return 0; // the ports could not be saved: read the file again next time
  let moved = 0;
  for (const [id, port] of Object.entries(parsed.data.ports)) {
    const node = store.get(id);
    // A node deleted while the bot was down: its port is simply free.
    if (!node?.ovpn || node.ovpn.port != null) continue;
    store.patchNode(id, { ovpn: { ...node.ovpn, port } });
    moved++;
  }
  await store.flush();
  fs.rmSync(file, { force: true });
  log.info('OpenVPN ports moved from allocations.json into the node records', { nodes: moved });
  return moved;
}
