import { afterAll, beforeAll } from 'vitest';
import { startSimFleet, type SimFleet, type SimFleetOptions, type SimMix } from '../sim/fleet.ts';

/** Every behaviour, half of them good: the fleet the chat suites ping. */
export const MIXED: SimMix = { good: 0.5, slow: 0.1, silent: 0.1, rejecting: 0.1, garbage: 0.1, closed: 0.1 };

/**
 * A simulated fleet for the enclosing describe block (or file): started before its tests, closed
 * after them. The value reads through to the running fleet, so it can be declared at once.
 */
export function useSimFleet(opts: SimFleetOptions, startTimeoutMs?: number): SimFleet {
  let fleet: SimFleet | null = null;
  beforeAll(async () => {
    fleet = await startSimFleet(opts);
  }, startTimeoutMs);
  afterAll(async () => {
    await fleet?.close();
  });
  const running = (): SimFleet => {
    if (!fleet) throw new Error('the simulated fleet runs only while its tests do');
    return fleet;
  };
  return {
    get servers() {
      return running().servers;
    },
    importText: () => running().importText(),
    stats: () => running().stats(),
    close: () => running().close(),
  };
}
