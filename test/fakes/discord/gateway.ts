import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export interface GatewayOptions {
  token: string;
  heartbeatMs: number;
  /** READY's payload `d` and the GUILD_CREATE payloads sent after it. */
  ready(sessionId: string): { ready: Record<string, unknown>; guilds: Array<Record<string, unknown>> };
}

interface Session {
  ws: WebSocket;
  seq: number;
  identified: boolean;
  /** READY's session_id. */
  id: string | null;
}

/** A session whose connection dropped, kept for RESUME (resume: 'accept'): what it missed meanwhile. */
interface Detached {
  seq: number;
  missed: Array<{ op: 0; t: string; s: number; d: unknown }>;
}

/**
 * The gateway websocket (plain JSON text frames: discord.js sends compress:false without zlib-sync).
 * HELLO on connect; IDENTIFY -> READY + GUILD_CREATE (or close 4004 for a wrong token);
 * heartbeats ACKed; RESUME answered with INVALID_SESSION so the client identifies afresh.
 * Faults: dropConnections() cuts every connection (or closes it with a code); with
 * `resume = 'accept'` a dropped session can be resumed as on Discord: the dispatches it missed are
 * replayed in order, then RESUMED.
 */
export class FakeGateway {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sessions = new Set<Session>();
  private readonly waiters: Array<() => void> = [];
  private readonly detached = new Map<string, Detached>();
  identifies = 0;
  heartbeats = 0;
  resumes = 0;
  drops = 0;
  /** How RESUME is answered: INVALID_SESSION (default, the client identifies again) or a real resume. */
  resume: 'invalid' | 'accept' = 'invalid';

  private readonly opts: GatewayOptions;
  constructor(opts: GatewayOptions) {
    this.opts = opts;
    this.wss.on('connection', (ws) => this.accept(ws));
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  /** Resolves when a client has identified (READY sent). */
  whenIdentified(): Promise<void> {
    if ([...this.sessions].some((s) => s.identified)) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Sends a dispatch (op 0) to every identified session. `d` goes out exactly as given. */
  dispatch(t: string, d: unknown): void {
    for (const s of this.sessions) if (s.identified) this.send(s, { op: 0, t, s: ++s.seq, d });
    for (const s of this.detached.values()) if (s.missed.length < 10_000) s.missed.push({ op: 0, t, s: ++s.seq, d });
  }

  /**
   * Drops every connection: without a code the TCP connection is cut (the client sees 1006 and
   * tries to resume); with one, a close frame with that code is sent. Returns how many were dropped.
   */
  dropConnections(code?: number): number {
    const live = [...this.sessions];
    for (const s of live) {
      this.drops++;
      if (code === undefined) s.ws.terminate();
      else s.ws.close(code, 'fake gateway drop');
      // At once, not on 'close': a dispatch sent right after the drop is kept for the resume.
      this.detach(s);
    }
    return live.length;
  }

  private detach(session: Session): void {
    if (!this.sessions.delete(session)) return;
    if (this.resume === 'accept' && session.identified && session.id) this.detached.set(session.id, { seq: session.seq, missed: [] });
  }

  connected(): number {
    return [...this.sessions].filter((s) => s.identified).length;
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }

  private accept(ws: WebSocket): void {
    const session: Session = { ws, seq: 0, identified: false, id: null };
    this.sessions.add(session);
    ws.on('close', () => this.detach(session));
    ws.on('message', (raw) => this.onFrame(session, raw.toString()));
    this.send(session, { op: 10, d: { heartbeat_interval: this.opts.heartbeatMs } });
  }

  private onFrame(s: Session, text: string): void {
    let frame: { op?: number; d?: unknown };
    try {
      frame = JSON.parse(text) as { op?: number; d?: unknown };
    } catch {
      s.ws.close(4002, 'Error while decoding payload.');
      return;
    }
    switch (frame.op) {
      case 1:
        this.heartbeats++;
        this.send(s, { op: 11 });
        return;
      case 2: {
        this.identifies++;
        const d = frame.d as { token?: string } | undefined;
        if (d?.token !== this.opts.token) {
          s.ws.close(4004, 'Authentication failed.');
          return;
        }
        const sessionId = `fake-session-${this.identifies}`;
        const { ready, guilds } = this.opts.ready(sessionId);
        s.identified = true;
        s.id = sessionId;
        this.send(s, { op: 0, t: 'READY', s: ++s.seq, d: ready });
        for (const g of guilds) this.send(s, { op: 0, t: 'GUILD_CREATE', s: ++s.seq, d: g });
        for (const w of this.waiters.splice(0)) w();
        return;
      }
      case 6: {
        const d = frame.d as { token?: string; session_id?: string; seq?: number } | undefined;
        const old = this.resume === 'accept' && d?.token === this.opts.token && d.session_id ? this.detached.get(d.session_id) : undefined;
        if (!old) {
          this.send(s, { op: 9, d: false });
          return;
        }
        this.detached.delete(d!.session_id!);
        this.resumes++;
        s.id = d!.session_id!;
        s.seq = old.seq;
        s.identified = true;
        for (const missed of old.missed) if (missed.s > (d!.seq ?? 0)) this.send(s, missed);
        this.send(s, { op: 0, t: 'RESUMED', s: ++s.seq, d: {} });
        return;
      }
      default:
        return; // presence/voice updates and the like: nothing to do
    }
  }

  private send(s: Session, payload: unknown): void {
    if (s.ws.readyState === s.ws.OPEN) s.ws.send(JSON.stringify(payload));
  }
}
