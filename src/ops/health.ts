import type { Store } from '../store/store.ts';

/** A chat adapter as health sees it. */
export interface AdapterState {
  platform: string;
  connected(): boolean;
}

export interface HealthSources {
  store: Store;
  /** The running chat adapters (empty in the terminal). */
  adapters: () => readonly AdapterState[];
  /** False until start-up is over (adapters connected, services restored or being restored). */
  started: () => boolean;
  /** Set once shutdown begins: a service manager stops sending traffic. */
  stopping: () => boolean;
}

export interface HealthReport {
  ok: boolean;
  /** One line per failing check; empty when ok. */
  reasons: string[];
}

/**
 * /healthz: the process answers, the store can be written, every chat adapter is connected.
 * A failing check is something an operator must look at (restart, free disk), so each says what.
 */
export function health(src: HealthSources): HealthReport {
  const reasons: string[] = [];
  const { store } = src;
  if (store.readOnly) reasons.push(`store read-only: the data directory cannot be written (${store.readOnly})`);
  else if (store.lastWriteError) reasons.push(`store not writable: ${store.lastWriteError.message}`);
  for (const a of src.adapters()) if (!a.connected()) reasons.push(`${a.platform}: not connected`);
  return { ok: reasons.length === 0, reasons };
}

/** /readyz: healthy, start-up finished, not shutting down. */
export function readiness(src: HealthSources): HealthReport {
  const h = health(src);
  const reasons = [...h.reasons];
  if (!src.started()) reasons.unshift('starting');
  if (src.stopping()) reasons.unshift('shutting down');
  return { ok: reasons.length === 0, reasons };
}
