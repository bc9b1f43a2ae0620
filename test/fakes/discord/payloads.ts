import type { FakeChannel, FakeFile, FakeMessage, FakeUser } from './state.ts';

/** Discord API objects as the real API shapes them (the fields discord.js reads). */
export function apiUser(u: FakeUser): Record<string, unknown> {
  return { id: u.id, username: u.username, global_name: u.globalName, discriminator: '0', avatar: null, bot: u.bot, public_flags: 0 };
}

export function apiMember(u: FakeUser): Record<string, unknown> {
  return {
    user: apiUser(u),
    roles: [...u.roles],
    nick: null,
    avatar: null,
    joined_at: '2024-01-01T00:00:00.000Z',
    premium_since: null,
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
    communication_disabled_until: null,
  };
}

export function apiChannel(c: FakeChannel, recipient?: FakeUser): Record<string, unknown> {
  if (c.type === 1) return { id: c.id, type: 1, last_message_id: null, flags: 0, recipients: recipient ? [apiUser(recipient)] : [] };
  const base = { id: c.id, type: c.type, name: c.name, guild_id: c.guildId, parent_id: c.parentId, last_message_id: null, rate_limit_per_user: 0, flags: 0 };
  if (c.type === 11) {
    return { ...base, owner_id: null, message_count: 0, member_count: 1, total_message_sent: 0, thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false } };
  }
  return { ...base, position: 0, permission_overwrites: [], nsfw: false, topic: null };
}

export function apiAttachment(f: FakeFile, base: string, size = f.data.length): Record<string, unknown> {
  const url = `${base}/attachments/${f.id}/${encodeURIComponent(f.name)}`;
  return { id: f.id, filename: f.name, size, url, proxy_url: url, content_type: f.contentType ?? 'application/octet-stream' };
}

export function apiMessage(m: FakeMessage, author: FakeUser, base: string, extra: { guildId?: string | null; appId?: string } = {}): Record<string, unknown> {
  return {
    id: m.id,
    type: m.interactionId ? 20 : 0,
    channel_id: m.channelId,
    ...(extra.guildId ? { guild_id: extra.guildId } : {}),
    author: apiUser(author),
    content: m.content,
    timestamp: new Date(m.createdAt).toISOString(),
    edited_timestamp: m.edits ? new Date().toISOString() : null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: m.files.map((f) => apiAttachment(f, base)),
    embeds: [],
    pinned: false,
    flags: m.flags,
    components: m.components,
    ...(m.interactionId && extra.appId ? { webhook_id: extra.appId, application_id: extra.appId } : {}),
  };
}

export interface GuildSpec {
  id: string;
  name: string;
  ownerId: string;
  roles: Array<{ id: string; name: string }>;
  channels: FakeChannel[];
}

export function apiGuild(g: GuildSpec): Record<string, unknown> {
  return {
    id: g.id,
    name: g.name,
    icon: null,
    splash: null,
    discovery_splash: null,
    owner_id: g.ownerId,
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    roles: g.roles.map((r, i) => ({ id: r.id, name: r.name, color: 0, colors: { primary_color: 0, secondary_color: null, tertiary_color: null }, hoist: false, icon: null, unicode_emoji: null, position: i, permissions: '309237746688', managed: false, mentionable: false, flags: 0 })),
    emojis: [],
    stickers: [],
    features: [],
    mfa_level: 0,
    application_id: null,
    system_channel_id: null,
    system_channel_flags: 0,
    rules_channel_id: null,
    vanity_url_code: null,
    description: null,
    banner: null,
    premium_tier: 0,
    premium_subscription_count: 0,
    preferred_locale: 'en-US',
    public_updates_channel_id: null,
    nsfw_level: 0,
    premium_progress_bar_enabled: false,
    safety_alerts_channel_id: null,
    joined_at: '2024-01-01T00:00:00.000Z',
    large: false,
    unavailable: false,
    member_count: 5,
    voice_states: [],
    members: [],
    channels: g.channels.map((c) => apiChannel(c)),
    threads: [],
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
  };
}
