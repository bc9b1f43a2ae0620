/**
 * A fake Slack on 127.0.0.1 for the real @slack/bolt client: the Web API methods the adapter uses,
 * the upload URL, url_private downloads (bot token required), response_url, and Socket Mode.
 * It records every request the bot makes (for ordering and secrets assertions), keeps a model of
 * the workspace (model.ts), and can inject faults: a 429 storm with Retry-After, a call that is
 * applied and then fails, failing downloads, a withheld hello, malformed envelopes, a download that
 * trickles in over seconds, a dropped Socket Mode connection (socket.dropConnections()).
 * Every public request is also handed to the suite-wide secrets scan (test/reliability/secret-scan.ts).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BOT_ID, BOT_USER, TEAM_ID, Workspace, type FakeEphemeral, type FakeFile, type FakeMessage } from './model.ts';
import { FakeSocket, type Ack } from './socket.ts';
import { fileText, scanCollector } from '../../reliability/secret-scan.ts';

export const FAKE_BOT_TOKEN = 'xoxb-fake-0000-bot-token';
export const FAKE_APP_TOKEN = 'xapp-1-fake-0000-app-token';
export const FAKE_APP_ID = 'A0FAKE';

export type RequestKind = 'api' | 'upload' | 'download' | 'respond' | 'socket';

export interface RecordedRequest {
  seq: number;
  at: number;
  kind: RequestKind;
  /** The API method (`chat.postMessage`), or the path for the other kinds. */
  method: string;
  auth: string | null;
  params: Record<string, string>;
  /** The body as text, decoded (form values unescaped, multipart parts joined, file bytes as UTF-8). */
  body: string;
  status: number;
  rateLimited: boolean;
  /** For uploads: the file the bytes belong to. */
  fileId?: string;
}

export interface RateLimitStorm {
  methods: readonly string[];
  until: number;
  retryAfterSec: number;
}

export interface Faults {
  storm: RateLimitStorm | null;
  /** Methods that are applied and then answered with HTTP 500 (the response was "lost"), once each. */
  failAfterApply: Set<string>;
  /** url_private answers: 500, or the connection is cut in the middle of the body. */
  downloads: 'ok' | 'status500' | 'cut';
  /** Send downloads chunked, without Content-Length (the client must count while streaming). */
  chunkedDownloads: boolean;
  /** Send file_share events for the bot's own uploads, as real Slack does. */
  botFileEvents: boolean;
  /**
   * Like failAfterApply, for the calls a predicate picks (e.g. only the chat.update that carries a
   * job's summary): the call is applied, then answered with HTTP 500. Each predicate fires once.
   */
  failAfterApplyIf: Array<(method: string, params: Record<string, string>) => boolean>;
  /** url_private answers trickle: the body (with its Content-Length) in `chunks` pieces spread over `overMs`. */
  downloadTrickle: { chunks: number; overMs: number } | null;
}

export interface SlashOptions {
  user: string;
  text: string;
  channel?: string;
  command?: string;
}

export interface ShareOptions {
  user: string;
  name: string;
  data: Buffer;
  text?: string;
  channel?: string;
  mimetype?: string;
  /** The size Slack reports in the event (default: the real size). */
  reportedSize?: number;
  threadTs?: string;
  /**
   * The event carries only `{ id, mode, file_access: 'check_file_info' }`, as Slack sends for some
   * shares (Slack Connect): the bot must ask files.info for the name and the URL.
   */
  checkFileInfo?: boolean;
}

export class FakeSlack {
  readonly model = new Workspace();
  readonly requests: RecordedRequest[] = [];
  readonly faults: Faults = { storm: null, failAfterApply: new Set(), downloads: 'ok', chunkedDownloads: false, botFileEvents: true, failAfterApplyIf: [], downloadTrickle: null };
  readonly socket: FakeSocket;
  /** response_url id -> the command it belongs to. */
  private readonly responseUrls = new Map<string, { user: string; channel: string; uses: number; pressed?: { message: FakeMessage } | { ephemeral: FakeEphemeral } }>();
  private seq = 0;
  private nextResponse = 1;
  origin = '';

