import { STORE_VERSION } from './schema.ts';

/**
 * Migrations from version N to N+1, applied in order to the raw JSON before validation.
 * Version 0 is a bare `{ nodes: [...] }` file (what a hand-written or pre-release store looks like).
 */
type Migration = (raw: Record<string, unknown>) => Record<string, unknown>;

const MIGRATIONS: Record<number, Migration> = {
  0: (raw) => {
    const nodes = Array.isArray(raw.nodes) ? raw.nodes : [];
    let maxId = 0;
    for (const n of nodes as Array<Record<string, unknown>>) {
      const m = /^n(\d+)$/.exec(String(n.id ?? ''));
      if (m) maxId = Math.max(maxId, Number(m[1]));
    }
    return {
      version: 1,
      meta: { nextNodeId: maxId + 1, nextJobId: 1, createdAt: new Date().toISOString() },
      nodes,
      jobs: Array.isArray(raw.jobs) ? raw.jobs : [],
      settings: {},
    };
  },
  // Version 2 adds the audit trail.
  1: (raw) => ({ ...raw, version: 2, audit: [] }),
  // Version 3 adds where the IP database places a node (geo: null until located; a migration stays
  // pure, so old nodes are located by their next import). speed.exitIp/exitGeo are optional.
  2: (raw) => ({
    ...raw,
    version: 3,
    nodes: Array.isArray(raw.nodes) ? (raw.nodes as Array<Record<string, unknown>>).map((n) => ({ geo: null, ...n })) : raw.nodes,
  }),
  // Version 4 writes each place once, in a table after the nodes (places.ts); the data is the same,
  // and a file with locations inline still reads (it is rewritten with the table on open).
  3: (raw) => ({ ...raw, version: 4 }),
};

export type MigrationOutcome = { ok: true; data: Record<string, unknown>; migratedFrom: number | null } | { ok: false; reason: string };

export function migrate(raw: unknown): MigrationOutcome {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, reason: 'the top level is not a JSON object' };
  let data = raw as Record<string, unknown>;
  const start = data.version === undefined ? 0 : data.version;
  if (typeof start !== 'number' || !Number.isInteger(start) || start < 0) return { ok: false, reason: `version ${JSON.stringify(start)} is not a whole number` };
  if (start > STORE_VERSION) return { ok: false, reason: `it was written by a newer Connexa (store version ${start}, this one reads up to ${STORE_VERSION})` };
  for (let v = start; v < STORE_VERSION; v++) {
    const step = MIGRATIONS[v];
    if (!step) return { ok: false, reason: `no migration from store version ${v}` };
    data = step(data);
  }
  return { ok: true, data, migratedFrom: start === STORE_VERSION ? null : start };
}
