import type { Store } from '../src/store/store.ts';

/**
 * Waits until the store is on disk, so that a reply saying something was deleted or changed is true
 * even if the process dies right after it. On a failed write the reply says so instead of claiming
 * it: the change stays in memory and the store keeps retrying, but a stop before that loses it.
 */
export async function saved(store: Store): Promise<string> {
  try {
    await store.flush();
    return '';
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? 'write failed';
    return `\n⚠️ Not saved yet (${why}): the change is kept in memory and saving is retried; it is lost if Connexa stops before that succeeds.`;
  }
}
