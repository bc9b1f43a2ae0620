import type { webApi } from '@slack/bolt';
import type { Actor, ChatPort, Message, MessageAction, MessageRef, OutgoingFile, PortLimits, Where } from '../../src/chat/types.ts';
import { MessageGone } from '../../src/chat/types.ts';
import type { Logger } from '../../src/log.ts';
import { actionBlocks, clip, slackPieces, toMrkdwn } from './format.ts';
import { ChannelPacer } from './pacer.ts';
import { readRef, readWhere, refKey, whereKey, type SlackRef, type SlackWhere } from './refs.ts';
import { Responders } from './responders.ts';
import { slackErrorCode } from './web.ts';

export interface SlackPortOptions {
  client: webApi.WebClient;
  log: Logger;
  /** SLACK_ALERT_CHANNEL. (A channel chosen with `alerts here` is routed by the core's Alerts, with post().) */
  alertChannel: string | undefined;
  pacer?: ChannelPacer;
}

/** Errors meaning the bot cannot write where the command was typed. */
const NOT_THERE = new Set(['not_in_channel', 'channel_not_found', 'is_archived', 'restricted_action', 'user_not_in_channel']);

const NOT_IN_CHANNEL_TEXT =
  "I can't post in this conversation because I'm not a member. Invite me with `/invite @Connexa` (or use a channel I'm in), then run the command again.";

/**
 * The ChatPort on Slack. post = chat.postMessage (paced per channel), edit = chat.update,
 * postPrivate = chat.postEphemeral (response_url, then DM, as fallbacks), threads = thread_ts,
 * sendDirect = conversations.open + post, files = files.uploadV2 into the same channel/thread.
 */
export class SlackPort implements ChatPort {
  readonly platform = 'slack' as const;
  /** A slash command cannot carry a file on Slack. */
  readonly uploadHint = 'On Slack, upload the server list into a channel I am in (or a DM with me). Write `ping` as the message with the upload to test the servers after the import.';
  readonly limits: PortLimits = {
    // Slack truncates past 40,000; the port splits again after escaping (see format.ts).
    maxTextChars: 39_000,
    // files.getUploadURLExternal takes files up to 1 GB.
    maxFileBytes: 1_000_000_000,
    // chat.update is Tier 3, ~50 per minute per workspace, shared by every progress message. The
    // core's budget adds a burst of 3 on top of the rate, so 47 keeps any 60 s window at 50.
    editsPerMinute: 47,
  };
  readonly responders = new Responders();
  /** Block Kit buttons; presses arrive as block_actions (interactivity on; Socket Mode delivers them). */
  readonly buttons = true;
  private readonly client: webApi.WebClient;
  private readonly log: Logger;
  private readonly pacer: ChannelPacer;
  private readonly dms = new Map<string, string>();
  private alertWarned = false;

  private readonly opts: SlackPortOptions;
  constructor(opts: SlackPortOptions) {
    this.opts = opts;
    this.client = opts.client;
    this.log = opts.log;
    this.pacer = opts.pacer ?? new ChannelPacer();
  }

  async post(where: Where, msg: Message): Promise<MessageRef> {
    const w = readWhere(where);
    let last: SlackRef | null = null;
    const pieces = slackPieces(toMrkdwn(msg.text || filesLine(msg.files)));
    for (const [i, text] of pieces.entries()) last = await this.postText(w, text, i === pieces.length - 1 ? msg.actions : undefined);
    if (msg.files?.length) await this.upload(w.channel, w.threadTs, msg.files);
    return refKey(last!);
  }

  async edit(ref: MessageRef, msg: Message): Promise<void> {
    const r = readRef(ref);
    try {
      const text = clip(toMrkdwn(msg.text));
      // An edit without buttons removes those the message had (an empty blocks array, as Slack asks).
      await this.client.chat.update({ channel: r.channel, ts: r.ts, text, blocks: (msg.actions?.length ? actionBlocks(text, msg.actions) : []) as never });
    } catch (err) {
      const code = (err as { data?: { error?: string } }).data?.error;
      if (code === 'message_not_found' || code === 'channel_not_found' || code === 'is_archived') throw new MessageGone(`the message is gone (${code})`);
      throw err;
    }
    // A message cannot gain files by an edit: they go into its thread.
    if (msg.files?.length) await this.upload(r.channel, r.threadTs ?? r.ts, msg.files);
  }

