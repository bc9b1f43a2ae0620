import cron from 'node-cron';
import { z } from 'zod';
import { splitArgs, tokenize } from '../chat/args.ts';
import type { DispatchOutcome } from '../chat/dispatcher.ts';
import { principalOf } from '../chat/roles.ts';
import type { Actor, ChatPort, Invocation } from '../chat/types.ts';
import type { Logger } from '../log.ts';
import type { Job, JobRunner, JobSummary } from '../pipeline/job-runner.ts';
import type { Store } from '../store/store.ts';
import type { Alerts } from './alerts.ts';
import { digestOf, digestText } from './digest.ts';

/** Saved in the store's settings (no schema change: older and newer stores read it alike). */
const SCHEDULES_SETTING = 'schedules';
const NEXT_ID_SETTING = 'schedules.nextId';
const DIGEST_LAST_SETTING = 'digest.lastAt';
const WEEK_MS = 7 * 24 * 3600 * 1000;

const lastRunSchema = z.object({
  at: z.string(),
  /** running, done, cancelled, ok (no job), skipped, refused, failed. */
  outcome: z.string(),
  note: z.string().nullable(),
});

export const scheduleSchema = z.object({
  id: z.string(),
  /** The command line it runs, as typed after `/connexa`. */
  line: z.string(),
  /** The time as typed, and the cron it became. */
  when: z.string(),
  cron: z.string(),
  /** The platform and the (opaque) place it was made: results go there. */
  platform: z.enum(['terminal', 'slack', 'discord']),
  where: z.string(),
  /** Who made it: each run is dispatched as them, so their role is checked again every time. */
  actor: z.object({ platform: z.enum(['terminal', 'slack', 'discord']), id: z.string(), name: z.string(), roleIds: z.array(z.string()) }),
  createdAt: z.string(),
  lastRun: lastRunSchema.nullable(),
});
export type ScheduleRecord = z.infer<typeof scheduleSchema>;
export type LastRun = z.infer<typeof lastRunSchema>;

/** What starts a task on a cron; node-cron by default, a fake clock in tests. */
export interface CronTrigger {
  /** `run` never rejects (the scheduler logs its own failures). */
  schedule(expression: string, run: () => Promise<void>): { stop(): void | Promise<void> };
}
export const nodeCronTrigger: CronTrigger = {
  schedule(expression, run) {
    const task = cron.schedule(expression, run, { name: 'connexa-schedule' });
    // Destroyed, not just stopped: a removed schedule leaves nothing in node-cron's registry.
    return { stop: () => task.destroy() };
  },
};

/** When a cron next fires after now, by node-cron's own matcher. */
export function nextRunOf(expression: string): Date | null {
  const task = cron.createTask(expression, () => {});
  try {
    // getNextRun() answers only for a started task; the matcher behind getNextRuns does not care.
    return task.getNextRuns(1)[0] ?? null;
  } finally {
    void task.destroy();
  }
}

/** The command word and the filter words of a line (the selection a job would be named by). */
export function lineParts(line: string): { command: string; selection: string } {
  const [command = '', ...rest] = tokenize(line);
  return { command: command.toLowerCase(), selection: splitArgs(rest, 0).filterTerms.join(' ') };
}

export interface SchedulerDeps {
  store: Store;
  alerts: Pick<Alerts, 'portFor' | 'send'>;
  jobs: Pick<JobRunner, 'list'>;
  /** The dispatcher's entry: a run is an invocation like a typed one. */
  dispatch(port: ChatPort, inv: Invocation): Promise<DispatchOutcome>;
  log: Logger;
  /** DIGEST_CRON: the weekly digest, off when unset. */
  digestCron?: string;
  trigger?: CronTrigger;
  now?: () => Date;
}

/**
 * Recurring command lines (`schedule … every …`), kept in the store so they survive restarts. Each
 * tick dispatches the line as the person who made it, in the channel it was made in, through the
 * dispatcher (their role is checked again, with their Discord roles read anew from Discord: a lost
 * role, or roles that cannot be read, refuse the run, said in the channel). A
 * tick whose previous run, or another job of the same selection, still runs is skipped with a note.
 */