  private readonly server: Server;
  constructor(server: Server) {
    this.server = server;
    this.socket = new FakeSocket(FAKE_APP_ID, (frame) => this.record({ kind: 'socket', method: 'ack', auth: null, params: {}, body: frame, status: 200, rateLimited: false }).seq);
    // Classified when the scan collects (at the end of the test file): an upload is known to be
    // private only once files.completeUploadExternal has shared it.
    scanCollector().addSource('fake Slack', () =>
      this.requests
        .filter((r) => !this.isPrivate(r))
        .map((r) => {
          const file = r.kind === 'upload' && r.fileId ? this.model.files.get(r.fileId) : undefined;
          return { label: `${r.kind} ${r.method}`, text: file ? fileText(file.data) : r.body };
        }),
    );
  }

  get apiUrl(): string {
    return `${this.origin}/api/`;
  }

  // ---------------------------------------------------------------- what tests drive

  /** A user types `/connexa <text>`; resolves with the ack (rejects if none within 3 s). */
  slashCommand(o: SlashOptions): Promise<Ack> {
    const channel = o.channel ?? 'CGENERAL';
    const id = String(this.nextResponse++);
    this.responseUrls.set(id, { user: o.user, channel, uses: 0 });
    const user = this.model.users.get(o.user);
    return this.socket.envelope('slash_commands', {
      token: 'verification-token-unused',
      team_id: TEAM_ID,
      team_domain: 'fake',
      channel_id: channel,
      channel_name: this.model.channels.get(channel)?.name ?? 'unknown',
      user_id: o.user,
      user_name: user?.name ?? o.user.toLowerCase(),
      command: o.command ?? '/connexa',
      text: o.text,
      api_app_id: FAKE_APP_ID,
      is_enterprise_install: 'false',
      response_url: `${this.origin}/respond/${id}`,
      trigger_id: `${Date.now()}.trigger`,
    });
  }

  /**
   * A user presses a button (block_actions over Socket Mode) on a bot message or on one of their
   * ephemeral messages; resolves with the ack. The id is any action_id, a stale one included.
   */
  press(o: { user: string; actionId: string; on: { message: FakeMessage } | { ephemeral: FakeEphemeral } }): Promise<Ack> {
    const id = String(this.nextResponse++);
    const channel = 'message' in o.on ? o.on.message.channel : o.on.ephemeral.channel;
    this.responseUrls.set(id, { user: o.user, channel, uses: 0, pressed: o.on });
    const user = this.model.users.get(o.user);
    const message = 'message' in o.on ? { type: 'message', ts: o.on.message.ts, text: o.on.message.text, blocks: o.on.message.blocks, ...(o.on.message.threadTs ? { thread_ts: o.on.message.threadTs } : {}) } : undefined;
    return this.socket.envelope('interactive', {
      type: 'block_actions',
      user: { id: o.user, username: user?.name ?? o.user, name: user?.name ?? o.user, team_id: TEAM_ID },
      api_app_id: FAKE_APP_ID,
      token: 'verification-token-unused',
      container: { type: 'message', channel_id: channel, is_ephemeral: !message, ...(message ? { message_ts: message.ts } : { message_ts: this.model.nextTs() }) },
      trigger_id: `${Date.now()}.trigger`,
      team: { id: TEAM_ID, domain: 'fake' },
      channel: { id: channel, name: this.model.channels.get(channel)?.name ?? 'unknown' },
      ...(message ? { message } : {}),
      response_url: `${this.origin}/respond/${id}`,
      actions: [{ type: 'button', action_id: o.actionId, block_id: 'connexa-actions', text: { type: 'plain_text', text: 'button' }, action_ts: `${Date.now() / 1000}` }],
    });
  }

  /** A user uploads a file into a channel (with an optional message); resolves when the event is acked. */
  async shareFile(o: ShareOptions): Promise<{ ts: string; fileId: string; ack: Ack }> {
    const channel = o.channel ?? 'CGENERAL';
    const file = this.model.newFile({ name: o.name, title: o.name, mimetype: o.mimetype ?? 'text/plain', data: o.data, declaredLength: null, uploadedBy: o.user });
    file.completed = true;
    file.channel = channel;
    file.threadTs = o.threadTs ?? null;
    const msg = this.model.addMessage({ channel, threadTs: o.threadTs ?? null, user: o.user, botId: null, text: o.text ?? '', files: [file] });
    const ack = await this.event({
      type: 'message',
      subtype: 'file_share',
      user: o.user,
      channel,
      channel_type: this.model.isIm(channel) ? 'im' : 'channel',
      ts: msg.ts,
      ...(o.threadTs ? { thread_ts: o.threadTs } : {}),
      text: o.text ?? '',
      files: [o.checkFileInfo ? { id: file.id, mode: 'file_access', file_access: 'check_file_info', created: Math.floor(Date.now() / 1000), user: o.user } : this.fileObject(file, o.reportedSize)],
    });
    return { ts: msg.ts, fileId: file.id, ack };
  }

