import { snowflake } from './snowflake.ts';

/** The fake's model of Discord: what people would see, after every edit and delete. */
export interface FakeUser {
  id: string;
  username: string;
  globalName: string;
  bot: boolean;
  /** Guild role ids (the member's roles). */
  roles: string[];
  /** Set when the user left (or was removed from) the guild: GET …/members/{user} answers Unknown Member. */
  leftGuild?: boolean;
}

export interface FakeChannel {
  id: string;
  /** 0 guild text, 1 DM, 11 public thread. */
  type: 0 | 1 | 11;
  name: string;
  guildId: string | null;
  parentId: string | null;
  /** DM channels: the user on the other side. */
  recipientId: string | null;
}

export interface FakeFile {
  id: string;
  name: string;
  data: Buffer;
  contentType: string | null;
}

export interface FakeMessage {
  id: string;
  channelId: string;
  authorId: string;
  content: string;
  flags: number;
  files: FakeFile[];
  /** How many times it was edited after it first had content. */
  edits: number;
  deleted: boolean;
  createdAt: number;
  /** Interaction responses (placeholder, edits, follow-ups). */
  interactionId: string | null;
  /** Ephemeral messages: the one user who sees them. */
  ephemeralFor: string | null;
  /** A deferral placeholder ("is thinking…") not yet replaced. */
  loading: boolean;
  /** The thread started from this message (same id as the message, as on Discord). */
  threadId: string | null;
  /** Message components (action rows of buttons) as last sent. */
  components: unknown[];
}

export interface FakeInteraction {
  id: string;
  token: string;
  userId: string;
  channelId: string;
  sentAt: number;
  /** When the initial response (deferral) was accepted. */
  ackAt: number | null;
  ackType: number | null;
  ephemeral: boolean;
  originalId: string | null;
  /** The first follow-up after a deferral replaces the placeholder (Discord's rule); then this is true. */
  originalReplaced: boolean;
  /** 2 a slash command, 3 a button press (on `messageId`), 4 autocomplete. */
  type?: 2 | 3 | 4;
  messageId?: string | null;
  /** The autocomplete answer (callback type 8). */
  choices?: Array<{ name: string; value: unknown }> | null;
}

/** The buttons (custom_id and label) in a message's components. */
export function buttonsOf(m: Pick<FakeMessage, 'components'>): Array<{ id: string; label: string }> {
  const out: Array<{ id: string; label: string }> = [];
  for (const row of m.components as Array<{ components?: Array<{ type?: number; custom_id?: string; label?: string }> }>) {
    for (const c of row.components ?? []) if (c.type === 2 && c.custom_id) out.push({ id: c.custom_id, label: c.label ?? '' });
  }
  return out;
}

export const EPHEMERAL = 1 << 6;
export const LOADING = 1 << 7;

export type Visibility = { kind: 'public' } | { kind: 'ephemeral'; userId: string } | { kind: 'dm'; userId: string } | { kind: 'none' };

export interface RecordedRequest {
  seq: number;
  at: number;
  method: string;
  /** Path without the /api/v10 prefix, tokens included (the fake is local). */
  path: string;
  /** The route with ids replaced, e.g. PATCH /channels/:id/messages/:id. */
  route: string;
  status: number;
  authorized: boolean;
  /** JSON body or payload_json. */
  json: unknown;
  files: FakeFile[];
  /** The raw body as text (multipart included): what the secrets scan reads. */
  bodyText: string;
  visibility: Visibility;
  channelId: string | null;
  messageId: string | null;
}

export class FakeState {
  readonly users = new Map<string, FakeUser>();
  readonly channels = new Map<string, FakeChannel>();
  readonly messages = new Map<string, FakeMessage>();
  readonly interactions = new Map<string, FakeInteraction>();
  readonly requests: RecordedRequest[] = [];
  readonly commands = new Map<string, unknown[]>();
  readonly attachments = new Map<string, { file: FakeFile; declaredSize: number; delayMs: number; omitLength: boolean; trickleMs?: number }>();

  byToken(token: string): FakeInteraction | undefined {
    for (const i of this.interactions.values()) if (i.token === token) return i;
    return undefined;
  }

  addMessage(m: Omit<FakeMessage, 'id' | 'edits' | 'deleted' | 'createdAt' | 'threadId' | 'components'> & { components?: unknown[] }): FakeMessage {
    const msg: FakeMessage = { ...m, components: m.components ?? [], id: snowflake(), edits: 0, deleted: false, createdAt: Date.now(), threadId: null };
    this.messages.set(msg.id, msg);
    return msg;
  }

  dmChannelOf(userId: string): FakeChannel | undefined {
    for (const c of this.channels.values()) if (c.type === 1 && c.recipientId === userId) return c;
    return undefined;
  }

  /** Who can see a message. */
  visibilityOf(m: FakeMessage): Visibility {
    if (m.ephemeralFor) return { kind: 'ephemeral', userId: m.ephemeralFor };
    const ch = this.channels.get(m.channelId);
    if (ch?.type === 1 && ch.recipientId) return { kind: 'dm', userId: ch.recipientId };
    return { kind: 'public' };
  }
}