export class Scheduler {
  private readonly deps: SchedulerDeps;
  private readonly armed = new Map<string, { stop(): void | Promise<void> }>();
  /** The jobs each schedule's last run started, while they run. */
  private readonly running = new Map<string, Job[]>();
  private started = false;
  private digestTask: { stop(): void | Promise<void> } | null = null;
  constructor(deps: SchedulerDeps) {
    this.deps = deps;
  }

  private get trigger(): CronTrigger {
    return this.deps.trigger ?? nodeCronTrigger;
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  list(): ScheduleRecord[] {
    const raw = this.deps.store.setting<unknown[]>(SCHEDULES_SETTING) ?? [];
    return raw.flatMap((r) => {
      const parsed = scheduleSchema.safeParse(r);
      if (!parsed.success) this.deps.log.warn('a saved schedule could not be read and is ignored', { error: parsed.error.issues[0]?.message });
      return parsed.success ? [parsed.data] : [];
    });
  }

  get(id: string): ScheduleRecord | undefined {
    return this.list().find((s) => s.id === id.toLowerCase());
  }

  add(s: { line: string; when: string; cron: string; where: string; actor: Actor }): ScheduleRecord {
    const n = this.deps.store.setting<number>(NEXT_ID_SETTING) ?? 1;
    const { platform, id, name, roleIds } = s.actor;
    const record: ScheduleRecord = { id: `s${n}`, line: s.line, when: s.when, cron: s.cron, platform, where: s.where, actor: { platform, id, name, roleIds: [...roleIds] }, createdAt: this.now().toISOString(), lastRun: null };
    this.deps.store.setSetting(NEXT_ID_SETTING, n + 1);
    this.save([...this.list(), record]);
    if (this.started) this.arm(record);
    return record;
  }

  remove(id: string): ScheduleRecord | undefined {
    const found = this.get(id);
    if (!found) return undefined;
    this.save(this.list().filter((s) => s.id !== found.id));
    void this.armed.get(found.id)?.stop();
    this.armed.delete(found.id);
    return found;
  }

  nextRunAt(s: ScheduleRecord): Date | null {
    return nextRunOf(s.cron);
  }

  /** Arms every saved schedule and the digest (long-running modes only). */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const s of this.list()) this.arm(s);
    if (this.deps.digestCron) this.digestTask = this.trigger.schedule(this.deps.digestCron, () => this.digest().then(() => undefined, (err: Error) => this.deps.log.error('digest failed', { error: err.message })));
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const t of this.armed.values()) await t.stop();
    this.armed.clear();
    await this.digestTask?.stop();
    this.digestTask = null;
  }

  private arm(s: ScheduleRecord): void {
    this.armed.set(s.id, this.trigger.schedule(s.cron, () => this.fire(s.id).then(() => undefined, (err: Error) => this.deps.log.error('schedule run failed', { schedule: s.id, error: err.message }))));
  }

  /** One tick of a schedule; resolves once the line is dispatched (its job may still run). */
  async fire(id: string): Promise<LastRun | null> {
    const s = this.get(id);
    if (!s) return null;
    const port = this.deps.alerts.portFor(s.platform);
    if (!port) {
      this.deps.log.warn('a schedule is due but its platform is not connected; skipped', { schedule: s.id, platform: s.platform });
      return this.record(s.id, 'skipped', `${s.platform} was not connected`);
    }
    const where = { key: s.where };
    const say = (text: string) => port.post(where, { text }).catch((err: Error) => this.deps.log.warn('a schedule note could not be posted', { schedule: s.id, error: err.message }));
    const busy = this.busyWith(s);
    if (busy) {
      const note = `${busy.record.kind} ${busy.id} (${busy.record.selection}) is still running`;
      await say(`⏭️ Schedule **${s.id}** skipped this run (\`${s.line}\`): ${note}.`);
      return this.record(s.id, 'skipped', note);
    }
    // Platform roles are read again now: never the ones recorded when the schedule was made.
    let actor: Actor = s.actor;
    if (port.currentRoles && s.actor.platform === port.platform) {
      try {
        actor = { ...s.actor, roleIds: await port.currentRoles(s.actor, where) };
      } catch (err) {
        const note = `${s.actor.name}'s current ${s.platform} roles could not be read (${(err as Error).message}), and a schedule never runs on the roles it was made with`;
        await say(`⛔ Schedule **${s.id}** did not run: ${note}. An operator can remove it with \`unschedule ${s.id}\`.`);
        return this.record(s.id, 'refused', note);
      }
    }
    await say(`🕒 Schedule **${s.id}** (every ${s.when}, made by ${s.actor.name}): \`${s.line}\``);
    const before = new Set(this.deps.jobs.list().map((j) => j.id));
    const outcome = await this.deps.dispatch(port, { text: s.line, files: [], actor, where });
    const who = principalOf(s.actor);
    const jobs = this.deps.jobs.list().filter((j) => !before.has(j.id) && j.record.actor === who);
    switch (outcome.kind) {
      case 'ok':
        if (!jobs.length) return this.record(s.id, 'ok', null);
        this.running.set(s.id, jobs);
        void Promise.all(jobs.map((j) => j.done)).then(
          (summaries) => {
            this.running.delete(s.id);
            this.record(s.id, summaries.some((x) => x.state === 'cancelled') ? 'cancelled' : 'done', summaries.map(summaryNote).join('; '));
          },
          () => this.running.delete(s.id),
        );
        return this.record(s.id, 'running', jobs.map((j) => `${j.record.kind} ${j.id}`).join(', '));
      case 'denied': {
        const note = `${s.actor.name} no longer has the ${outcome.needed} role \`${outcome.command}\` needs (${outcome.held ? `${outcome.held} now` : 'no role now'})`;
        await say(`⛔ Schedule **${s.id}** did not run: ${note}. An operator can remove it with \`unschedule ${s.id}\`.`);
        return this.record(s.id, 'refused', note);
      }
      case 'needsConfirmation':
        await say(`❌ Schedule **${s.id}** did not run: \`${outcome.command}\` asks for a confirmation, which a schedule cannot give.`);
        return this.record(s.id, 'failed', 'needs a confirmation');
      default:
        await say(`❌ Schedule **${s.id}** did not run: ${outcome.message}`);
        return this.record(s.id, 'failed', outcome.message.slice(0, 300));
    }
  }

  /** A job this schedule started that still runs, or a running job of the same command and selection. */
  private busyWith(s: ScheduleRecord): Job | undefined {
    const own = this.running.get(s.id)?.find((j) => j.record.state === 'running');
    if (own) return own;
    const { command, selection } = lineParts(s.line);
    // With no filter the command picks its default selection, whatever its words: any job of that kind counts.
    return this.deps.jobs.list().find((j) => j.record.state === 'running' && j.record.kind === command && (!selection || j.record.selection === selection));
  }

  private record(id: string, outcome: string, note: string | null): LastRun {
    const lastRun: LastRun = { at: this.now().toISOString(), outcome, note };
    this.save(this.list().map((s) => (s.id === id ? { ...s, lastRun } : s)));
    return lastRun;
  }

  private save(list: ScheduleRecord[]): void {
    this.deps.store.setSetting(SCHEDULES_SETTING, list);
  }

  /** Posts the digest of what changed since the last one (a week at most) to the alert channels. */
  async digest(): Promise<string> {
    const until = this.now();
    const last = this.deps.store.setting<string>(DIGEST_LAST_SETTING);
    const weekAgo = new Date(until.getTime() - WEEK_MS).toISOString();
    const since = last && last > weekAgo ? last : weekAgo;
    const text = digestText(digestOf(this.deps.store.nodes(), since, until.toISOString()));
    await this.deps.alerts.send({ text });
    this.deps.store.setSetting(DIGEST_LAST_SETTING, until.toISOString());
    return text;
  }
}

function summaryNote(s: JobSummary): string {
  const counts = Object.entries(s.counts).map(([k, v]) => `${k} ${v}`).join(' · ') || 'nothing';
  return `${s.kind} ${s.id}: ${s.total} node${s.total === 1 ? '' : 's'}, ${counts}`;
}
