import { createInterface } from 'node:readline';
import type { DispatchEntry } from '../../src/chat/dispatcher.ts';
import type { Actor } from '../../src/chat/types.ts';
import { localFile } from './local-file.ts';
import { TERMINAL_WHERE, type ShellPort } from './port.ts';

export interface ShellOptions {
  dispatcher: DispatchEntry;
  port: ShellPort;
  actor: Actor;
  /** Resolves when background work (jobs) started by commands has finished. */
  idle: () => Promise<void>;
  /** Ctrl-C in the REPL: cancels running jobs; returns false when there was none (then the REPL ends). */
  interrupt: () => boolean;
}

/** Re-quotes argv words that the OS shell unquoted, so `city:"New York"` survives. */
export function joinArgv(args: readonly string[]): string {
  return args
    .map((a) => {
      if (!/\s/.test(a)) return a;
      const kv = /^([a-z]+[:=])(.*)$/i.exec(a);
      const q = a.includes('"') ? "'" : '"';
      return kv ? `${kv[1]}${q}${kv[2]}${q}` : `${q}${a}${q}`;
    })
    .join(' ');
}

/** The terminal adapter's three ways of running: one command, piped lines, or an interactive REPL. */
export class Shell {
  private readonly opts: ShellOptions;
  constructor(opts: ShellOptions) {
    this.opts = opts;
  }

  /** Runs one line; a command that takes a file gets the file its path names, as chat would attach it. */
  async runCommand(text: string): Promise<boolean> {
    const path = this.opts.dispatcher.pathArgument(text);
    const files = path ? [localFile(path)] : [];
    const outcome = await this.opts.dispatcher.dispatch(this.opts.port, { text, files, actor: this.opts.actor, where: TERMINAL_WHERE });
    return outcome.kind === 'ok';
  }

  /** `connexa <command> <args>`: runs it, waits for its work, returns the exit code. */
  async runOnce(args: readonly string[]): Promise<number> {
    const good = await this.runCommand(joinArgv(args));
    await this.opts.idle();
    return good ? 0 : 1;
  }

  /** One command per line from a pipe; exit code 1 if any command was refused or failed. */
  async runLines(input: NodeJS.ReadableStream): Promise<number> {
    const rl = createInterface({ input, crlfDelay: Infinity, terminal: false });
    let allGood = true;
    for await (const line of rl) {
      const text = line.trim();
      if (!text || text.startsWith('#')) continue;
      if (!(await this.runCommand(text))) allGood = false;
    }
    await this.opts.idle();
    return allGood ? 0 : 1;
  }

  /** Interactive: a prompt, history, Ctrl-D or `exit` to leave. */
  async repl(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<void> {
    const rl = createInterface({ input, output, prompt: 'connexa> ', historySize: 500 });
    rl.on('SIGINT', () => {
      if (this.opts.interrupt()) output.write('\nCancelling the running jobs (Ctrl-C again or exit to leave).\n');
      else rl.close();
    });
    rl.prompt();
    for await (const line of rl) {
      const text = line.trim();
      if (text === 'exit' || text === 'quit') break;
      if (text) await this.runCommand(text);
      rl.prompt();
    }
    rl.close();
  }
}
