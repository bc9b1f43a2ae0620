import { z } from 'zod';
import { nodeSchema } from '../fleet/node.ts';

export const STORE_VERSION = 1;

export const JOB_STATES = ['running', 'done', 'cancelled', 'failed', 'interrupted'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const jobSchema = z.object({
  id: z.string(),
  kind: z.string(),
  state: z.enum(JOB_STATES),
  actor: z.string(),
  /** The selection as the user typed it. */
  selection: z.string(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  total: z.number().int(),
  done: z.number().int(),
  /** Per outcome counts (ok, timeout, busy, changed_meanwhile, ...). */
  counts: z.record(z.string(), z.number().int()),
  note: z.string().nullable(),
});
export type JobRecord = z.infer<typeof jobSchema>;

export const storeSchema = z.object({
  version: z.literal(STORE_VERSION),
  meta: z.object({ nextNodeId: z.number().int().min(1), nextJobId: z.number().int().min(1), createdAt: z.string() }),
  nodes: z.array(nodeSchema),
  jobs: z.array(jobSchema),
  settings: z.record(z.string(), z.unknown()),
});
export type StoreData = z.infer<typeof storeSchema>;

export function emptyStore(now: string): StoreData {
  return { version: STORE_VERSION, meta: { nextNodeId: 1, nextJobId: 1, createdAt: now }, nodes: [], jobs: [], settings: {} };
}
