import type { IncomingMessage, ServerResponse } from 'node:http';
import { route, type Req, type Res, type RouteContext } from './routes.ts';
import { snowflake } from './snowflake.ts';
import type { FakeFile, FakeState, RecordedRequest } from './state.ts';

/** Faults a test can switch on while the fake runs. */
export interface RestFaults {
  /** The next `count` channel message edits answer 429 with this retry_after (seconds). */
  edit429: { count: number; retryAfterSec: number };
  /** Discord's per-channel edit bucket; exceeding it answers 429 like Discord. null: unlimited. */
  editBucket: { limit: number; windowMs: number } | null;
  /**
   * HTTP 500 once for each entry, on the first request of that route (`PATCH /channels/:id/messages/:id`)
   * whose JSON body `when` accepts: `applied: false` refuses it (nothing happened, as a 500 usually
   * means), `applied: true` applies it and then answers 500 (the answer was lost on the way back).
   */
  fail500: Array<{ route: string; applied: boolean; when?: (json: unknown) => boolean }>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** JSON, or multipart with payload_json + files[n] (parsed with the platform's own FormData). */
async function parseBody(body: Buffer, contentType: string): Promise<{ json: unknown; files: FakeFile[] }> {
  if (!body.length) return { json: null, files: [] };
  if (contentType.startsWith('application/json')) return { json: JSON.parse(body.toString('utf8')) as unknown, files: [] };
  if (contentType.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake.invalid/', { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body) }).formData();
    let json: unknown = null;
    const files: FakeFile[] = [];
    for (const [key, value] of form.entries()) {
      if (key === 'payload_json' && typeof value === 'string') json = JSON.parse(value) as unknown;
      else if (typeof value !== 'string' && /^files\[\d+\]$/.test(key)) {
        files.push({ id: snowflake(), name: value.name, data: Buffer.from(await value.arrayBuffer()), contentType: value.type || null });
      }
    }
    return { json, files };
  }
  return { json: null, files: [] };
}

/** `/channels/123/messages/456` -> `/channels/:id/messages/:id`; tokens hidden. */
function routeOf(method: string, segs: string[]): string {
  const tokenAt = segs[0] === 'webhooks' || segs[0] === 'interactions' ? 2 : -1;
  return `${method} /${segs.map((p, i) => (i === tokenAt ? ':token' : /^\d+$/.test(p) ? ':id' : p)).join('/')}`;
}

/**
 * The REST half of the fake: parses, authorises, applies faults, routes, records every request
 * and answers with Content-Type: application/json (204s carry no body and no type, as discord.js
 * would otherwise try to parse an empty JSON body).
 */
export class FakeRest {
  readonly faults: RestFaults = { edit429: { count: 0, retryAfterSec: 0.2 }, editBucket: { limit: 5, windowMs: 5000 }, fail500: [] };
  private readonly buckets = new Map<string, { start: number; count: number }>();
  private seq = 0;
  onRequest: (r: RecordedRequest) => void = () => undefined;

  private readonly state: FakeState;
  private readonly token: string;
  private readonly ctx: Omit<RouteContext, 'editGate' | 'editHeaders' | 'state'>;
  constructor(state: FakeState, token: string, ctx: Omit<RouteContext, 'editGate' | 'editHeaders' | 'state'>) {
    this.state = state;
    this.token = token;
    this.ctx = ctx;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(req);
    if (req.method === 'GET' && url.pathname.startsWith('/attachments/')) return this.attachment(url, res);
    const prefix = '/api/v10/';
    const segs = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length).split('/').map((p) => decodeURIComponent(p)) : [];
    let parsed: { json: unknown; files: FakeFile[] };
    try {
      parsed = await parseBody(body, String(req.headers['content-type'] ?? ''));
    } catch {
      parsed = { json: null, files: [] };
    }
    const r: Req = {
      method: req.method ?? 'GET',
      segs,
      query: url.searchParams,
      json: parsed.json as Record<string, unknown> | null,
      files: parsed.files,
      authorized: req.headers.authorization === `Bot ${this.token}`,
    };
    const routeName = routeOf(r.method, segs);
    const fault = this.faults.fail500.findIndex((f) => f.route === routeName && (!f.when || f.when(parsed.json)));
    const serverError = { status: 500, json: { message: '500: Internal Server Error', code: 0 } };
    let out: Res;
    if (fault >= 0 && !this.faults.fail500[fault]!.applied) {
      this.faults.fail500.splice(fault, 1);
      out = serverError;
    } else {
      out = segs.length
        ? route({ ...this.ctx, state: this.state, editGate: (c) => this.editGate(c), editHeaders: (c) => this.editHeaders(c) }, r)
        : { status: 404, json: { message: '404: Not Found', code: 0 } };
      if (fault >= 0 && out.status < 300) {
        this.faults.fail500.splice(fault, 1);
        out = { ...out, ...serverError, headers: {} };
      }
    }
    const rec: RecordedRequest = {
      seq: ++this.seq,
      at: Date.now(),
      method: r.method,
      path: url.pathname.slice(prefix.length - 1),
      route: routeName,
      status: out.status,
      authorized: r.authorized,
      json: parsed.json,
      files: parsed.files,
      bodyText: body.toString('utf8'),
      visibility: out.visibility ?? { kind: 'public' },
      channelId: out.channelId ?? null,
      messageId: out.messageId ?? null,
    };
    this.state.requests.push(rec);
    this.onRequest(rec);
    const headers: Record<string, string> = { ...out.headers };
    if (out.status === 204 || out.json === undefined) {
      res.writeHead(out.status, headers).end();
      return;
    }
    res.writeHead(out.status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(out.json));
  }

  /** Injected 429s first, then the modelled bucket (fixed window per channel, like Discord's). */
  private editGate(channelId: string): Res | null {
    if (this.faults.edit429.count > 0) {
      this.faults.edit429.count--;
      return this.tooMany(this.faults.edit429.retryAfterSec);
    }
    const b = this.faults.editBucket;
    if (!b) return null;
    const now = Date.now();
    let w = this.buckets.get(channelId);
    if (!w || now - w.start >= b.windowMs) {
      w = { start: now, count: 0 };
      this.buckets.set(channelId, w);
    }
    if (w.count >= b.limit) return this.tooMany((b.windowMs - (now - w.start)) / 1000);
    w.count++;
    return null;
  }

  private editHeaders(channelId: string): Record<string, string> {
    const b = this.faults.editBucket;
    const w = this.buckets.get(channelId);
    if (!b || !w) return {};
    const resetAfter = Math.max(0, (b.windowMs - (Date.now() - w.start)) / 1000);
    return {
      'x-ratelimit-limit': String(b.limit),
      'x-ratelimit-remaining': String(Math.max(0, b.limit - w.count)),
      'x-ratelimit-reset-after': resetAfter.toFixed(3),
      'x-ratelimit-reset': ((Date.now() + resetAfter * 1000) / 1000).toFixed(3),
      'x-ratelimit-bucket': 'fake-message-edit',
    };
  }

  private tooMany(retryAfterSec: number): Res {
    const s = Math.max(0.001, retryAfterSec);
    return {
      status: 429,
      json: { message: 'You are being rate limited.', retry_after: s, global: false, code: 0 },
      headers: { 'retry-after': s.toFixed(3), 'x-ratelimit-scope': 'user', 'x-ratelimit-limit': String(this.faults.editBucket?.limit ?? 5), 'x-ratelimit-remaining': '0', 'x-ratelimit-reset-after': s.toFixed(3), 'x-ratelimit-bucket': 'fake-message-edit' },
    };
  }

  /** The CDN: attachment bytes, optionally late and without Content-Length (chunked). */
  private async attachment(url: URL, res: ServerResponse): Promise<void> {
    const id = url.pathname.split('/')[2] ?? '';
    const a = this.state.attachments.get(id);
    this.state.requests.push({
      seq: ++this.seq, at: Date.now(), method: 'GET', path: url.pathname, route: 'GET /attachments/:id/:name', status: a ? 200 : 404,
      authorized: false, json: null, files: [], bodyText: '', visibility: { kind: 'none' }, channelId: null, messageId: null,
    });
    if (!a) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"404: Not Found","code":0}');
      return;
    }
    if (a.delayMs) await new Promise((r) => setTimeout(r, a.delayMs));
    const headers: Record<string, string> = { 'content-type': a.file.contentType ?? 'application/octet-stream' };
    if (!a.omitLength) headers['content-length'] = String(a.file.data.length);
    res.writeHead(200, headers);
    if (a.trickleMs) {
      // A slow upload: 20 pieces spread over trickleMs.
      const size = Math.max(1, Math.ceil(a.file.data.length / 20));
      for (let i = 0; i < a.file.data.length; i += size) {
        if (res.destroyed) return;
        res.write(a.file.data.subarray(i, i + size));
        await new Promise((r) => setTimeout(r, a.trickleMs! / 20));
      }
      res.end();
      return;
    }
    for (let i = 0; i < a.file.data.length; i += 64 * 1024) {
      if (!res.write(a.file.data.subarray(i, i + 64 * 1024))) await new Promise((r) => res.once('drain', r));
      if (res.destroyed) return;
    }
    res.end();
  }
}
