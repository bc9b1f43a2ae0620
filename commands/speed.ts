import { z } from 'zod';
import type { CommandContext } from '../src/chat/command.ts';
import { failed, ok } from '../src/chat/command.ts';
import { plural } from '../src/chat/render.ts';
import { describeFilter, isEmptyFilter, selectNodes, type Filter } from '../src/fleet/filter.ts';
import type { FleetNode } from '../src/fleet/node.ts';
import { canRun } from '../src/fleet/status-machine.ts';
import type { App } from '../src/app.ts';
import type { Job } from '../src/pipeline/job-runner.ts';
import { SPEED_DEFAULTS, speedStage } from '../src/pipeline/stages/speed.ts';
import { targetProblem } from '../src/probes/tunnel/index.ts';
import { command } from './define.ts';
import { startJob } from './job-report.ts';
import { pingable, pingStageFor } from './ping.ts';

/** With no filter, speed tests what passed ping and has not passed speed yet. */
export const DEFAULT_SPEED_SELECTION: Filter = { statuses: ['ping_ok'] };

/** The tunnel driver and the host check a speed job uses: the app's one set (app.tunnels). */
export type SpeedRuntime = App['tunnels'];

/** Replaces the tunnel driver and host check of one app (tests). */
export function useSpeedRuntime(app: App, runtime: SpeedRuntime): void {
  app.tunnels = runtime;
}

export function speedRuntime(app: App): SpeedRuntime {
  return app.tunnels;
}

/**
 * Why speed cannot run at all on this host with this configuration, in one line, or null. Asked
 * before any job starts, so an incapable host never marks a node failed.
 */
export function speedRefusal(app: App): string | null {
  const rt = speedRuntime(app);
  const cap = rt.capability();
  if (!cap.ok) return cap.message;
  if (!rt.driver) return 'speed tests are off: no tunnel driver (TUNNEL_DRIVER)';
  if (!app.config.SPEED_URL) return 'speed tests need SPEED_URL: the http(s) URL of a large file (or a speed server) reachable through the tunnels';
  return null;
}

export function speedStageFor(app: App) {
  const c = app.config;
  return speedStage({ driver: speedRuntime(app).driver, url: c.SPEED_URL ?? '', minMbps: c.SPEED_MIN_MBPS, concurrency: c.SPEED_CONCURRENCY, ...SPEED_DEFAULTS });
}

/**
 * Splits a selection into the nodes speed may run on, a count of the others by status, and the
 * nodes this driver cannot dial (host names, other ports), each with its reason.
 */
export function speedable(nodes: readonly FleetNode[]): { runnable: FleetNode[]; refused: Record<string, number>; undialable: Array<{ node: FleetNode; reason: string }> } {
  const runnable: FleetNode[] = [];
  const refused: Record<string, number> = {};
  const undialable: Array<{ node: FleetNode; reason: string }> = [];
  for (const n of nodes) {
    if (!canRun('speed', n.status)) {
      refused[n.status] = (refused[n.status] ?? 0) + 1;
      continue;
    }
    // The password plays no part in whether it can be dialled; a placeholder keeps it out of reach.
    const problem = targetProblem({ ip: n.ip, port: n.port, login: n.login, password: '' });
    if (problem) undialable.push({ node: n, reason: problem });
    else runnable.push(n);
  }
  return { runnable, refused, undialable };
}

function skippedText(refused: Record<string, number>, undialable: Array<{ node: FleetNode; reason: string }>): string {
  const parts: string[] = [];
  const byStatus = Object.entries(refused).map(([s, n]) => `${n} ${s}`).join(', ');
  if (byStatus) parts.push(`Not tested: ${byStatus} (speed runs on ping_ok and speed_ok only; ping them first).`);
  if (undialable.length) {
    const shown = undialable.slice(0, 5).map((u) => `${u.node.id}: ${u.reason}`).join('; ');
    parts.push(`Not dialled: ${plural(undialable.length, 'node')} — ${shown}${undialable.length > 5 ? '; …' : ''}`);
  }
  return parts.join('\n');
}

export const speed = command({
  name: 'speed',
  summary: 'Open a PPTP tunnel with each node\'s credentials and measure its throughput (default: ping_ok)',
  usage: 'speed [filter]',
  examples: ['speed', 'speed country:US limit:20', 'speed status:speed_ok speed<5'],
  role: 'operator',
  filter: 'optional',
  options: z.object({}),
  async run(input, ctx) {
    // Before anything else: an incapable host refuses in one line and starts no job.
    const refusal = speedRefusal(ctx.app);
    if (refusal) return failed(refusal);
    const filter = isEmptyFilter(input.filter) ? { ...DEFAULT_SPEED_SELECTION, limit: input.filter.limit } : input.filter;
    const words = input.filterText || describeFilter(filter);
    const { runnable, refused, undialable } = speedable(selectNodes(ctx.app.store.nodes(), filter));
    const skipped = skippedText(refused, undialable);
    if (!runnable.length) return failed(`no nodes to speed-test in ${words}${skipped ? `\n${skipped}` : ''}`);
    startJob(ctx, speedStageFor(ctx.app), runnable, words);
    return ok(undefined, skipped ? { private: { text: `${skipped}\nTesting ${plural(runnable.length, 'node')}.` } } : {});
  },
});

/**
 * `import … test=speed`: ping what was imported, then speed-test what passed. The speed half is
 * refused up front (one line in the channel) when this host cannot open tunnels; the ping still runs.
 */
export async function startPingThenSpeed(ctx: CommandContext<App>, nodes: readonly FleetNode[], selection: string): Promise<{ ping: Job | null; refusal: string | null; speed: Promise<Job | null> }> {
  const refusal = speedRefusal(ctx.app);
  const { runnable } = pingable(nodes);
  if (refusal) await ctx.conversation.say({ text: `test=speed: ${refusal}. Pinging only.` }, ctx.conversation.where);
  if (!runnable.length) return { ping: null, refusal, speed: Promise.resolve(null) };
  const ping = startJob(ctx, pingStageFor(ctx.app), runnable, selection);
  const speedJob = refusal
    ? Promise.resolve(null)
    : ping.done.then(() => {
        const ids = new Set(runnable.map((n) => n.id));
        const passed = ctx.app.store.nodes().filter((n) => ids.has(n.id));
        const next = speedable(passed).runnable;
        return next.length ? startJob(ctx, speedStageFor(ctx.app), next, selection) : null;
      });
  return { ping, refusal, speed: speedJob };
}
