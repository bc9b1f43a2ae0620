import type { SocketModeReceiver } from '@slack/bolt';
import type { Logger } from '../../src/log.ts';

type WsListener = (data: unknown, isBinary: boolean) => unknown;

/** Why a Socket Mode frame cannot be handed to the client, or null when it is well formed. */
export function envelopeProblem(data: unknown): string | null {
  if (typeof data !== 'string') return null; // binary frames: the client ignores them itself
  let msg: unknown;
  try {
    msg = JSON.parse(data);
  } catch {
    return 'not JSON';
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return 'not an object';
  const m = msg as { type?: unknown; envelope_id?: unknown; payload?: unknown };
  if (typeof m.type !== 'string') return 'no type';
  if (m.envelope_id === undefined) return null; // hello, disconnect: no payload expected
  if (typeof m.envelope_id !== 'string') return 'envelope_id is not a string';
  if (typeof m.payload !== 'object' || m.payload === null) return `${m.type} envelope without a payload`;
  if (m.type === 'events_api') {
    const event = (m.payload as { event?: { type?: unknown } }).event;
    if (typeof event?.type !== 'string') return 'events_api envelope without event.type';
  }
  return null;
}

function envelopeId(data: unknown): string | null {
  try {
    const id = (JSON.parse(String(data)) as { envelope_id?: unknown }).envelope_id;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}

/**
 * @slack/socket-mode reads `payload.event.type` of an events_api envelope without a check, inside an
 * async handler nobody awaits: one malformed envelope becomes an unhandled rejection, which ends a
 * Node process. This puts a check in front of the client's own handler (and catches what it throws);
 * a malformed envelope is logged and acknowledged, so it is not delivered again.
 */
export function guardEnvelopes(receiver: SocketModeReceiver, log: Logger): void {
  const client = receiver.client;
  const handlers = client.listeners('ws_message') as WsListener[];
  client.removeAllListeners('ws_message');
  client.on('ws_message', (data: unknown, isBinary: boolean) => {
    const problem = envelopeProblem(data);
    if (problem) {
      log.warn('slack: a malformed Socket Mode message was ignored', { problem });
      const id = envelopeId(data);
      // An ack stops Slack from delivering it again. send() is what the client's own ack() calls;
      // its typings mark it private.
      const send = (client as unknown as { send(id: string): Promise<void> }).send.bind(client);
      if (id) send(id).catch(() => {});
      return;
    }
    for (const handler of handlers) {
      Promise.resolve()
        .then(() => handler.call(client, data, isBinary))
        .catch((err: unknown) => log.error('slack: a Socket Mode message could not be handled', { error: err instanceof Error ? err.message : String(err) }));
    }
  });
}
