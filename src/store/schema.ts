import { z } from 'zod';
import { nodeSchema } from '../fleet/node.ts';

export const STORE_VERSION = 4;
/** The newest audit entries kept; older ones are dropped as new ones arrive. */
export const AUDIT_LIMIT = 10_000;

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

export const auditSchema = z.object({
  at: z.string(),
  /** `slack:U123`, `discord:456`, `terminal:root`. */
  actor: z.string(),
  platform: z.string(),
  command: z.string(),
  /** The command line with secret-looking option values redacted. */
  args: z.string(),
  /** ok, invalid, denied, needsConfirmation, failed, error. */
  outcome: z.string(),
  detail: z.string().nullable(),
  ms: z.number(),
});
export type AuditEntry = z.infer<typeof auditSchema>;

export const storeSchema = z.object({
  version: z.literal(STORE_VERSION),
  meta: z.object({ nextNodeId: z.number().int().min(1), nextJobId: z.number().int().min(1), createdAt: z.string() }),
  nodes: z.array(nodeSchema),
  jobs: z.array(jobSchema),
  audit: z.array(auditSchema),
  settings: z.record(z.string(), z.unknown()),
});
export type StoreData = z.infer<typeof storeSchema>;

export function emptyStore(now: string): StoreData {
  return { version: STORE_VERSION, meta: { nextNodeId: 1, nextJobId: 1, createdAt: now }, nodes: [], jobs: [], audit: [], settings: {} };
}
