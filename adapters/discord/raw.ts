/**
 * Two jobs done on the raw gateway packet, which discord.js emits (`raw`) just before its own
 * handler builds structures from the same object:
 *
 * 1. A guard. discord.js builds an interaction without checking its shape; a packet missing e.g.
 *    `entitlements` throws a TypeError inside the gateway message handler, an unhandled rejection
 *    that ends the process. Cosmetic gaps are filled in; a packet without the fields a command needs
 *    (id, token, user, data) is renamed so discord.js ignores it, and logged.
 * 2. The member's role ids exactly as Discord sent them with this event. discord.js's
 *    `member.roles.cache` only lists roles that are in its guild cache, and an authorisation check
 *    must not depend on a cache being complete.
 */
export type RawCheck = { action: 'pass' } | { action: 'repaired'; fixed: string[] } | { action: 'drop'; why: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is string => typeof v === 'string' && /^\d{1,25}$/.test(v);

function userOf(d: Record<string, unknown>): Record<string, unknown> | null {
  if (isObject(d.user)) return d.user;
  if (isObject(d.member) && isObject(d.member.user)) return d.member.user;
  return null;
}

/** Checks (and repairs in place) the `d` of an INTERACTION_CREATE packet. */
export function checkInteraction(d: unknown): RawCheck {
  if (!isObject(d)) return { action: 'drop', why: 'no payload' };
  if (!isId(d.id)) return { action: 'drop', why: 'no interaction id' };
  if (typeof d.token !== 'string' || !d.token) return { action: 'drop', why: 'no token' };
  if (!isId(d.application_id)) return { action: 'drop', why: 'no application id' };
  if (typeof d.type !== 'number') return { action: 'drop', why: 'no type' };
  const user = userOf(d);
  if (!user || !isId(user.id)) return { action: 'drop', why: 'no user' };
  if (d.member !== undefined && d.member !== null && !(isObject(d.member) && isObject(d.member.user))) return { action: 'drop', why: 'member without user' };
  if (d.type === 2 || d.type === 4) {
    if (!isObject(d.data) || typeof d.data.name !== 'string' || typeof d.data.type !== 'number') return { action: 'drop', why: 'no command data' };
    if (d.data.options !== undefined && !Array.isArray(d.data.options)) return { action: 'drop', why: 'options is not a list' };
  }
  // A button press: discord.js builds the pressed message from `message` and reads `data.custom_id`.
  if (d.type === 3 && !(isObject(d.data) && typeof d.data.custom_id === 'string' && isObject(d.message) && isId(d.message.id))) return { action: 'drop', why: 'no component data' };
  if (d.channel !== undefined && d.channel !== null && !(isObject(d.channel) && isId(d.channel.id) && typeof d.channel.type === 'number')) {
    return { action: 'drop', why: 'malformed channel' };
  }
  const fixed: string[] = [];
  if (!Array.isArray(d.entitlements)) {
    d.entitlements = [];
    fixed.push('entitlements');
  }
  if (!isObject(d.authorizing_integration_owners)) {
    d.authorizing_integration_owners = {};
    fixed.push('authorizing_integration_owners');
  }
  return fixed.length ? { action: 'repaired', fixed } : { action: 'pass' };
}

/** Role ids from raw packets, kept briefly until the handler for the same event asks for them. */
export class RawRoles {
  private readonly byEvent = new Map<string, { roles: string[]; at: number }>();

  private readonly keepMs;
  private readonly max;
  constructor(keepMs = 60_000, max = 5000) {
    this.keepMs = keepMs;
    this.max = max;
  }

  remember(eventId: string, member: unknown): void {
    if (!isObject(member) || !Array.isArray(member.roles)) return;
    const roles = member.roles.filter(isId);
    this.byEvent.set(eventId, { roles, at: Date.now() });
    if (this.byEvent.size > this.max) this.prune();
  }

  take(eventId: string): string[] | undefined {
    const hit = this.byEvent.get(eventId);
    this.byEvent.delete(eventId);
    return hit?.roles;
  }

  private prune(): void {
    const cutoff = Date.now() - this.keepMs;
    for (const [id, v] of this.byEvent) if (v.at < cutoff || this.byEvent.size > this.max) this.byEvent.delete(id);
  }
}

export interface RawPacket {
  t?: string | null;
  d?: unknown;
}

/** What `onRaw` did with a packet, for logs and tests. */
export type RawOutcome = 'ignored' | 'interaction' | 'repaired' | 'dropped' | 'message';

/**
 * The `raw` listener. Renaming a dropped packet's `t` is what stops discord.js from handling it:
 * its handler runs on the same object right after this listener returns.
 */
export function onRaw(packet: RawPacket, roles: RawRoles, botId: () => string | null, warn: (msg: string, fields: Record<string, unknown>) => void): RawOutcome {
  if (!packet || typeof packet !== 'object') return 'ignored';
  if (packet.t === 'INTERACTION_CREATE') {
    const check = checkInteraction(packet.d);
    if (check.action === 'drop') {
      packet.t = 'CONNEXA_DROPPED_INTERACTION';
      warn('discord: dropped a malformed interaction from the gateway', { why: check.why });
      return 'dropped';
    }
    const d = packet.d as Record<string, unknown>;
    roles.remember(d.id as string, d.member);
    if (check.action === 'repaired') {
      warn('discord: repaired an interaction missing fields', { fixed: check.fixed });
      return 'repaired';
    }
    return 'interaction';
  }
  if (packet.t === 'MESSAGE_CREATE' && isObject(packet.d)) {
    const d = packet.d;
    const bot = botId();
    // Only messages that may become a command (a mention of the bot) are worth remembering.
    if (bot && isId(d.id) && Array.isArray(d.mentions) && d.mentions.some((m) => isObject(m) && m.id === bot)) {
      roles.remember(d.id, d.member);
      return 'message';
    }
  }
  return 'ignored';
}
