import { basename } from 'node:path';
import { z } from 'zod';
import type { CommandServices } from '../src/app.ts';
import { failed, ok, type CommandContext } from '../src/chat/command.ts';
import { principalOf } from '../src/chat/roles.ts';
import { clean, plural, table } from '../src/chat/render.ts';
import { FileTooLarge } from '../src/chat/types.ts';
import { csvRows } from '../src/fleet/export.ts';
import { parseImportSliced } from '../src/fleet/import/index.ts';
import type { FleetNode } from '../src/fleet/node.ts';
import type { Job } from '../src/pipeline/job-runner.ts';
import { applyImportDurably, countNewAccounts } from '../src/store/apply-import.ts';
import { command } from './define.ts';
import { SHOWN_ROWS, startJob } from './job-report.ts';
import { pingStageFor, speedable, speedRefusal, speedStageFor } from './probe-stages.ts';
import { splitByStatus } from '../src/fleet/status-machine.ts';
import { isGeoMismatch } from '../src/geo/location.ts';
import { prepareImportLocating } from '../src/geo/import-locator.ts';

/**
 * `import … test=speed`: ping what was imported, then speed-test what passed. The speed half is
 * refused up front (one line in the channel) when this host cannot open tunnels; the ping still runs.
 */
export async function startPingThenSpeed(ctx: CommandContext<CommandServices>, nodes: readonly FleetNode[], selection: string): Promise<{ ping: Job | null; refusal: string | null; speed: Promise<Job | null> }> {
  const refusal = speedRefusal(ctx.services);
  const { runnable } = splitByStatus('ping', nodes);
  if (refusal) await ctx.reply.say(`test=speed: ${refusal}. Pinging only.`);
  if (!runnable.length) return { ping: null, refusal, speed: Promise.resolve(null) };
  const ping = startJob(ctx, { stage: pingStageFor(ctx.services), nodes: runnable, selection });
  const speedJob = refusal
    ? Promise.resolve(null)
    : ping.done.then(async () => {
        const ids = new Set(runnable.map((n) => n.id));
        const next = speedable(ctx.services.store.nodes().filter((n) => ids.has(n.id))).runnable;
        return next.length ? startJob(ctx, { stage: await speedStageFor(ctx.services), nodes: next, selection }) : null;
      });
  return { ping, refusal, speed: speedJob };
}

