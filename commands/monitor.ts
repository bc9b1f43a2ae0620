import { failed, ok } from '../src/chat/command.ts';
import { plural } from '../src/chat/render.ts';
import { command } from './define.ts';
import { saved } from './saved.ts';
import { countsLine } from './job-report.ts';

export const monitor = command({
  name: 'monitor',
  summary: 'The monitor of online/offline nodes: its state, on, off, or a run now',
  usage: 'monitor <status|on|off|run>',
  examples: ['monitor status', 'monitor off', 'monitor run'],
  role: 'admin',
  positional: { name: 'action', description: 'status, on, off or run', required: true, choices: ['status', 'on', 'off', 'run'] },
  async run({ positional }, ctx) {
    const m = ctx.services.monitor;
    const { config } = ctx.services;
    switch (positional!.toLowerCase()) {
      case 'status': {
        const last = m.lastRun;
        const next = m.nextRunAt();
        return ok(
          [
            `**Monitor** is ${m.enabled ? 'on' : 'off'} · schedule \`${config.MONITOR_CRON}\` · ${config.MONITOR_FAILS} failed check${config.MONITOR_FAILS > 1 ? 's' : ''} in a row take a node offline${m.running ? ' · a run is going now' : ''}`,
            next ? `Next run: ${next.toISOString()}` : m.enabled ? 'Schedule not running in this mode (one-shot terminal command).' : 'No scheduled run while it is off.',
            last
              ? `Last run (${last.trigger}, ${last.jobId}) finished ${last.finishedAt}: ${plural(last.checked, 'node')} checked — ${countsLine(last.counts)}; ${last.wentOffline} went offline, ${last.cameBack} came back, ${plural(last.alertsSent, 'alert')} sent.`
              : 'No run yet.',
          ].join('\n'),
        );
      }
      case 'on':
        m.setEnabled(true);
        return ok(`Monitor on: online and offline nodes are checked on \`${config.MONITOR_CRON}\`.${await saved(ctx.services.store)}`);
      case 'off':
        m.setEnabled(false);
        return ok(`Monitor off: no scheduled checks until \`/connexa monitor on\` (a \`monitor run\` still works).${await saved(ctx.services.store)}`);
      case 'run': {
        const wasRunning = m.running;
        const run = await m.run(`run by ${ctx.actor.name}`);
        return ok(
          `${wasRunning ? 'A monitor run was already going; its result: ' : 'Monitor run: '}${plural(run.checked, 'node')} checked (${run.jobId}) — ${countsLine(run.counts)}; ${run.wentOffline} went offline, ${run.cameBack} came back, ${plural(run.alertsSent, 'alert')} sent.`,
        );
      }
      default:
        return failed(`monitor takes status, on, off or run, not \`${positional!.slice(0, 20)}\``);
    }
  },
});

export const alerts = command({
  name: 'alerts',
  summary: 'Send monitor alerts to this channel',
  usage: 'alerts here',
  examples: ['alerts here'],
  role: 'admin',
  positional: { name: 'where', description: 'here: the channel you type it in', required: true, choices: ['here'] },
  async run({ positional }, ctx) {
    if (positional!.toLowerCase() !== 'here') return failed('say `alerts here` in the channel that should receive the alerts');
    const { platform } = ctx;
    ctx.services.store.setSetting(`alerts.where.${platform}`, ctx.where.key);
    return ok(`Monitor alerts on ${platform} now go to this channel.${await saved(ctx.services.store)}`);
  },
});
