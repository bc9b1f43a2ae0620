/**
 * Waiting for a BullMQ job's answer, for the bot (a gateway's commands) and for a gateway (its
 * enrolment) alike: resolves with the job's return value, rejects with its failure reason, with
 * JobWaitTimeout at the deadline, or with the signal's reason on abort.
 */
import type { Job, QueueEvents } from 'bullmq';

/** How long one wait on the event stream lasts before the job's state is read again. */
const SLICE_MS = 2000;

export class JobWaitTimeout extends Error {}

/** BullMQ's waitUntilFinished deadline error (its other rejections are the job's own failure). */
const isWaitTimeout = (err: unknown) => err instanceof Error && /^Job wait \S+ timed out before finishing/.test(err.message);

export async function awaitJob<T>(job: Job, events: QueueEvents, timeoutMs: number, signal?: AbortSignal): Promise<T> {
  let onAbort: (() => void) | null = null;
  const aborted = new Promise<never>((_, reject) => {
    if (!signal) return;
    onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? 'aborted')));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      // Waited in slices: each slice starts by reading the job's state, so an event missed while
      // Redis restarted (its stream reader reconnecting) costs at most one slice, never the call.
      const slice = Math.max(1, Math.min(SLICE_MS, deadline - Date.now()));
      try {
        return (await Promise.race([job.waitUntilFinished(events, slice), aborted])) as T;
      } catch (err) {
        if (!isWaitTimeout(err)) throw err;
        if (Date.now() >= deadline) throw new JobWaitTimeout(`no answer within ${Math.round(timeoutMs / 1000)} s`);
      }
    }
  } finally {
    if (onAbort) signal!.removeEventListener('abort', onAbort);
  }
}
