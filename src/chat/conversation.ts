import type { Replies } from './command.ts';
import { splitText } from './render.ts';
import { formatBytes, type Actor, type ChatPort, type Message, type MessageRef, type OutgoingFile, type Where } from './types.ts';

export type SecretsDelivery = 'dm' | 'thread';

/**
 * Everything a command may say in answer to one invocation, built on the adapter's port. The core
 * owns the fallbacks: long text is split, files over the platform's limit are refused with a message.
 */
export class Conversation implements Replies {
  readonly where: Where;
  readonly actor: Actor;
  private readonly port: ChatPort;
  private readonly secretsDelivery: SecretsDelivery;
  constructor(to: { port: ChatPort; where: Where; actor: Actor; secretsDelivery: SecretsDelivery }) {
    ({ port: this.port, where: this.where, actor: this.actor, secretsDelivery: this.secretsDelivery } = to);
  }

  get maxFileBytes(): number {
    return this.port.limits.maxFileBytes;
  }

  get maxTextChars(): number {
    return this.port.limits.maxTextChars;
  }

  /** Posts publicly; returns the last message posted. */
  async say(msg: Message | string, where: Where = this.where): Promise<MessageRef> {
    const m = typeof msg === 'string' ? { text: msg } : msg;
    let last: MessageRef | null = null;
    for (const part of this.pieces(m)) last = await this.port.post(where, part);
    return last!;
  }

  /** Visible to the person who typed the command only. */
  async whisper(msg: Message | string): Promise<void> {
    const m = typeof msg === 'string' ? { text: msg } : msg;
    for (const part of this.pieces(m)) await this.port.postPrivate(this.where, this.actor, part);
  }

  /** Secrets (passwords, keys): by DM or privately in place, as SECRETS_DELIVERY says; never public. */
  async secret(msg: Message | string): Promise<void> {
    const m = typeof msg === 'string' ? { text: msg } : msg;
    if (this.secretsDelivery === 'dm' && this.port.platform !== 'terminal') {
      try {
        for (const part of this.pieces(m)) await this.port.sendDirect(this.actor, part);
      } catch (err) {
        // Direct messages closed (Discord allows users to refuse them): still private, in place.
        await this.whisper({ ...m, text: `(A direct message could not be sent: ${(err as Error).message})\n${m.text}` });
        return;
      }
      await this.port.postPrivate(this.where, this.actor, { text: 'Sent to you by direct message.' });
    } else {
      await this.whisper(m);
    }
  }

  /** Splits text by the port's size limit and files by its attachment limit. */
  private pieces(msg: Message): Message[] {
    const texts = splitText(msg.text, this.port.limits.maxTextChars);
    const files = msg.files ?? [];
    // Buttons go under the last piece of text, where the reader gets to them.
    const withActions = (out: Message[]) => (msg.actions?.length ? out.map((m, i) => (i === texts.length - 1 ? { ...m, actions: msg.actions } : m)) : out);
    if (!files.length) return withActions(texts.map((text) => ({ text })));
    const max = this.port.limits.maxFileBytes;
    const fits: OutgoingFile[] = [];
    const tooBig: OutgoingFile[] = [];
    for (const f of files) (f.data.length > max ? tooBig : fits).push(f);
    const out: Message[] = texts.map((text) => ({ text }));
    // Group files into messages that stay under the limit.
    let group: OutgoingFile[] = [];
    let size = 0;
    const groups: OutgoingFile[][] = [];
    for (const f of fits) {
      if (group.length && size + f.data.length > max) {
        groups.push(group);
        group = [];
        size = 0;
      }
      group.push(f);
      size += f.data.length;
    }
    if (group.length) groups.push(group);
    if (groups.length) out[out.length - 1] = { ...out[out.length - 1]!, files: groups[0] };
    for (const g of groups.slice(1)) out.push({ text: '(continued)', files: g });
    for (const f of tooBig) out.push({ text: `${f.name} is ${formatBytes(f.data.length)}, over this platform's ${formatBytes(max)} attachment limit; narrow the selection and try again.` });
    return withActions(out);
  }
}
