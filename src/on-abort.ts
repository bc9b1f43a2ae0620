/**
 * Cancellation fan-out: one 'abort' listener per signal, however many tasks wait on it. A job or a
 * batch shares one AbortSignal among hundreds of tasks in flight; a listener per task trips Node's
 * MaxListeners warning (or needs it switched off) and makes each removal O(n).
 */
const hubs = new WeakMap<AbortSignal, Set<() => void>>();

/** Runs `fn` once when `signal` aborts (at once if it already has); returns the way to stop waiting. */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) {
    fn();
    return noop;
  }
  let set = hubs.get(signal);
  if (set === undefined) {
    const waiting = new Set<() => void>();
    set = waiting;
    hubs.set(signal, waiting);
    signal.addEventListener(
      'abort',
      () => {
        for (const f of [...waiting]) f();
        waiting.clear();
      },
      { once: true },
    );
  }
  set.add(fn);
  const owner = set;
  return () => {
    owner.delete(fn);
  };
}

function noop(): void {}