  /** An events_api envelope around `event`. */
  event(event: Record<string, unknown>): Promise<Ack> {
    return this.socket.envelope(
      'events_api',
      {
        token: 'verification-token-unused',
        team_id: TEAM_ID,
        api_app_id: FAKE_APP_ID,
        event: { event_ts: event.ts ?? `${Date.now() / 1000}`, ...event },
        type: 'event_callback',
        event_id: `Ev${randomUUID().slice(0, 8).toUpperCase()}`,
        event_time: Math.floor(Date.now() / 1000),
        authorizations: [{ team_id: TEAM_ID, user_id: BOT_USER, is_bot: true, is_enterprise_install: false }],
        is_ext_shared_channel: false,
      },
      { retry_attempt: 0, retry_reason: '' },
    );
  }

  /** A 429 with Retry-After for `methods` during the next `forMs`. */
  stormRateLimit(methods: readonly string[], forMs: number, retryAfterSec = 1): void {
    this.faults.storm = { methods, until: Date.now() + forMs, retryAfterSec };
  }

  // ---------------------------------------------------------------- what tests read

  calls(method: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method);
  }

  /** Applied (not rate-limited, answered 200) calls of a method. */
  applied(method: string): RecordedRequest[] {
    return this.calls(method).filter((r) => !r.rateLimited && r.status === 200);
  }

  /**
   * Whether a recorded request could only reach `user` privately (an ephemeral, a response_url reply, a
   * post or file into their DM). With no user: private to anyone.
   */
  isPrivate(r: RecordedRequest, user?: string): boolean {
    const to = (u: string | undefined) => user === undefined || u === user;
    if (r.method === 'chat.postEphemeral') return to(r.params.user);
    if (r.kind === 'respond') return r.params.response_type !== 'in_channel' && to(this.responseUrls.get(r.method.split('/').pop()!)?.user);
    const channel = r.params.channel ?? r.params.channel_id;
    if (channel && this.model.isIm(channel)) return to(this.model.channels.get(channel)?.user ?? undefined);
    if (r.kind === 'upload' && r.fileId) {
      const f = this.model.files.get(r.fileId);
      if (f?.channel && this.model.isIm(f.channel)) return to(this.model.channels.get(f.channel)?.user ?? undefined);
    }
    return false;
  }

  /** Bodies of every request except those private to `user` (to anyone, when not given). */
  publicBodies(user?: string): string[] {
    return this.requests.filter((r) => !this.isPrivate(r, user)).map((r) => r.body);
  }

  async close(): Promise<void> {
    await this.socket.close();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  // ---------------------------------------------------------------- the server

  record(r: Omit<RecordedRequest, 'seq' | 'at'>): RecordedRequest {
    const rec = { ...r, seq: ++this.seq, at: Date.now() };
    this.requests.push(rec);
    return rec;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const auth = req.headers.authorization ?? null;
    const raw = await readBody(req);
    if (req.method === 'POST' && url.pathname.startsWith('/api/')) return this.api(url.pathname.slice(5), auth, req, raw, res);
    if (req.method === 'POST' && url.pathname.startsWith('/upload/')) return this.upload(url.pathname.slice(8), auth, req, raw, res);
    if (req.method === 'POST' && url.pathname.startsWith('/respond/')) return this.respond(url.pathname, raw, res);
    if (req.method === 'GET' && url.pathname.startsWith('/files-pri/')) return this.download(url.pathname, auth, res);
    send(res, 404, { ok: false, error: 'not_found' });
  }

  private async api(method: string, auth: string | null, req: IncomingMessage, raw: Buffer, res: ServerResponse): Promise<void> {
    const { params, text } = await parseForm(req, raw);
    const base = { kind: 'api' as const, method, auth, params, body: text };
    const storm = this.faults.storm;
    if (storm && storm.until > Date.now() && storm.methods.includes(method)) {
      this.record({ ...base, status: 429, rateLimited: true });
      return send(res, 429, { ok: false, error: 'ratelimited' }, { 'Retry-After': String(storm.retryAfterSec) });
    }
    const expected = method === 'apps.connections.open' ? FAKE_APP_TOKEN : FAKE_BOT_TOKEN;
    const result = auth === `Bearer ${expected}` ? this.method(method, params) : { ok: false, error: auth ? 'invalid_auth' : 'not_authed' };
    if (this.faults.failAfterApply.delete(method)) {
      this.record({ ...base, status: 500, rateLimited: false });
      return send(res, 500, { ok: false, error: 'internal_error' });
    }
    const picked = this.faults.failAfterApplyIf.findIndex((pick) => pick(method, params));
    if (picked >= 0) {
      this.faults.failAfterApplyIf.splice(picked, 1);
      this.record({ ...base, status: 500, rateLimited: false });
      return send(res, 500, { ok: false, error: 'internal_error' });
    }
    this.record({ ...base, status: 200, rateLimited: false });
    send(res, 200, result);
  }

  private method(method: string, p: Record<string, string>): Record<string, unknown> {
    const m = this.model;
    const writable = (channel: string | undefined): string | null => {
      const c = channel ? m.channels.get(channel) : undefined;
      if (!c) return 'channel_not_found';
      return c.botMember ? null : 'not_in_channel';
    };
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://fake.slack.com/', team: 'Fake', user: 'connexa', team_id: TEAM_ID, user_id: BOT_USER, bot_id: BOT_ID, is_enterprise_install: false };
      case 'apps.connections.open':
        return { ok: true, url: `${this.origin.replace('http:', 'ws:')}/socket?ticket=${randomUUID()}` };
      case 'chat.postMessage': {
        const bad = writable(p.channel) ?? (p.text ? null : 'no_text');
        if (bad) return { ok: false, error: bad };
        if (p.thread_ts && !m.message(p.channel!, p.thread_ts)) return { ok: false, error: 'thread_not_found' };
        const msg = m.addMessage({ channel: p.channel!, threadTs: p.thread_ts ?? null, user: BOT_USER, botId: BOT_ID, text: p.text!, files: [], blocks: blocksOf(p.blocks) });
        return { ok: true, channel: msg.channel, ts: msg.ts, message: { type: 'message', user: BOT_USER, bot_id: BOT_ID, text: msg.text, ts: msg.ts, ...(msg.threadTs ? { thread_ts: msg.threadTs } : {}) } };
      }
      case 'chat.update': {
        const msg = m.message(p.channel ?? '', p.ts ?? '');
        if (!msg) return { ok: false, error: 'message_not_found' };
        if (msg.user !== BOT_USER) return { ok: false, error: 'cant_update_message' };
        if (!p.text) return { ok: false, error: 'no_text' };
        msg.text = p.text;
        if (p.blocks !== undefined) msg.blocks = blocksOf(p.blocks);
        msg.texts.push(p.text);
        msg.edits++;
        return { ok: true, channel: msg.channel, ts: msg.ts, text: msg.text };
      }
      case 'chat.postEphemeral': {
        const bad = writable(p.channel) ?? (p.user && m.users.has(p.user) ? null : 'user_not_found');
        if (bad) return { ok: false, error: bad };
        m.ephemerals.push({ channel: p.channel!, user: p.user!, text: p.text ?? '', threadTs: p.thread_ts ?? null, via: 'chat.postEphemeral', at: Date.now(), blocks: blocksOf(p.blocks), replaced: 0 });
        return { ok: true, message_ts: m.nextTs() };
      }
      case 'conversations.open': {
        const user = p.users?.split(',')[0];
        if (!user || !m.users.has(user)) return { ok: false, error: 'user_not_found' };
        return { ok: true, channel: { id: m.openIm(user).id } };
      }
      case 'users.info': {
        const u = p.user ? m.users.get(p.user) : undefined;
        if (!u) return { ok: false, error: 'user_not_found' };
        return { ok: true, user: { id: u.id, name: u.name, real_name: u.realName, profile: { display_name: u.name, real_name: u.realName } } };
      }
      case 'files.getUploadURLExternal': {
        if (!p.filename || !p.length) return { ok: false, error: 'invalid_arguments' };
        const f = m.newFile({ name: p.filename, title: p.filename, mimetype: 'application/octet-stream', data: Buffer.alloc(0), declaredLength: Number(p.length), uploadedBy: BOT_USER });
        return { ok: true, upload_url: `${this.origin}/upload/${f.id}`, file_id: f.id };
      }
      case 'files.completeUploadExternal':
        return this.complete(p);
      case 'files.info': {
        // Like Slack: a file the bot can see (shared where it is a member, or its own upload).
        const f = p.file ? m.files.get(p.file) : undefined;
        const visible = f && (f.uploadedBy === BOT_USER || (f.channel !== null && f.channel !== undefined && m.channels.get(f.channel)?.botMember));
        if (!f || !visible) return { ok: false, error: 'file_not_found' };
        return { ok: true, file: this.fileObject(f) };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  private complete(p: Record<string, string>): Record<string, unknown> {
    const m = this.model;
    let list: Array<{ id: string; title?: string }>;
    try {
      list = JSON.parse(p.files ?? '[]') as typeof list;
    } catch {
      return { ok: false, error: 'invalid_arguments' };
    }
    const files = list.map((x) => m.files.get(x.id));
    if (!files.length || files.some((f) => !f || f.completed || f.data.length !== f.declaredLength)) return { ok: false, error: 'file_not_found' };
    const done = files as FakeFile[];
    const channel = p.channel_id ?? null;
    if (channel) {
      const c = m.channels.get(channel);
      if (!c) return { ok: false, error: 'channel_not_found' };
      if (!c.botMember) return { ok: false, error: 'not_in_channel' };
      if (p.thread_ts && !m.message(channel, p.thread_ts)) return { ok: false, error: 'thread_not_found' };
    }
    for (const [i, f] of done.entries()) {
      f.completed = true;
      f.title = list[i]!.title ?? f.name;
      f.channel = channel;
      f.threadTs = p.thread_ts ?? null;
    }
    if (channel) {
      const msg = m.addMessage({ channel, threadTs: p.thread_ts ?? null, user: BOT_USER, botId: BOT_ID, text: p.initial_comment ?? '', files: done });
      if (this.faults.botFileEvents && this.socket.connected) {
        // Real Slack tells the app about its own uploads too; the bot must not import them.
        void this.event({ type: 'message', subtype: 'file_share', user: BOT_USER, bot_id: BOT_ID, channel, ts: msg.ts, ...(msg.threadTs ? { thread_ts: msg.threadTs } : {}), text: msg.text, files: done.map((f) => this.fileObject(f)) }).catch(() => {});
      }
    }
    return { ok: true, files: done.map((f) => ({ id: f.id, title: f.title, name: f.name })) };
  }

  private async upload(fileId: string, auth: string | null, req: IncomingMessage, raw: Buffer, res: ServerResponse): Promise<void> {
    const f = this.model.files.get(fileId);
    let data = raw;
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('multipart/form-data')) {
      const form = await new Request('http://fake/', { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(raw) }).formData();
      const part = form.get('body') ?? form.get('file');
      if (part && typeof part !== 'string') data = Buffer.from(await part.arrayBuffer());
    }
    const ok = Boolean(f) && !f!.completed;
    this.record({ kind: 'upload', method: `/upload/${fileId}`, auth, params: {}, body: data.toString('utf8'), status: ok ? 200 : 404, rateLimited: false, fileId });
    if (!ok) return send(res, 404, { ok: false, error: 'file_not_found' });
    f!.data = data;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`OK - ${data.length}`);
  }

  private async respond(path: string, raw: Buffer, res: ServerResponse): Promise<void> {
    const id = path.split('/').pop() ?? '';
    const target = this.responseUrls.get(id);
    let body: { text?: string; response_type?: string; thread_ts?: string; replace_original?: boolean; blocks?: unknown[] } = {};
    try {
      body = JSON.parse(raw.toString('utf8')) as typeof body;
    } catch {
      // recorded below as is
    }
    const ok = Boolean(target) && target!.uses < 5;
    this.record({ kind: 'respond', method: path, auth: null, params: { response_type: body.response_type ?? 'ephemeral' }, body: raw.toString('utf8'), status: ok ? 200 : 404, rateLimited: false });
    if (!ok) return send(res, 404, { ok: false, error: target ? 'used_url' : 'expired_url' });
    target!.uses++;
    if (body.replace_original && target!.pressed) {
      // A press's response_url replaces the message the button was on (ephemeral ones too).
      const on = target!.pressed;
      if ('ephemeral' in on) Object.assign(on.ephemeral, { text: body.text ?? '', blocks: body.blocks ?? [], replaced: on.ephemeral.replaced + 1 });
      else {
        on.message.text = body.text ?? '';
        on.message.texts.push(on.message.text);
        on.message.blocks = body.blocks ?? [];
        on.message.edits++;
      }
    } else if (body.response_type === 'in_channel') {
      this.model.addMessage({ channel: target!.channel, threadTs: null, user: BOT_USER, botId: BOT_ID, text: body.text ?? '', files: [] });
    } else {
      this.model.ephemerals.push({ channel: target!.channel, user: target!.user, text: body.text ?? '', threadTs: null, via: 'response_url', at: Date.now(), blocks: body.blocks ?? [], replaced: 0 });
    }
    send(res, 200, { ok: true });
  }

  private download(path: string, auth: string | null, res: ServerResponse): void {
    const id = path.split('/')[2]?.split('-').pop() ?? '';
    const f = this.model.files.get(id);
    const authorized = auth === `Bearer ${FAKE_BOT_TOKEN}`;
    const fault = this.faults.downloads;
    const status = !authorized ? 302 : !f ? 404 : fault === 'status500' ? 500 : 200;
    this.record({ kind: 'download', method: path, auth, params: {}, body: '', status, rateLimited: false, fileId: id });
    // Without the token real Slack sends a sign-in page, by a redirect.
    if (!authorized) {
      res.writeHead(302, { location: `${this.origin}/signin?redir=${encodeURIComponent(path)}` });
      return void res.end();
    }
    if (!f) return send(res, 404, { ok: false, error: 'file_not_found' });
    if (fault === 'status500') return send(res, 500, { ok: false, error: 'internal_error' });
    if (fault === 'cut') {
      res.writeHead(200, { 'content-type': f.mimetype, 'content-length': String(f.data.length) });
      res.write(f.data.subarray(0, Math.floor(f.data.length / 2)));
      setTimeout(() => res.destroy(), 10);
      return;
    }
    const trickle = this.faults.downloadTrickle;
    if (trickle) {
      res.writeHead(200, { 'content-type': f.mimetype, 'content-length': String(f.data.length) });
      const size = Math.max(1, Math.ceil(f.data.length / Math.max(1, trickle.chunks)));
      const gap = trickle.overMs / Math.max(1, trickle.chunks);
      const step = (at: number): void => {
        if (res.destroyed) return;
        res.write(f.data.subarray(at, at + size));
        if (at + size >= f.data.length) return void res.end();
        setTimeout(() => step(at + size), gap);
      };
      step(0);
      return;
    }
    if (this.faults.chunkedDownloads) {
      res.writeHead(200, { 'content-type': f.mimetype });
      for (let i = 0; i < f.data.length; i += 1024) res.write(f.data.subarray(i, i + 1024));
      return void res.end();
    }
    res.writeHead(200, { 'content-type': f.mimetype, 'content-length': String(f.data.length) });
    res.end(f.data);
  }

  private fileObject(f: FakeFile, reportedSize?: number): Record<string, unknown> {
    const url = `${this.origin}/files-pri/${TEAM_ID}-${f.id}/${encodeURIComponent(f.name)}`;
    return { id: f.id, name: f.name, title: f.title, mimetype: f.mimetype, filetype: f.name.split('.').pop(), size: reportedSize ?? f.data.length, url_private: url, url_private_download: `${url}?download=1`, user: f.uploadedBy };
  }
}

