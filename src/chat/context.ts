import type { Buttons } from './buttons.ts';
import type { CommandContext, Progress } from './command.ts';
import { Conversation, type SecretsDelivery } from './conversation.ts';
import { ProgressMessage } from './progress.ts';
import { PlatformRefused, type ChatPort, type Invocation, type MessageAction, type MessageRef, type Role } from './types.ts';

/**
 * The context one invocation's handler gets: the answers go through the conversation, progress
 * and threads through the port, which the handler itself never sees.
 */
export function commandContext<Services>(o: {
  services: Services;
  port: ChatPort;
  invocation: Invocation;
  role: Role;
  commandLine: string;
  /** The invocation's conversation when the caller has one already (the dispatcher renders through it). */
  reply?: Conversation;
  secretsDelivery: SecretsDelivery;
  signal?: AbortSignal;
  /** The dispatcher's buttons; without them (or on a port without buttons) none are offered. */
  buttons?: Buttons;
}): CommandContext<Services> {
  const { port, invocation: inv } = o;
  const reply = o.reply ?? new Conversation({ port, where: inv.where, actor: inv.actor, secretsDelivery: o.secretsDelivery });
  return {
    services: o.services,
    actor: inv.actor,
    role: o.role,
    files: inv.files,
    commandLine: o.commandLine,
    platform: port.platform,
    where: inv.where,
    reply,
    progress: () => new PostedProgress(port, reply),
    async thread(parent, msg) {
      await reply.say(msg, await port.openThread(parent));
    },
    signal: o.signal ?? new AbortController().signal,
    buttons: (specs) => (o.buttons && port.buttons ? o.buttons.offer(inv.buttonsOwner ?? inv.actor, specs) : []),
  };
}

/** A Progress on a chat port: a public message, edited within the port's budget. */
class PostedProgress implements Progress {
  private message: ProgressMessage | null = null;
  private readonly port: ChatPort;
  private readonly reply: Conversation;
  constructor(port: ChatPort, reply: Conversation) {
    this.port = port;
    this.reply = reply;
  }

  private actions: MessageAction[] = [];

  async start(text: string, actions: MessageAction[] = []): Promise<void> {
    this.actions = actions;
    let ref;
    try {
      ref = await this.reply.say(actions.length ? { text, actions } : { text });
    } catch (err) {
      // The work goes on; the person who started it learns why its progress cannot be shown.
      if (err instanceof PlatformRefused) await this.reply.whisper(`❌ ${err.message}`).catch(() => undefined);
      throw err;
    }
    this.message = ProgressMessage.of(this.port, this.reply.where, ref);
  }

  update(text: string): void {
    this.message?.update(this.actions.length ? { text, actions: this.actions } : { text });
  }

  async complete(text: string): Promise<MessageRef> {
    if (!this.message) return this.reply.say(text);
    await this.message.finish({ text });
    return this.message.message;
  }

  fail(text: string): Promise<MessageRef> {
    return this.complete(text);
  }
}
