import { channel } from 'node:diagnostics_channel';

/**
 * What the bot tells an observer (the metrics) as it works, over Node's diagnostics channels: the
 * code that does the work publishes one small message and knows nothing of who listens; with no
 * subscriber (METRICS_PORT unset) a publish is a single branch. Counts that the store already holds
 * (nodes by status, jobs) are NOT events: the metrics read them from the store at scrape time.
 */
export interface OpsEvents {
  /** One node's result in a job (after its compare-and-set): outcome as the job counts it. */
  'node.result': { kind: string; outcome: string; downMbps?: number | null; upMbps?: number | null; /** How many nodes (default 1): busy nodes come at once. */ nodes?: number };
  /** A job ended (done, cancelled, failed). */
  'job.finished': { kind: string; state: string; seconds: number };
  'monitor.run': { wentOffline: number; cameBack: number };
  /** A remote gateway was seen down (no heartbeat for GATEWAY_DEAD_AFTER) or back. */
  'gateway.state': { gateway: string; up: boolean };
  /** An alert was posted (to every registered chat). */
  'alert.sent': { ports: number };
  /** A chat command ended (the dispatcher's onEvent). */
  'chat.command': { platform: string; command: string; outcome: string };
  /** A platform API call ended (Slack: one Web API call, retries included; Discord: one HTTP answer). */
  'platform.call': { platform: string; result: 'ok' | 'error' };
  /** The platform answered 429 (the call waits and is retried). */
  'platform.rate_limited': { platform: string };
  /** An import's addresses could not be located on the IP database's thread: located on the main one. */
  'geo.fallback': { reason: string };
  /** A store file write finished (ok or not). */
  'store.write': { seconds: number; ok: boolean };
}

export type OpsEventName = keyof OpsEvents;

const channels = new Map<string, ReturnType<typeof channel>>();
function ch(name: OpsEventName) {
  let c = channels.get(name);
  if (!c) channels.set(name, (c = channel(`connexa:${name}`)));
  return c;
}

export function publish<K extends OpsEventName>(name: K, message: OpsEvents[K]): void {
  const c = ch(name);
  if (c.hasSubscribers) c.publish(message);
}

/** Subscribes to one event; returns the unsubscribe. */
export function subscribe<K extends OpsEventName>(name: K, fn: (message: OpsEvents[K]) => void): () => void {
  const c = ch(name);
  const listener = (m: unknown) => fn(m as OpsEvents[K]);
  c.subscribe(listener);
  return () => void c.unsubscribe(listener);
}
