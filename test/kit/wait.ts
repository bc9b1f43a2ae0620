import { vi } from 'vitest';

/**
 * Waits until `check` stops throwing (vi.waitFor) and fails with its last error after `timeoutMs`.
 * Ten seconds by default: a bot under a loaded suite answers late, never wrongly.
 */
export async function eventually(check: () => unknown, timeoutMs = 10_000): Promise<void> {
  await vi.waitFor(check, { timeout: timeoutMs, interval: 20 });
}