/** Starts the fake on 127.0.0.1 (an ephemeral port). */
export async function startFakeSlack(): Promise<FakeSlack> {
  let fake: FakeSlack | null = null;
  const server = createServer((req, res) => {
    fake!.handle(req, res).catch((err: Error) => send(res, 500, { ok: false, error: `fake_crashed: ${err.message}` }));
  });
  fake = new FakeSlack(server);
  server.on('upgrade', (req, socket, head) => {
    if (req.url?.startsWith('/socket')) fake!.socket.upgrade(req, socket, head);
    else socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  fake.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Form, multipart or JSON bodies as flat string params plus a decoded text for the secrets scan. */
async function parseForm(req: IncomingMessage, raw: Buffer): Promise<{ params: Record<string, string>; text: string }> {
  const type = req.headers['content-type'] ?? '';
  const params: Record<string, string> = {};
  if (type.startsWith('application/json')) {
    const obj = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
    for (const [k, v] of Object.entries(obj)) params[k] = typeof v === 'string' ? v : JSON.stringify(v);
  } else if (type.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake/', { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(raw) }).formData();
    for (const [k, v] of form.entries()) params[k] = typeof v === 'string' ? v : Buffer.from(await v.arrayBuffer()).toString('utf8');
  } else {
    for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) params[k] = v;
  }
  return { params, text: Object.entries(params).map(([k, v]) => `${k}=${v}`).join('\n') };
}

/** Blocks as chat.postMessage / chat.update received them (a JSON string in the form). */
function blocksOf(raw: string | undefined): unknown[] {
  if (!raw) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}
