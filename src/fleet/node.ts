import { z } from 'zod';
import { geoSchema, type GeoLocation } from '../geo/location.ts';

/** Every status a node can be in (DESIGN.md, "The pipeline"). There is no transient status. */
export const STATUSES = ['not_tested', 'ping_ok', 'ping_failed', 'speed_ok', 'auth_failed', 'online', 'offline'] as const;
export type Status = (typeof STATUSES)[number];
export const statusSchema = z.enum(STATUSES);

export const DEFAULT_PPTP_PORT = 1723;
/** How many status changes a node keeps in its history. */
export const HISTORY_LIMIT = 20;

export const pptpResultSchema = z.object({
  ok: z.boolean(),
  latencyMs: z.number().nullable(),
  vendor: z.string().nullable(),
  hostname: z.string().nullable(),
  firmware: z.number().nullable(),
  /** Outcome code, e.g. ok, refused, timeout_connect, not_pptp. */
  result: z.string(),
  /** A reason a person understands, null when ok. */
  error: z.string().nullable(),
  checkedAt: z.string(),
});
export type PptpResult = z.infer<typeof pptpResultSchema>;

export const speedResultSchema = z.object({
  downMbps: z.number().nullable(),
  upMbps: z.number().nullable(),
  error: z.string().nullable(),
  checkedAt: z.string(),
  /** The address the speed server saw the traffic come from (where the node's traffic leaves); absent before store version 3. */
  exitIp: z.string().nullable().optional(),
  /** exitIp located in the local IP database. */
  exitGeo: geoSchema.nullable().optional(),
});
export type SpeedResult = z.infer<typeof speedResultSchema>;

export const historyEntrySchema = z.object({
  from: statusSchema,
  to: statusSchema,
  reason: z.string(),
  actor: z.string(),
  at: z.string(),
  /** Set when a result arrived but the node had changed meanwhile: recorded, status not written. */
  applied: z.boolean().optional(),
});
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

export const nodeSchema = z.object({
  id: z.string(),
  ip: z.string(),
  port: z.number().int().min(1).max(65535),
  login: z.string(),
  password: z.string(),
  provider: z.string().nullable(),
  country: z.string().nullable(),
  state: z.string().nullable(),
  city: z.string().nullable(),
  zip: z.string().nullable(),
  comment: z.string().nullable(),
  /** Where the IP database places `ip`; apart from the claimed country/state/city above. */
  geo: geoSchema.nullable(),
  status: statusSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  importedFrom: z.string().nullable(),
  pptp: pptpResultSchema.nullable(),
  speed: speedResultSchema.nullable(),
  socks: z.object({ host: z.string(), port: z.number(), login: z.string(), password: z.string() }).nullable(),
  /** `port`: the node's OpenVPN port on its gateway while it is served (absent in stores written before gateways). */
  ovpn: z.object({ serial: z.string(), issuedAt: z.string(), revokedAt: z.string().nullable(), port: z.number().int().nullable().optional() }).nullable(),
  /** The gateway that runs the node's services while it is online/offline (absent in older stores). */
  gateway: z.string().nullable().optional(),
  monitor: z.object({ fails: z.number().int(), lastOkAt: z.string().nullable() }).nullable(),
  history: z.array(historyEntrySchema),
});
export type FleetNode = z.infer<typeof nodeSchema>;

/** Fields an import line can carry. */
export interface NodeFields {
  ip: string;
  port?: number;
  login: string;
  password: string;
  provider?: string | null;
  country?: string | null;
  state?: string | null;
  city?: string | null;
  zip?: string | null;
  comment?: string | null;
  /** Filled by the import from the IP database, never from the file. */
  geo?: GeoLocation | null;
}

export function newNode(id: string, fields: NodeFields, importedFrom: string | null, now: string): FleetNode {
  return {
    id,
    ip: fields.ip,
    port: fields.port ?? DEFAULT_PPTP_PORT,
    login: fields.login,
    password: fields.password,
    provider: fields.provider ?? null,
    country: fields.country ?? null,
    state: fields.state ?? null,
    city: fields.city ?? null,
    zip: fields.zip ?? null,
    comment: fields.comment ?? null,
    geo: fields.geo ?? null,
    status: 'not_tested',
    createdAt: now,
    updatedAt: now,
    importedFrom,
    pptp: null,
    speed: null,
    socks: null,
    ovpn: null,
    monitor: null,
    history: [],
  };
}
