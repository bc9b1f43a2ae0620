import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export interface Ack {
  envelopeId: string;
  /** When the envelope was written and when its ack came back (Date.now()). */
  sentAt: number;
  ackedAt: number;
  /** The ack's payload (empty for a plain ack()). */
  payload: unknown;
  /** Sequence number of the ack in the fake's request log. */
  seq: number;
}

interface Pending {
  sentAt: number;
  resolve(ack: Ack): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The Socket Mode side: the websocket the client opens after apps.connections.open. Sends `hello`
 * (without it app.start() never resolves), then envelopes; every envelope waits for its ack.
 */
export class FakeSocket {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Set<WebSocket>();
  private readonly pending = new Map<string, Pending>();
  /** Do not greet new connections (start-up must then fail on its deadline, not hang). */
  withholdHello = false;
  connections = 0;
  /** Connections this side dropped (dropConnections). */
  drops = 0;

  private readonly appId: string;
  private readonly record: (frame: string) => number;
  constructor(
    appId: string,
    /** Records a frame the bot sent; returns its sequence number. */
    record: (frame: string) => number,
  ) {
    this.appId = appId;
    this.record = record;
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.connections++;
      this.sockets.add(ws);
      ws.on('close', () => this.sockets.delete(ws));
      ws.on('message', (data) => this.onFrame(String(data)));
      if (!this.withholdHello) {
        ws.send(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'fake-slack', approximate_connection_time: 18060 }, connection_info: { app_id: this.appId } }));
      }
    });
  }

  /**
   * Drops every open connection, as a network failure or a Slack pod going away would: `terminate`
   * cuts the TCP connection without a close frame; `refresh` first sends Slack's
   * `{"type":"disconnect","reason":"refresh_requested"}`, then closes. Either way the client has to
   * call apps.connections.open again for a new URL. Returns how many were dropped.
   */
  dropConnections(how: 'terminate' | 'refresh' = 'terminate'): number {
    const open = [...this.sockets];
    for (const ws of open) {
      this.drops++;
      if (how === 'refresh') {
        ws.send(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested', debug_info: { host: 'fake-slack' } }));
        setTimeout(() => ws.close(1001, 'refresh requested'), 50);
      } else {
        ws.terminate();
      }
      this.sockets.delete(ws);
    }
    return open.length;
  }

  get connected(): boolean {
    return this.sockets.size > 0;
  }

  /** Sends an envelope; resolves with its ack, rejects when none comes within `ackTimeoutMs` (Slack: 3 s). */
  envelope(type: string, payload: unknown, extra: Record<string, unknown> = {}, ackTimeoutMs = 3000): Promise<Ack> {
    const envelopeId = randomUUID();
    return new Promise<Ack>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(envelopeId);
        reject(new Error(`${type} envelope ${envelopeId} was not acknowledged within ${ackTimeoutMs} ms`));
      }, ackTimeoutMs);
      this.pending.set(envelopeId, { sentAt: Date.now(), resolve, reject, timer });
      this.raw(JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: type !== 'events_api', ...extra }));
    });
  }

  /** Any text frame, malformed ones included. */
  raw(text: string): void {
    const ws = [...this.sockets].at(-1);
    if (!ws) throw new Error('no Socket Mode connection is open');
    ws.send(text);
  }

  private onFrame(text: string): void {
    const seq = this.record(text);
    let msg: { envelope_id?: unknown; payload?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      return;
    }
    const p = typeof msg.envelope_id === 'string' ? this.pending.get(msg.envelope_id) : undefined;
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(msg.envelope_id as string);
    p.resolve({ envelopeId: msg.envelope_id as string, sentAt: p.sentAt, ackedAt: Date.now(), payload: msg.payload, seq });
  }

  async close(): Promise<void> {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error('fake Slack closed'));
    }
    this.pending.clear();
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }
}
