import { apiChannel, apiMember, apiMessage, apiUser } from './payloads.ts';
import { snowflake } from './snowflake.ts';
import { EPHEMERAL, LOADING, type FakeFile, type FakeInteraction, type FakeMessage, type FakeState, type FakeUser, type Visibility } from './state.ts';

/** One parsed request as the routes see it. */
export interface Req {
  method: string;
  segs: string[];
  query: URLSearchParams;
  json: Record<string, unknown> | null;
  files: FakeFile[];
  authorized: boolean;
}

export interface Res {
  status: number;
  json?: unknown;
  headers?: Record<string, string>;
  visibility?: Visibility;
  channelId?: string | null;
  messageId?: string | null;
}

export interface RouteContext {
  state: FakeState;
  appId: string;
  bot: FakeUser;
  guildId: string;
  base: string;
  gatewayUrl: string;
  tokenLifetimeMs: number;
  deferDeadlineMs: number;
  /** Called before a channel message edit is applied: a Res (429) refuses it. */
  editGate(channelId: string): Res | null;
  /** Rate-limit headers for an accepted edit, if a bucket is modelled. */
  editHeaders(channelId: string): Record<string, string>;
  onAck(i: FakeInteraction): void;
}

const err = (status: number, code: number, message: string): Res => ({ status, json: { message, code } });
const UNAUTHORIZED = err(401, 0, '401: Unauthorized');

/** Files a message keeps after a payload: the kept existing ones (attachments[] ids) plus the new uploads. */
function applyFiles(existing: FakeFile[], payload: Record<string, unknown>, uploads: FakeFile[]): FakeFile[] {
  if (!Array.isArray(payload.attachments)) return [...existing, ...uploads];
  const keep = new Set((payload.attachments as Array<{ id?: unknown }>).map((a) => String(a.id)));
  return [...existing.filter((f) => keep.has(f.id)), ...uploads];
}

function applyEdit(m: FakeMessage, payload: Record<string, unknown>, uploads: FakeFile[]): void {
  const hadContent = !m.loading;
  if (typeof payload.content === 'string') m.content = payload.content;
  if (Array.isArray(payload.components)) m.components = payload.components;
  m.files = applyFiles(m.files, payload, uploads);
  m.loading = false;
  m.flags &= ~LOADING;
  if (hadContent) m.edits++;
}