  async postPrivate(where: Where, user: Actor, msg: Message): Promise<void> {
    const w = readWhere(where);
    let text = msg.text;
    if (msg.files?.length) {
      // Ephemeral messages cannot carry files; a DM is the private place that can.
      const dm = await this.dmChannel(user.id);
      await this.upload(dm, null, msg.files);
      text += `\n📎 ${msg.files.map((f) => f.name).join(', ')}: sent to you by direct message.`;
    }
    const pieces = slackPieces(toMrkdwn(text));
    for (const [i, piece] of pieces.entries()) await this.ephemeral(w, user, piece, i === pieces.length - 1 ? msg.actions : undefined);
  }

  async openThread(ref: MessageRef): Promise<Where> {
    const r = readRef(ref);
    return whereKey({ channel: r.channel, threadTs: r.threadTs ?? r.ts, invocation: null });
  }

  async sendDirect(user: Actor, msg: Message): Promise<MessageRef> {
    const channel = await this.dmChannel(user.id);
    return this.post(whereKey({ channel, threadTs: null, invocation: null }), msg);
  }

  async postAlert(msg: Message): Promise<void> {
    const channel = this.opts.alertChannel;
    if (!channel) {
      if (!this.alertWarned) this.log.warn('a Slack alert was dropped: set SLACK_ALERT_CHANNEL to a channel id the bot is in');
      this.alertWarned = true;
      return;
    }
    await this.post(whereKey({ channel, threadTs: null, invocation: null }), msg);
  }

  private async postText(w: SlackWhere, text: string, actions?: readonly MessageAction[]): Promise<SlackRef> {
    await this.pacer.turn(w.channel);
    try {
      const res = await this.client.chat.postMessage({
        channel: w.channel,
        text,
        ...(actions?.length ? { blocks: actionBlocks(text, actions) as never } : {}),
        ...(w.threadTs ? { thread_ts: w.threadTs } : {}),
        // A URL in data (a server's web page) must not pull a preview into the channel.
        unfurl_links: false,
        unfurl_media: false,
      });
      if (!res.ts) throw new Error('chat.postMessage returned no ts');
      return { channel: res.channel ?? w.channel, ts: res.ts, threadTs: w.threadTs };
    } catch (err) {
      const code = slackErrorCode(err);
      if (code && NOT_THERE.has(code) && w.invocation) await this.responders.sendOnce(w.invocation, 'not-in-channel', NOT_IN_CHANNEL_TEXT);
      throw err;
    }
  }

  /** chat.postEphemeral; where the bot is not a member, the slash command's response_url; else a DM. */
  private async ephemeral(w: SlackWhere, user: Actor, text: string, actions?: readonly MessageAction[]): Promise<void> {
    try {
      const blocks = actions?.length ? { blocks: actionBlocks(text, actions) as never } : {};
      await this.client.chat.postEphemeral({ channel: w.channel, user: user.id, text, ...blocks, ...(w.threadTs ? { thread_ts: w.threadTs } : {}) });
      return;
    } catch (err) {
      const code = slackErrorCode(err);
      if (!code || !NOT_THERE.has(code)) throw err;
    }
    if (w.invocation && (await this.responders.send(w.invocation, text))) return;
    const dm = await this.dmChannel(user.id);
    await this.postText({ channel: dm, threadTs: null, invocation: null }, text);
  }

  private async dmChannel(userId: string): Promise<string> {
    const known = this.dms.get(userId);
    if (known) return known;
    const res = await this.client.conversations.open({ users: userId });
    const id = res.channel?.id;
    if (!id) throw new Error('conversations.open returned no channel');
    this.dms.set(userId, id);
    return id;
  }

  private async upload(channel: string, threadTs: string | null, files: readonly OutgoingFile[]): Promise<void> {
    await this.client.files.uploadV2({
      channel_id: channel,
      ...(threadTs ? { thread_ts: threadTs } : {}),
      file_uploads: files.map((f) => ({ file: f.data, filename: f.name, title: f.name })),
    });
  }
}

function filesLine(files: readonly OutgoingFile[] | undefined): string {
  return files?.length ? `📎 ${files.map((f) => f.name).join(', ')}` : ' ';
}
