import { describe, expect, it } from 'vitest';
import { hasRole, principalOf, resolveRole, roleRank, type RoleLists } from '../../src/chat/roles.ts';
import type { Actor } from '../../src/chat/types.ts';

const slack = (id: string): Actor => ({ platform: 'slack', id, name: id, roleIds: [] });
const discord = (id: string, roleIds: string[] = []): Actor => ({ platform: 'discord', id, name: id, roleIds });
const LISTS: RoleLists = { admins: ['slack:UA', 'discord:1'], operators: ['slack:UO', 'discord-role:77'], viewers: ['slack:UV'] };
const NONE: RoleLists = { admins: [], operators: [], viewers: [] };

describe('resolveRole', () => {
  it('gives the highest role listed for the actor', () => {
    expect(resolveRole(slack('UA'), LISTS)).toBe('admin');
    expect(resolveRole(slack('UO'), LISTS)).toBe('operator');
    expect(resolveRole(slack('UV'), LISTS)).toBe('viewer');
    expect(resolveRole(slack('UA'), { ...LISTS, viewers: ['slack:UA'] })).toBe('admin');
  });

  it('matches the platform with the id: a Slack id is not a Discord user of the same id', () => {
    expect(resolveRole(discord('UA'), LISTS)).toBeNull();
    expect(resolveRole(slack('1'), LISTS)).toBeNull();
    expect(resolveRole(discord('1'), LISTS)).toBe('admin');
  });

  it('grants Discord roles to members holding them, and only on Discord', () => {
    expect(resolveRole(discord('9', ['12', '77']), LISTS)).toBe('operator');
    expect(resolveRole(discord('9', ['12']), LISTS)).toBeNull();
    expect(resolveRole({ ...slack('9'), roleIds: ['77'] }, LISTS)).toBeNull();
  });

  it('`*` lets anyone in; with no lists chat users have no role, and the terminal is admin', () => {
    expect(resolveRole(slack('UX'), { ...NONE, viewers: ['*'] })).toBe('viewer');
    expect(resolveRole(slack('UX'), NONE)).toBeNull();
    expect(resolveRole({ platform: 'terminal', id: 'root', name: 'root', roleIds: [] }, NONE)).toBe('admin');
  });
});

describe('hasRole, roleRank, principalOf', () => {
  it('orders viewer < operator < admin; no role has nothing', () => {
    expect([roleRank('viewer'), roleRank('operator'), roleRank('admin')]).toEqual([0, 1, 2]);
    expect(hasRole('admin', 'operator')).toBe(true);
    expect(hasRole('operator', 'operator')).toBe(true);
    expect(hasRole('viewer', 'operator')).toBe(false);
    expect(hasRole(null, 'viewer')).toBe(false);
  });

  it('writes a principal as CONNEXA_* lists spell it', () => {
    expect(principalOf(slack('U1'))).toBe('slack:U1');
    expect(principalOf(discord('42', ['7']))).toBe('discord:42');
  });
});
