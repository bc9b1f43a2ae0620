import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { onAbort } from '../src/on-abort.ts';

describe('onAbort', () => {
  it('adds one listener to a signal however many wait on it, and runs each waiter once', () => {
    const controller = new AbortController();
    const ran: number[] = [];
    const stops = Array.from({ length: 500 }, (_, i) => onAbort(controller.signal, () => ran.push(i)));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    stops[7]!(); // stopped waiting: not run
    controller.abort();
    controller.abort();
    expect(ran).toHaveLength(499);
    expect(ran).not.toContain(7);
  });

  it('runs the waiter at once on a signal that has already aborted', () => {
    const ran: string[] = [];
    onAbort(AbortSignal.abort(), () => ran.push('now'));
    expect(ran).toEqual(['now']);
  });
});
