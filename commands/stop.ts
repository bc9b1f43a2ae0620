import { failed, ok } from '../src/chat/command.ts';
import { plural } from '../src/chat/render.ts';
import { stopStage } from '../src/gateway/stages.ts';
import { command, needsFilter } from './define.ts';
import { startJob } from './job-report.ts';
import { preview, selectFor, selectionWords } from './selection.ts';

export const stop = command({
  name: 'stop',
  summary: 'Take online/offline nodes back to speed_ok: proxies and OpenVPN servers down, profiles revoked (asks for confirmation)',
  usage: 'stop <filter>',
  examples: ['stop 203.0.113.5', 'stop status:offline', 'stop all'],
  role: 'operator',
  // Stopping cuts users off and revokes their profiles for good: never by an empty filter.
  needs: [needsFilter],
  filter: 'optional',
  optionHelp: { confirm: 'the code the first run gives you, to confirm' },
  // Profiles are revoked for good: like delete, a summary first, then Confirm (or the code).
  confirm(input, ctx) {
    return preview(selectFor(ctx.services.store, 'stop', input).runnable, input, 'stops {n}: their SOCKS proxies and OpenVPN servers go down and their profiles are revoked for good.');
  },
  async run(input, ctx) {
    const { runnable, refused, words } = selectFor(ctx.services.store, 'stop', input);
    const others = Object.values(refused).reduce((a, b) => a + b, 0);
    if (!runnable.length) return failed(`no online or offline nodes match ${selectionWords(input)}${others ? ` (${plural(others, 'other node')} selected: nothing to stop)` : ''}`);
    startJob(ctx, { stage: stopStage(ctx.services.gateways), nodes: runnable, selection: words });
    return ok(undefined, { private: { text: `Stopping ${plural(runnable.length, 'node')}: their SOCKS proxies and OpenVPN servers go down and their profiles are revoked.${others ? ` ${plural(others, 'other selected node')} ${others === 1 ? 'is' : 'are'} not online/offline: skipped.` : ''}` } });
  },
});
