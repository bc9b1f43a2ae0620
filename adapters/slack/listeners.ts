import type { App } from '@slack/bolt';
import { z } from 'zod';
import type { DispatchEntry } from '../../src/chat/dispatcher.ts';
import type { Actor } from '../../src/chat/types.ts';
import type { Logger } from '../../src/log.ts';
import { looksImportable, resolveFile, slackFile, type DownloadOptions, type SlackFileMeta, type SlackFileObject } from './files.ts';
import { actionBlocks, clip, toMrkdwn } from './format.ts';
import type { SlackPort } from './port.ts';
import { whereKey } from './refs.ts';
import type { Responder } from './responders.ts';

export interface ListenerDeps {
  dispatcher: DispatchEntry;
  port: SlackPort;
  log: Logger;
  download: DownloadOptions;
  /** A display name for a user id (users.info, cached); the id when Slack will not say. */
  userName(id: string): Promise<string>;
  /** Keeps a handler's promise until it settles (stop() waits for them, errors are logged). */
  track(work: Promise<unknown>): void;
  /** True when this event key was handled already (Slack redelivers events it thinks were lost). */
  seen(key: string): boolean;
  /** files.info: a file's details when the event withheld them (`file_access: check_file_info`); null if Slack will not say. */
  fileInfo(id: string): Promise<SlackFileObject | null>;
}

const ID = z.string().regex(/^[A-Z0-9]+$/);
const TS = z.string().regex(/^\d+\.\d+$/);

const SlashPayload = z.object({
  text: z.string().default(''),
  user_id: ID,
  user_name: z.string().optional(),
  channel_id: ID,
});

const FileShareEvent = z.object({
  type: z.literal('message'),
  subtype: z.literal('file_share'),
  user: ID,
  channel: ID,
  ts: TS,
  thread_ts: TS.optional(),
  text: z.string().default(''),
  bot_id: z.string().optional(),
  files: z
    .array(
      z.object({
        id: z.string(),
        name: z.string().optional(),
        title: z.string().optional(),
        mimetype: z.string().optional(),
        size: z.number().int().nonnegative().optional(),
        url_private: z.string().optional(),
        url_private_download: z.string().optional(),
        file_access: z.string().optional(),
      }),
    )
    .min(1),
});

/** Thin wiring: Bolt only triggers the named handlers below, which tests can reason about alone. */
export function registerListeners(app: App, deps: ListenerDeps): void {
  // Any command name: the app receives only its own commands, and renaming /connexa in the app's
  // settings must not silently break the bot.
  app.command(/.*/, async ({ ack, body, respond }) => {
    try {
      // Slack wants the ack within 3 s; it goes out before any work, which runs after it.
      await ack();
    } catch (err) {
      // Slack shows the user that the command failed; running it anyway could run it twice.
      deps.log.warn('a slash command could not be acknowledged; not run', { error: (err as Error).message });
      return;
    }
    const responder: Responder = async (text) => {
      await respond({ response_type: 'ephemeral', replace_original: false, text });
    };
    deps.track(onSlashCommand(deps, body, responder));
  });
  // Buttons (Block Kit): acked at once, then pressed through the dispatcher, which checks who may.
  app.action(/^cnx:/, async ({ ack, body, respond }) => {
    await ack();
    deps.track(onPress(deps, body, (m) => respond(m as never).then(() => undefined)));
  });
  app.event('message', async ({ event }) => {
    deps.track(onFileShare(deps, event));
  });
  app.error(async (err) => {
    deps.log.error('slack: a listener failed', { error: err.message });
  });
}

/** `/connexa <text>`: one invocation for the dispatcher, answered where it was typed. */
export async function onSlashCommand(deps: ListenerDeps, body: unknown, respond: Responder): Promise<void> {
  const parsed = SlashPayload.safeParse(body);
  if (!parsed.success) {
    deps.log.warn('a malformed slash command payload was ignored', { issue: parsed.error.issues[0]?.message });
    return;
  }
  const p = parsed.data;
  const actor: Actor = { platform: 'slack', id: p.user_id, name: p.user_name ?? p.user_id, roleIds: [] };
  const invocation = deps.port.responders.add(respond);
  const where = whereKey({ channel: p.channel_id, threadTs: null, invocation });
  await deps.dispatcher.dispatch(deps.port, { text: p.text, files: [], actor, where });
}

