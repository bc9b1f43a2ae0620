/**
 * The fake workspace's state: what Slack's users would see. Messages keep their current text after
 * edits (and every earlier text), files keep their bytes, ephemerals are per user, DMs are channels.
 */
export const TEAM_ID = 'T0FAKE';
export const BOT_USER = 'UBOT';
export const BOT_ID = 'BBOT';

export interface FakeUser {
  id: string;
  name: string;
  realName: string;
}

export interface FakeChannel {
  id: string;
  name: string;
  /** A DM: `user` is the other party. */
  im: boolean;
  user: string | null;
  botMember: boolean;
}

export interface FakeFile {
  id: string;
  name: string;
  title: string;
  mimetype: string;
  data: Buffer;
  /** Declared by files.getUploadURLExternal; the upload must match it. */
  declaredLength: number | null;
  uploadedBy: string;
  /** Where files.completeUploadExternal shared it (null: not completed, or private). */
  channel: string | null;
  threadTs: string | null;
  completed: boolean;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  threadTs: string | null;
  user: string;
  botId: string | null;
  text: string;
  /** Every text it had, the first one included. */
  texts: string[];
  files: FakeFile[];
  edits: number;
  /** Block Kit blocks (buttons), [] when none. */
  blocks: unknown[];
}

export interface FakeEphemeral {
  channel: string;
  user: string;
  text: string;
  threadTs: string | null;
  via: 'chat.postEphemeral' | 'response_url';
  at: number;
  blocks: unknown[];
  /** Replaced through a press's response_url (replace_original): how many times. */
  replaced: number;
}

/** The button ids (action_id) in some blocks. */
export function buttonsIn(blocks: readonly unknown[]): Array<{ id: string; label: string }> {
  const out: Array<{ id: string; label: string }> = [];
  for (const b of blocks as Array<{ type?: string; elements?: Array<{ type?: string; action_id?: string; text?: { text?: string } }> }>) {
    if (b.type !== 'actions') continue;
    for (const e of b.elements ?? []) if (e.type === 'button' && e.action_id) out.push({ id: e.action_id, label: e.text?.text ?? '' });
  }
  return out;
}

export class Workspace {
  readonly users = new Map<string, FakeUser>();
  readonly channels = new Map<string, FakeChannel>();
  readonly messages: FakeMessage[] = [];
  readonly files = new Map<string, FakeFile>();
  readonly ephemerals: FakeEphemeral[] = [];
  private tsCounter = 0;
  private fileCounter = 0;

  constructor() {
    for (const [id, name, realName] of [
      ['UADMIN', 'ada', 'Ada Admin'],
      ['UOPER', 'otto', 'Otto Operator'],
      ['UVIEW', 'vera', 'Vera Viewer'],
      ['USTRANGE', 'sam', 'Sam Stranger'],
      [BOT_USER, 'connexa', 'Connexa'],
    ] as const) {
      this.users.set(id, { id, name, realName });
    }
    this.addChannel('CGENERAL', 'general', true);
    this.addChannel('COPS', 'ops-alerts', true);
    this.addChannel('COUTSIDE', 'random', false);
  }

  addChannel(id: string, name: string, botMember: boolean): FakeChannel {
    const c: FakeChannel = { id, name, im: false, user: null, botMember };
    this.channels.set(id, c);
    return c;
  }

  /** conversations.open: one DM channel per user. */
  openIm(user: string): FakeChannel {
    const id = `D${user}`;
    let c = this.channels.get(id);
    if (!c) this.channels.set(id, (c = { id, name: `dm-${user}`, im: true, user, botMember: true }));
    return c;
  }

  nextTs(): string {
    this.tsCounter++;
    return `${1_700_000_000 + Math.floor(this.tsCounter / 1000)}.${String(this.tsCounter % 1000).padStart(6, '0')}`;
  }

  newFile(fields: Omit<FakeFile, 'id' | 'completed' | 'channel' | 'threadTs'>): FakeFile {
    const id = `F${String(++this.fileCounter).padStart(6, '0')}`;
    const f: FakeFile = { ...fields, id, completed: false, channel: null, threadTs: null };
    this.files.set(id, f);
    return f;
  }

  addMessage(m: Omit<FakeMessage, 'ts' | 'texts' | 'edits' | 'blocks'> & { blocks?: unknown[] }): FakeMessage {
    const msg: FakeMessage = { ...m, blocks: m.blocks ?? [], ts: this.nextTs(), texts: [m.text], edits: 0 };
    this.messages.push(msg);
    return msg;
  }

  message(channel: string, ts: string): FakeMessage | undefined {
    return this.messages.find((m) => m.channel === channel && m.ts === ts);
  }

  isIm(channel: string): boolean {
    return this.channels.get(channel)?.im ?? false;
  }

  /** The DM channel id of a user, if one was opened. */
  imOf(user: string): string | null {
    for (const c of this.channels.values()) if (c.im && c.user === user) return c.id;
    return null;
  }
}