export const importCommand = command({
  name: 'import',
  summary: 'Import a server list (attach the file; in the terminal give its path)',
  usage: 'import <file> [test=none|ping|speed]',
  examples: ['import servers.txt test=ping', 'import (with the file attached)'],
  role: 'operator',
  positional: { name: 'path', description: 'the path of a server list (terminal only; in chat, attach the file)', required: false },
  attachment: { name: 'file', description: 'The server list to import (text or CSV)', required: true, words: { ping: 'test=ping', speed: 'test=speed' } },
  options: z.object({ test: z.enum(['none', 'ping', 'speed']).default('none') }),
  optionHelp: { test: 'none: only import (default); ping: then ping what was added or updated; speed: ping, then speed-test what passed' },
  async run({ positional, options }, ctx) {
    const { store, config } = ctx.services;
    if (ctx.files.length > 1) return failed(`attach one server list at a time (got ${ctx.files.length} files); nothing was imported`);
    // The terminal has read a path into a file before dispatch; anywhere else a path names nothing here.
    const file = ctx.files[0];
    if (!file && positional) return failed('attach the server list to the command; file paths work only in the terminal');
    if (!file) return failed('no file: attach a server list to the command (or give its path in the terminal)');
    const name = clean(basename(file.name), 80);
    let bytes: Buffer;
    try {
      bytes = await file.download(config.IMPORT_MAX_BYTES);
    } catch (err) {
      if (err instanceof FileTooLarge) return failed(`${err.message}. Nothing was imported; split the list into smaller files.`);
      return failed(`could not read ${name}: ${clean((err as Error).message, 200)}. Nothing was imported.`);
    }
    // A big file: the IP database's thread opens its files while the file is parsed.
    if (bytes.length >= 256 * 1024) prepareImportLocating();
    // Parsed and applied in slices that yield: a big file must not stall the chat connections.
    const parsed = await parseImportSliced(bytes, { maxBytes: config.IMPORT_MAX_BYTES });
    if (!parsed.ok) return failed(`${name} was refused: ${parsed.reason}. Nothing was imported.`);
    // A shutdown began while the file was read: nothing is applied that could be cut off half-way.
    if (ctx.signal.aborted) return failed(`Connexa is stopping; nothing of ${name} was imported. Import it again once the bot is back.`);
    // IPv6 only, base64, /etc/passwd: not one line looked like a server. That is a failure, not "0 added".
    if (!parsed.records.length && !parsed.rejected.length) {
      return failed(`nothing found in ${name}: none of its ${plural(parsed.lines, 'line')} is a server in a known format (IPv4 address, login, password; \`help import\`). Nothing was imported.`);
    }
    // Refused before anything changes: a store past MAX_NODES could not be reopened in memory.
    const total = store.nodes().length + countNewAccounts(store, parsed.records);
    if (total > config.MAX_NODES) {
      return failed(`${name} was refused: this import would bring the store to ${total.toLocaleString('en-US')} nodes; MAX_NODES is ${config.MAX_NODES.toLocaleString('en-US')}. Nothing was imported; delete nodes or split the list.`);
    }
    const saved = await applyImportDurably(store, parsed.records, name);
    if (!saved.ok) {
      const why = (saved.error as NodeJS.ErrnoException).code ?? clean(saved.error.message, 200);
      return failed(`${name} was not imported: the store could not be saved (${why}). Nothing was imported; free disk space or fix DATA_DIR, then import again.`);
    }
    const applied = saved.applied;
    ctx.services.log.info('import', { file: name, by: principalOf(ctx.actor), added: applied.added, updated: applied.updated, duplicate: applied.duplicate, conflicts: applied.conflicts.length, rejected: parsed.rejected.length });
    const conflicting = applied.conflicts.length ? `, ${applied.conflicts.length} in conflict` : '';
    const lines = [
      `Imported **${name}**: **${applied.added} added**, ${applied.updated} updated, ${applied.duplicate} duplicate${conflicting}, ${parsed.rejected.length} rejected` +
        ` (${plural(parsed.lines, 'line')}, ${parsed.skipped} blank/comment/header).`,
    ];
    if (applied.updated) lines.push('Updated means a new password for a known IP and login; re-test those nodes.');
    const elsewhere = [...applied.addedNodes, ...applied.updatedNodes].filter(isGeoMismatch).length;
    if (elsewhere) lines.push(`${plural(elsewhere, 'node')} located by the IP database in another country than the file claims: \`list geo:mismatch\`.`);
    if (applied.conflicts.length) {
      // Line numbers only: the reply is public.
      const shown = applied.conflicts.slice(0, SHOWN_ROWS).map((c) => [c.lines.join(', '), c.lines[c.lines.length - 1]!]);
      lines.push(
        `Conflicts: the same IP and login with different passwords in this file; the last line won${applied.conflicts.length > SHOWN_ROWS ? ` (first ${SHOWN_ROWS} of ${applied.conflicts.length})` : ''}:\n` +
          table(['lines', 'kept'], shown, [1], 100),
      );
    }
    const files = [];
    if (parsed.rejected.length) {
      // Line numbers and reasons only: a rejected line may carry a password, and this reply is public.
      const shown = parsed.rejected.slice(0, SHOWN_ROWS).map((r) => [r.line, clean(r.reason, 100)]);
      lines.push(`Rejected lines${parsed.rejected.length > SHOWN_ROWS ? ` (first ${SHOWN_ROWS}; all in the attached CSV)` : ''}:\n${table(['line', 'reason'], shown, [0], 100)}`);
      if (parsed.rejected.length > SHOWN_ROWS || ctx.platform !== 'terminal') {
        files.push({
          name: `rejected-${name.replace(/\.[^.]*$/, '')}.csv`,
          data: Buffer.from(csvRows(['line', 'reason'], parsed.rejected.map((r) => [r.line, r.reason])), 'utf8'),
          contentType: 'text/csv',
        });
      }
    }
    if (options.test === 'none') return ok({ text: lines.join('\n'), files });
    // The report goes first, then the job's own progress message.
    await ctx.reply.say({ text: lines.join('\n'), files });
    if (options.test === 'speed') {
      const s = await startPingThenSpeed(ctx, [...applied.addedNodes, ...applied.updatedNodes], `imported from ${name}`);
      return s.ping ? ok() : ok(undefined, { private: { text: 'test=speed: nothing new to ping.' } });
    }
    const { runnable } = splitByStatus('ping', [...applied.addedNodes, ...applied.updatedNodes]);
    if (!runnable.length) return ok(undefined, { private: { text: 'test=ping: nothing new to ping.' } });
    startJob(ctx, { stage: pingStageFor(ctx.services), nodes: runnable, selection: `imported from ${name}` });
    return ok();
  },
});
