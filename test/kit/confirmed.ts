import type { DispatchOutcome } from '../../src/chat/dispatcher.ts';
import type { Actor } from '../../src/chat/types.ts';

/**
 * Runs a command that asks first (delete, stop) the way the terminal does: the first run gives the
 * confirmation code, the second run carries it.
 */
export async function confirmed(run: (text: string, actor: Actor) => Promise<DispatchOutcome>, text: string, actor: Actor): Promise<DispatchOutcome> {
  const first = await run(text, actor);
  if (first.kind !== 'needsConfirmation') return first;
  return run(first.rerun.replace(/^\/connexa /, ''), actor);
}