export function route(ctx: RouteContext, r: Req): Res {
  const { state } = ctx;
  const s = r.segs;
  const msgJson = (m: FakeMessage) => apiMessage(m, ctx.bot, ctx.base, { guildId: state.channels.get(m.channelId)?.guildId ?? null, appId: ctx.appId });
  const needBot = () => (r.authorized ? null : UNAUTHORIZED);

  // GET /gateway/bot
  if (r.method === 'GET' && s.join('/') === 'gateway/bot') {
    return needBot() ?? { status: 200, json: { url: ctx.gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 } } };
  }
  if (r.method === 'GET' && s.join('/') === 'users/@me') return needBot() ?? { status: 200, json: apiUser(ctx.bot) };

  // Application commands: PUT (bulk overwrite) and GET, global or per guild.
  if (s[0] === 'applications' && s[s.length - 1] === 'commands' && (s.length === 3 || (s.length === 5 && s[2] === 'guilds'))) {
    const denied = needBot();
    if (denied) return denied;
    if (s[1] !== ctx.appId) return err(403, 50001, 'Missing Access');
    const scope = s.length === 5 ? s[3]! : 'global';
    if (r.method === 'GET') return { status: 200, json: state.commands.get(scope) ?? [] };
    if (r.method !== 'PUT' || !Array.isArray(r.json)) return err(400, 50035, 'Invalid Form Body');
    const before = new Map((state.commands.get(scope) ?? []).map((c) => [(c as { name: string }).name, c as { id: string }]));
    const saved = (r.json as Array<Record<string, unknown>>).map((c) => ({
      ...c,
      id: before.get(String(c.name))?.id ?? snowflake(),
      application_id: ctx.appId,
      version: snowflake(),
      type: c.type ?? 1,
      default_member_permissions: c.default_member_permissions ?? null,
      nsfw: false,
      ...(scope !== 'global' ? { guild_id: scope } : {}),
    }));
    state.commands.set(scope, saved);
    return { status: 200, json: saved };
  }

  // POST /interactions/{id}/{token}/callback — no auth; within the deadline; once.
  if (r.method === 'POST' && s[0] === 'interactions' && s[3] === 'callback' && s.length === 4) {
    const i = state.interactions.get(s[1]!);
    if (!i || i.token !== s[2]) return err(404, 10062, 'Unknown interaction');
    if (Date.now() - i.sentAt > ctx.deferDeadlineMs) return err(404, 10062, 'Unknown interaction');
    if (i.ackAt !== null) return err(400, 40060, 'Interaction has already been acknowledged.');
    const body = (r.json ?? {}) as { type?: number; data?: Record<string, unknown> };
    const data = body.data ?? {};
    const flags = Number(data.flags ?? 0);
    // Autocomplete is answered with choices (8) and nothing else; a press may also update its message (6, 7).
    if (i.type === 4) {
      if (body.type !== 8 || !Array.isArray(data.choices) || data.choices.length > 25) return err(400, 50035, 'Invalid Form Body');
      i.ackAt = Date.now();
      i.ackType = 8;
      i.choices = data.choices as Array<{ name: string; value: unknown }>;
      ctx.onAck(i);
      return { status: 204, visibility: { kind: 'ephemeral', userId: i.userId } };
    }
    if (i.type === 3 && (body.type === 6 || body.type === 7)) {
      const pressed = state.messages.get(i.messageId ?? '');
      if (!pressed || pressed.deleted) return err(404, 10008, 'Unknown Message');
      i.ackAt = Date.now();
      i.ackType = body.type;
      i.originalId = pressed.id;
      i.originalReplaced = true;
      if (body.type === 7) applyEdit(pressed, data, r.files);
      ctx.onAck(i);
      return { status: 204, visibility: state.visibilityOf(pressed), channelId: pressed.channelId, messageId: pressed.id };
    }
    if (body.type !== 4 && body.type !== 5) return err(400, 50035, 'Invalid Form Body');
    i.ackAt = Date.now();
    i.ackType = body.type;
    i.ephemeral = (flags & EPHEMERAL) !== 0;
    const m = state.addMessage({
      channelId: i.channelId,
      authorId: ctx.bot.id,
      content: body.type === 4 ? String(data.content ?? '') : '',
      ...(body.type === 4 && Array.isArray(data.components) ? { components: data.components } : {}),
      flags: (flags & EPHEMERAL) | (body.type === 5 ? LOADING : 0),
      files: body.type === 4 ? r.files : [],
      interactionId: i.id,
      ephemeralFor: i.ephemeral ? i.userId : null,
      loading: body.type === 5,
    });
    i.originalId = m.id;
    i.originalReplaced = body.type === 4;
    ctx.onAck(i);
    const vis: Visibility = i.ephemeral ? { kind: 'ephemeral', userId: i.userId } : { kind: 'public' };
    if (r.query.get('with_response') === 'true') return { status: 200, json: { interaction: { id: i.id, type: 2 }, resource: { type: body.type, message: msgJson(m) } }, visibility: vis };
    return { status: 204, visibility: vis, channelId: i.channelId, messageId: m.id };
  }

  // Webhooks: the interaction token, valid for its lifetime.
  if (s[0] === 'webhooks' && s.length >= 3) {
    const i = state.byToken(s[2]!);
    if (!i || s[1] !== ctx.appId) return err(404, 10015, 'Unknown Webhook');
    if (Date.now() - i.sentAt > ctx.tokenLifetimeMs) return err(401, 50027, 'Invalid Webhook Token');
    if (i.ackAt === null) return err(404, 10015, 'Unknown Webhook');
    const payload = (r.json ?? {}) as Record<string, unknown>;
    // POST /webhooks/{app}/{token}: a follow-up.
    if (r.method === 'POST' && s.length === 3) {
      if (i.ackType === 5 && !i.originalReplaced) {
        // Discord's rule: the first follow-up after a deferral replaces the placeholder and keeps its visibility.
        const original = state.messages.get(i.originalId!)!;
        i.originalReplaced = true;
        applyEdit(original, payload, r.files);
        return { status: 200, json: msgJson(original), visibility: state.visibilityOf(original), channelId: original.channelId, messageId: original.id };
      }
      const eph = (Number(payload.flags ?? 0) & EPHEMERAL) !== 0;
      const m = state.addMessage({
        channelId: i.channelId,
        authorId: ctx.bot.id,
        content: String(payload.content ?? ''),
        ...(Array.isArray(payload.components) ? { components: payload.components } : {}),
        flags: Number(payload.flags ?? 0) & EPHEMERAL,
        files: applyFiles([], payload, r.files),
        interactionId: i.id,
        ephemeralFor: eph ? i.userId : null,
        loading: false,
      });
      return { status: 200, json: msgJson(m), visibility: state.visibilityOf(m), channelId: m.channelId, messageId: m.id };
    }
    // /webhooks/{app}/{token}/messages/{id | @original}
    if (s.length === 5 && s[3] === 'messages') {
      const id = s[4] === '@original' ? i.originalId : s[4]!;
      const m = id ? state.messages.get(id) : undefined;
      // A press's @original is the message its button is on, whichever interaction made it.
      if (!m || m.deleted || (m.interactionId !== i.id && m.id !== i.originalId)) return err(404, 10008, 'Unknown Message');
      if (r.method === 'GET') return { status: 200, json: msgJson(m), visibility: state.visibilityOf(m) };
      if (r.method === 'PATCH') {
        applyEdit(m, payload, r.files);
        if (m.id === i.originalId) i.originalReplaced = true;
        return { status: 200, json: msgJson(m), visibility: state.visibilityOf(m), channelId: m.channelId, messageId: m.id };
      }
      if (r.method === 'DELETE') {
        m.deleted = true;
        if (m.id === i.originalId) i.originalReplaced = true;
        return { status: 204, visibility: state.visibilityOf(m), channelId: m.channelId, messageId: m.id };
      }
    }
    return err(405, 0, '405: Method Not Allowed');
  }

  // POST /users/@me/channels — open a DM.
  if (r.method === 'POST' && s.join('/') === 'users/@me/channels') {
    const denied = needBot();
    if (denied) return denied;
    const userId = String((r.json as { recipient_id?: unknown } | null)?.recipient_id ?? '');
    const user = state.users.get(userId);
    if (!user) return err(400, 50007, 'Cannot send messages to this user');
    let dm = state.dmChannelOf(userId);
    if (!dm) {
      dm = { id: snowflake(), type: 1, name: '', guildId: null, parentId: null, recipientId: userId };
      state.channels.set(dm.id, dm);
    }
    return { status: 200, json: apiChannel(dm, user), visibility: { kind: 'dm', userId } };
  }

  // GET /guilds/{guild}/members/{user}: a guild member object, as guild.members.fetch asks for it.
  if (r.method === 'GET' && s[0] === 'guilds' && s[2] === 'members' && s.length === 4) {
    const denied = needBot();
    if (denied) return denied;
    if (s[1] !== ctx.guildId) return err(404, 10004, 'Unknown Guild');
    const user = state.users.get(s[3]!);
    if (!user || user.leftGuild) return err(404, 10007, 'Unknown Member');
    return { status: 200, json: apiMember(user) };
  }

  if (s[0] === 'channels' && s.length >= 2) {
    const denied = needBot();
    if (denied) return denied;
    const ch = state.channels.get(s[1]!);
    if (!ch) return err(404, 10003, 'Unknown Channel');
    const chVis: Visibility = ch.type === 1 && ch.recipientId ? { kind: 'dm', userId: ch.recipientId } : { kind: 'public' };
    if (s.length === 2 && r.method === 'GET') return { status: 200, json: apiChannel(ch, ch.recipientId ? state.users.get(ch.recipientId) : undefined) };
    if (s[2] !== 'messages') return err(404, 0, '404: Not Found');
    const payload = (r.json ?? {}) as Record<string, unknown>;
    // POST /channels/{c}/messages
    if (s.length === 3 && r.method === 'POST') {
      const content = String(payload.content ?? '');
      if (!content.replace(/\u200b/g, '').trim() && !r.files.length) return err(400, 50006, 'Cannot send an empty message');
      if (content.length > 2000) return err(400, 50035, 'Invalid Form Body (content: Must be 2000 or fewer in length.)');
      const m = state.addMessage({ channelId: ch.id, authorId: ctx.bot.id, content, flags: 0, files: r.files, interactionId: null, ephemeralFor: null, loading: false, ...(Array.isArray(payload.components) ? { components: payload.components } : {}) });
      return { status: 200, json: msgJson(m), visibility: chVis, channelId: ch.id, messageId: m.id };
    }
    const m = s[3] ? state.messages.get(s[3]) : undefined;
    if (!m || m.deleted || m.channelId !== ch.id) return { ...err(404, 10008, 'Unknown Message'), channelId: ch.id };
    // PATCH /channels/{c}/messages/{m}
    if (s.length === 4 && r.method === 'PATCH') {
      const refused = ctx.editGate(ch.id);
      if (refused) return { ...refused, channelId: ch.id, messageId: m.id, visibility: chVis };
      if (m.authorId !== ctx.bot.id) return err(403, 50005, 'Cannot edit a message authored by another user');
      if (typeof payload.content === 'string' && payload.content.length > 2000) return err(400, 50035, 'Invalid Form Body');
      applyEdit(m, payload, r.files);
      return { status: 200, json: msgJson(m), headers: ctx.editHeaders(ch.id), visibility: chVis, channelId: ch.id, messageId: m.id };
    }
    if (s.length === 4 && r.method === 'DELETE') {
      m.deleted = true;
      return { status: 204, channelId: ch.id, messageId: m.id };
    }
    // POST /channels/{c}/messages/{m}/threads — the thread gets the message's id, as on Discord.
    if (s.length === 5 && s[4] === 'threads' && r.method === 'POST') {
      if (ch.type !== 0) return err(400, 50024, 'Cannot execute action on this channel type');
      if (m.threadId) return err(400, 160004, 'A thread has already been created for this message');
      const name = String(payload.name ?? '').slice(0, 100) || 'thread';
      const thread = { id: m.id, type: 11 as const, name, guildId: ch.guildId, parentId: ch.id, recipientId: null };
      state.channels.set(thread.id, thread);
      m.threadId = thread.id;
      return { status: 201, json: apiChannel(thread), visibility: chVis, channelId: ch.id, messageId: m.id };
    }
  }
  return err(404, 0, '404: Not Found');
}
