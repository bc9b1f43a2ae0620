/**
 * The platform-neutral chat port. Adapters (terminal, Slack, Discord) implement ChatPort and hand
 * every invocation to the dispatcher (typed commands, and files that arrived with some text: the
 * terminal reads a path into an IncomingFile first); commands only ever see a CommandContext.
 */
export type Platform = 'terminal' | 'slack' | 'discord';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Actor {
  platform: Platform;
  /** The platform's user id (`U123` on Slack, a snowflake on Discord, the OS user on the terminal). */
  id: string;
  name: string;
  /** Discord role ids; empty elsewhere. */
  roleIds: readonly string[];
}

/** Where a message goes: a channel, a thread or a DM. Opaque: only the adapter that made it reads it. */
export interface Where {
  readonly key: string;
}

/** A message already posted (so it can be edited or threaded). Opaque like Where. */
export interface MessageRef {
  readonly key: string;
}

/** A file going out (an export, a failure list, a bundle). */
export interface OutgoingFile {
  name: string;
  data: Buffer;
  contentType: string;
}

/** A file that came in with a command; downloaded lazily, with a size cap. */
export interface IncomingFile {
  name: string;
  size: number | null;
  contentType: string | null;
  /** Rejects with FileTooLarge when the file is bigger than maxBytes. */
  download(maxBytes: number): Promise<Buffer>;
}

export class FileTooLarge extends Error {
  readonly fileName: string;
  readonly size: number | null;
  readonly maxBytes: number;
  constructor(fileName: string, size: number | null, maxBytes: number) {
    super(`${fileName} is ${size === null ? 'larger than' : `${formatBytes(size)}, over`} the ${formatBytes(maxBytes)} limit`);
    this.fileName = fileName;
    this.size = size;
    this.maxBytes = maxBytes;
  }
}

/**
 * What ChatPort.edit throws when the message no longer exists (deleted, or its channel gone).
 * Only then does the core post the text anew: any other failure may hide an edit that was applied
 * (an answer lost on the way back), and posting anew would show the text twice.
 */
export class MessageGone extends Error {}

/**
 * The platform refused to deliver for a reason the people there can fix (the bot lacks a
 * permission in a channel). The dispatcher shows its message as is instead of "an internal error".
 */
export class PlatformRefused extends Error {}

/**
 * Message text is neutral markdown: **bold**, `code`, ``` blocks ```, lines. Each adapter converts it
 * (Slack mrkdwn, Discord markdown, plain terminal text).
 */
export interface Message {
  text: string;
  files?: OutgoingFile[];
  /** Buttons under the text, on ports that show them (`ChatPort.buttons`); an edit without them removes them. */
  actions?: MessageAction[];
}

/**
 * A button. `id` is opaque (at most 100 characters, Discord's custom_id limit): a press comes back
 * to the dispatcher (`DispatchEntry.press`) with it, which looks up what the button does.
 */
export interface MessageAction {
  id: string;
  label: string;
  style?: 'primary' | 'danger';
}

export interface PortLimits {
  /** Longest text one message may carry; longer text is split by the core. */
  maxTextChars: number;
  /** Largest total attachment size per message. */
  maxFileBytes: number;
  /** Edits the platform allows per minute, shared by every progress message of this port. */
  editsPerMinute: number;
}

export interface ChatPort {
  readonly platform: Platform;
  readonly limits: PortLimits;
  post(where: Where, msg: Message): Promise<MessageRef>;
  /** Throws MessageGone when the message no longer exists. */
  edit(ref: MessageRef, msg: Message): Promise<void>;
  /** Visible to `user` only (Slack/Discord ephemeral); the terminal prints it. */
  postPrivate(where: Where, user: Actor, msg: Message): Promise<void>;
  /** A thread under a posted message; posting to the result goes into the thread. */
  openThread(ref: MessageRef): Promise<Where>;
  sendDirect(user: Actor, msg: Message): Promise<MessageRef>;
  postAlert(msg: Message): Promise<void>;
  /** How files reach the bot on this platform, told to someone who ran a file command without one. */
  readonly uploadHint?: string;
  /** The port shows Message.actions as buttons (Slack, Discord; not the terminal). */
  readonly buttons?: boolean;
  /**
   * The role ids `user` holds now in the server of `where`, read from the platform (Discord); throws
   * with a reason a person understands when it cannot be read (left the server, API down). Absent
   * where the platform has no roles (Slack, the terminal: user ids only).
   */
  currentRoles?(user: Actor, where: Where): Promise<string[]>;
}

/** One command as an adapter received it. */
export interface Invocation {
  /** Everything after `/connexa`, e.g. `list status:ping_ok`. */
  text: string;
  files: IncomingFile[];
  actor: Actor;
  where: Where;
  /**
   * A press of a button that pages in place (list's Previous / Next): the first public answer
   * replaces the pressed message instead of being posted anew.
   */
  inPlace?: (msg: Message) => Promise<void>;
  /** Who owns the buttons this invocation offers, when not its actor (an admin paging someone's list keeps it theirs). */
  buttonsOwner?: Actor;
}

/** A button pressed: the adapter acknowledged it with the platform and hands it to the dispatcher. */
export interface Press {
  actionId: string;
  actor: Actor;
  /** Where the pressed message is (private answers go to the presser there). */
  where: Where;
  /** Replaces the pressed message (its buttons go unless `msg` carries new ones). */
  update(msg: Message): Promise<void>;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
