import type { Actor, Role } from './types.ts';
import { ROLES } from './types.ts';

/** Who has which role: lists of principals `slack:U123`, `discord:123`, `discord-role:456`, `*`. */
export interface RoleLists {
  admins: readonly string[];
  operators: readonly string[];
  viewers: readonly string[];
}

export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

function listed(actor: Actor, list: readonly string[]): boolean {
  for (const p of list) {
    if (p === '*') return true;
    if (p === `${actor.platform}:${actor.id}`) return true;
    if (actor.platform === 'discord' && p.startsWith('discord-role:') && actor.roleIds.includes(p.slice('discord-role:'.length))) return true;
  }
  return false;
}

/**
 * The highest role an actor holds, or null. The terminal user is the machine's operator and is admin.
 * Fails closed: with no lists configured, chat users have no role at all.
 */
export function resolveRole(actor: Actor, lists: RoleLists): Role | null {
  if (actor.platform === 'terminal') return 'admin';
  if (listed(actor, lists.admins)) return 'admin';
  if (listed(actor, lists.operators)) return 'operator';
  if (listed(actor, lists.viewers)) return 'viewer';
  return null;
}

export function hasRole(held: Role | null, needed: Role): boolean {
  return held !== null && roleRank(held) >= roleRank(needed);
}

/** How a principal for this actor is written in CONNEXA_* lists (for refusal messages). */
export function principalOf(actor: Actor): string {
  return `${actor.platform}:${actor.id}`;
}
