/**
 * Policy routing for one tunnel: `ip rule from LOCAL table N` plus `default dev pppN table N`, so a
 * socket bound to the tunnel's local address leaves through the tunnel whatever the main table
 * says, while everything else on the host (including pptp's own control connection) is untouched.
 * Every command is spawned without a shell.
 */
import { execFile } from 'node:child_process';

/** Our rules carry this preference, so stale ones (a crash between add and delete) can be found. */
export const RULE_PREF = 17723;
/** Table numbers are TABLE_BASE + the ppp unit number: a unit is unique among live interfaces. */
export const TABLE_BASE = 17000;

export type IpRunner = (args: string[]) => Promise<{ ok: boolean; stdout: string; stderr: string }>;

export function ipRunner(ipPath = 'ip', timeoutMs = 5000): IpRunner {
  return (args) =>
    new Promise((resolve) => {
      execFile(ipPath, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => resolve({ ok: !err, stdout: stdout ?? '', stderr: (stderr ?? '').trim() || (err?.message ?? '') }));
    });
}

export function tableFor(iface: string): number {
  const unit = Number(/^ppp(\d+)$/.exec(iface)?.[1]);
  if (!Number.isInteger(unit)) throw new Error(`not a ppp interface: ${iface}`);
  return TABLE_BASE + unit;
}

export interface PolicyRoute {
  table: number;
  remove(): Promise<void>;
}

export async function addPolicyRoute(ip: IpRunner, iface: string, localAddress: string): Promise<{ ok: true; route: PolicyRoute } | { ok: false; reason: string }> {
  const table = tableFor(iface);
  const rule = ['-4', 'rule', 'add', 'from', `${localAddress}/32`, 'table', String(table), 'pref', String(RULE_PREF)];
  const remove = async () => {
    // Both steps are tolerant: the route vanishes by itself when the interface goes.
    await ip(['-4', 'rule', 'del', 'from', `${localAddress}/32`, 'table', String(table), 'pref', String(RULE_PREF)]);
    await ip(['-4', 'route', 'flush', 'table', String(table)]);
  };
  // A leftover of a crashed run with the same address and table would make `add` fail: clear it.
  await remove();
  const r1 = await ip(['-4', 'route', 'replace', 'default', 'dev', iface, 'table', String(table)]);
  if (!r1.ok) return { ok: false, reason: `ip route add default dev ${iface} table ${table}: ${r1.stderr}` };
  const r2 = await ip(rule);
  if (!r2.ok) {
    await remove();
    return { ok: false, reason: `ip rule add from ${localAddress} table ${table}: ${r2.stderr}` };
  }
  return { ok: true, route: { table, remove } };
}

/**
 * Removes our rules whose table has no route left (its tunnel is gone): what a crash between
 * `add` and `delete` leaves behind. Live tunnels keep their default route, so they are kept.
 */
export async function sweepStaleRules(ip: IpRunner): Promise<number> {
  const list = await ip(['-4', 'rule', 'show', 'pref', String(RULE_PREF)]);
  if (!list.ok) return 0;
  let removed = 0;
  for (const line of list.stdout.split('\n')) {
    const m = /from (\S+) lookup (\d+)/.exec(line);
    if (!m) continue;
    const routes = await ip(['-4', 'route', 'show', 'table', m[2]!]);
    if (routes.ok && routes.stdout.trim() === '') {
      const from = m[1]!.includes('/') ? m[1]! : `${m[1]!}/32`;
      if ((await ip(['-4', 'rule', 'del', 'from', from, 'table', m[2]!, 'pref', String(RULE_PREF)])).ok) removed++;
    }
  }
  return removed;
}