const BlockActions = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: ID, name: z.string().optional(), username: z.string().optional() }),
  channel: z.object({ id: ID }),
  message: z.object({ ts: TS, thread_ts: TS.optional() }).optional(),
  actions: z.array(z.object({ action_id: z.string().max(255) })).min(1),
});

/** What a press answers through its response_url (replace_original edits the pressed message, ephemeral ones too). */
export type PressResponder = (body: { replace_original: boolean; text: string; blocks?: unknown[]; response_type?: 'ephemeral' }) => Promise<void>;

/**
 * A button pressed (block_actions): a press for the dispatcher. Its private answers go by
 * chat.postEphemeral (the response_url as fallback); the pressed message is replaced through the
 * response_url, which works for ephemeral prompts, which chat.update cannot reach.
 */
export async function onPress(deps: ListenerDeps, body: unknown, respond: PressResponder): Promise<void> {
  const parsed = BlockActions.safeParse(body);
  if (!parsed.success) {
    deps.log.warn('a malformed block_actions payload was ignored', { issue: parsed.error.issues[0]?.message });
    return;
  }
  const p = parsed.data;
  const actor: Actor = { platform: 'slack', id: p.user.id, name: p.user.name ?? p.user.username ?? p.user.id, roleIds: [] };
  const invocation = deps.port.responders.add((text) => respond({ replace_original: false, response_type: 'ephemeral', text }));
  const where = whereKey({ channel: p.channel.id, threadTs: p.message?.thread_ts ?? null, invocation });
  await deps.dispatcher.press(deps.port, {
    actionId: p.actions[0]!.action_id,
    actor,
    where,
    async update(msg) {
      const text = clip(toMrkdwn(msg.text));
      await respond({ replace_original: true, text, ...(msg.actions?.length ? { blocks: actionBlocks(text, msg.actions) } : {}) });
    },
  });
}

/**
 * A file shared where the bot is: each text-like file goes to the dispatcher with the upload's
 * message (which reads it: `ping` means `import test=ping`), answered in a thread under the upload.
 */
export async function onFileShare(deps: ListenerDeps, event: unknown): Promise<void> {
  if (!isFileShare(event)) return; // ordinary chatter and other message subtypes
  const parsed = FileShareEvent.safeParse(event);
  if (!parsed.success) {
    deps.log.warn('a malformed file_share event was ignored', { issue: parsed.error.issues[0]?.message });
    return;
  }
  const e = parsed.data;
  if (e.bot_id) return; // our own uploads (rejected-lines CSVs…) and other bots' files
  if (deps.seen(`${e.channel}:${e.ts}`)) return; // Slack redelivers events it thinks were not acked
  const files: SlackFileMeta[] = [];
  for (const f of e.files) {
    const meta = await resolveFile(f, deps.fileInfo);
    if (meta) files.push(meta);
    else deps.log.warn('slack: a shared file was left alone: files.info did not describe it', { file: f.id });
  }
  const lists = files.filter(looksImportable);
  if (!lists.length) return;
  const actor: Actor = { platform: 'slack', id: e.user, name: await deps.userName(e.user), roleIds: [] };
  const where = whereKey({ channel: e.channel, threadTs: e.thread_ts ?? e.ts, invocation: null });
  await deps.dispatcher.upload(deps.port, { text: e.text, files: lists.map((meta) => slackFile(meta, deps.download)), actor, where });
}

function isFileShare(event: unknown): boolean {
  return typeof event === 'object' && event !== null && (event as { subtype?: unknown }).subtype === 'file_share';
}

/** A bounded memory of recent keys, for ListenerDeps.seen. */
export function recentKeys(max = 2000): (key: string) => boolean {
  const recent = new Set<string>();
  return (key) => {
    if (recent.has(key)) return true;
    recent.add(key);
    if (recent.size > max) recent.delete(recent.values().next().value!);
    return false;
  };
}
