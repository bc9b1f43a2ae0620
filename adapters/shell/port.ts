import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Actor, ChatPort, Message, MessageRef, PortLimits, Where } from '../../src/chat/types.ts';
import { formatBytes } from '../../src/chat/types.ts';
import { colorWanted, fitLine, rowsOf, toTerminal } from './format.ts';

type TerminalStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface ShellPortOptions {
  /** Results: command output, progress, saved attachments. */
  out: TerminalStream;
  /** Refusals and errors (stdout when not given, as in tests that read one stream). */
  err?: NodeJS.WritableStream;
  outboxDir: string;
  /** False turns ANSI attributes off (NO_COLOR); defaults to the environment's NO_COLOR. */
  color?: boolean;
}

/** How the dispatcher starts a refusal or an error (src/chat/dispatcher.ts render): these go to stderr. */
const REFUSAL = /^(⚠️|⛔|❌|❓)/u;

export const TERMINAL_WHERE: Where = { key: 'terminal' };

/**
 * The terminal as a chat platform: posts are printed, attachments are written to the outbox,
 * threads are indented, and on a TTY an edited message (a progress bar) is redrawn in place.
 */
export class ShellPort implements ChatPort {
  readonly platform = 'terminal' as const;
  readonly limits: PortLimits;
  private next = 1;
  /** The message printed last and how many terminal rows it took, so an edit of it can redraw in place. */
  private last: { key: string; rows: number } | null = null;
  /** Paths written to the outbox, in order (the one-shot mode prints them). */
  readonly saved: string[] = [];

  private readonly opts: ShellPortOptions;
  constructor(opts: ShellPortOptions) {
    this.opts = opts;
    const tty = Boolean(opts.out.isTTY);
    // A TTY redraws cheaply; a pipe or log file gets a progress line every few seconds at most.
    this.limits = { maxTextChars: 1_000_000, maxFileBytes: 2 ** 40, editsPerMinute: tty ? 600 : 12 };
  }

  private get tty(): boolean {
    return Boolean(this.opts.out.isTTY);
  }

  async post(where: Where, msg: Message): Promise<MessageRef> {
    const key = `m${this.next++}`;
    await this.print(key, where, msg);
    return { key };
  }

  /**
   * On a TTY an edit (a progress message) is redrawn over the rows it took, each line fitted to
   * the terminal's width: a line that wrapped would take more rows than the redraw moves up over.
   */
  async edit(ref: MessageRef, msg: Message): Promise<void> {
    if (this.tty && this.last?.key === ref.key) {
      // \r first: a prompt printed after the message leaves the cursor mid-row.
      this.opts.out.write(`\r\x1b[${this.last.rows}A\x1b[J`);
    }
    await this.print(ref.key, this.whereOf(ref), msg, true);
  }

  async postPrivate(where: Where, _user: Actor, msg: Message): Promise<void> {
    if (this.opts.err && REFUSAL.test(msg.text) && !msg.files?.length) {
      this.opts.err.write(`${toTerminal(msg.text, false)}\n`);
      this.last = null; // rows were added below the last message: it can no longer be redrawn in place
      return;
    }
    await this.print(`p${this.next++}`, where, msg);
  }

  async openThread(ref: MessageRef): Promise<Where> {
    return { key: `thread:${ref.key}` };
  }

  async sendDirect(_user: Actor, msg: Message): Promise<MessageRef> {
    return this.post(TERMINAL_WHERE, msg);
  }

  async postAlert(msg: Message): Promise<void> {
    await this.print(`a${this.next++}`, TERMINAL_WHERE, { ...msg, text: `🔔 ${msg.text}` });
  }

  private whereOf(ref: MessageRef): Where {
    return this.threads.get(ref.key) ?? TERMINAL_WHERE;
  }
  private readonly threads = new Map<string, Where>();

  private get color(): boolean {
    return this.tty && (this.opts.color ?? colorWanted());
  }

  private async print(key: string, where: Where, msg: Message, fit = false): Promise<void> {
    if (where.key.startsWith('thread:')) this.threads.set(key, where);
    const indent = where.key.startsWith('thread:') ? '  │ ' : '';
    let text = toTerminal(msg.text, this.color);
    for (const f of msg.files ?? []) {
      // A read-only DATA_DIR still serves `stats`: its picture is then said to be unsaved, not fatal.
      const path = await this.save(f.name, f.data).catch((err: NodeJS.ErrnoException) => ({ failed: err.code ?? err.message }));
      text += typeof path === 'string' ? `\n📎 ${f.name} (${formatBytes(f.data.length)}) saved to ${path}` : `\n📎 ${f.name} not saved: the outbox ${this.opts.outboxDir} cannot be written (${path.failed})`;
    }
    const columns = this.tty ? this.opts.out.columns : undefined;
    // One column is left free: a line that fills the last column makes some terminals wrap early.
    const lines = text.split('\n').map((l) => (fit && columns ? fitLine(indent + l, columns - 1) : indent + l));
    this.opts.out.write(`${lines.join('\n')}\n`);
    this.last = { key, rows: lines.reduce((n, l) => n + rowsOf(l, columns), 0) };
  }

  /** Writes an attachment to the outbox, mode 0600, never overwriting an earlier file. */
  private async save(name: string, data: Buffer): Promise<string> {
    await mkdir(this.opts.outboxDir, { recursive: true, mode: 0o700 });
    const safe = name.replace(/[^\w.-]+/g, '_').replace(/^\.+/, '') || 'file';
    const dot = safe.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [safe.slice(0, dot), safe.slice(dot)] : [safe, ''];
    for (let i = 0; ; i++) {
      const path = join(this.opts.outboxDir, i ? `${stem}-${i}${ext}` : safe);
      try {
        const fh = await open(path, 'wx', 0o600);
        await fh.writeFile(data);
        await fh.close();
        this.saved.push(path);
        return path;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || i > 1000) throw err;
      }
    }
  }
}
