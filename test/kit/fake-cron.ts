import cron from 'node-cron';
import type { Composed } from '../../src/compose.ts';
import { Scheduler, type CronTrigger } from '../../src/monitor/schedules.ts';

/**
 * A clock that only moves when told: tasks are matched by node-cron's own matcher (the parsing
 * stays real), and `advanceTo` fires, minute by minute, every task whose cron matches, awaiting each run.
 */
export class FakeCron implements CronTrigger {
  now: Date;
  private readonly tasks: Array<{ expression: string; run: () => Promise<void>; match(d: Date): boolean; stopped: boolean }> = [];
  constructor(start: string) {
    this.now = new Date(start);
  }

  schedule(expression: string, run: () => Promise<void>) {
    const task = cron.createTask(expression, () => {});
    const entry = { expression, run, match: (d: Date) => task.match(d), stopped: false };
    this.tasks.push(entry);
    return {
      stop: () => {
        entry.stopped = true;
        void task.destroy();
      },
    };
  }

  /** The crons armed and not stopped. */
  armed(): string[] {
    return this.tasks.filter((t) => !t.stopped).map((t) => t.expression);
  }

  async advanceTo(iso: string): Promise<number> {
    const to = new Date(iso).getTime();
    let fired = 0;
    let t = Math.floor(this.now.getTime() / 60_000) * 60_000 + 60_000;
    for (; t <= to; t += 60_000) {
      this.now = new Date(t);
      for (const task of this.tasks.filter((x) => !x.stopped && x.match(new Date(t)))) {
        fired++;
        await task.run();
      }
    }
    this.now = new Date(to);
    return fired;
  }
}

/** Gives a composed app a scheduler on a fake clock (the one compose() made is stopped), and starts it. */
export async function fakeClockSchedules(composed: Composed, start: string, digestCron?: string): Promise<FakeCron> {
  const clock = new FakeCron(start);
  const { app, dispatcher } = composed;
  await app.schedules.stop();
  app.schedules = new Scheduler({ store: app.store, alerts: app.alerts, jobs: app.jobs, log: app.log, digestCron, trigger: clock, now: () => clock.now, dispatch: (port, inv) => dispatcher.dispatch(port, inv) });
  app.schedules.start();
  return clock;
}
