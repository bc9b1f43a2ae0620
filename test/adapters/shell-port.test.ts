import { describe, expect, it } from 'vitest';
import { ShellPort } from '../../adapters/shell/port.ts';
import { displayWidth, fitLine } from '../../adapters/shell/format.ts';
import { progressText } from '../../commands/job-report.ts';
import type { JobSnapshot } from '../../src/pipeline/job-runner.ts';
import { useTempDir } from '../kit/temp-dir.ts';

/**
 * A small terminal: wraps at `columns` (with the usual pending wrap in the last column), moves
 * up with CSI n A and erases below with CSI J — what a redraw relies on.
 */
class Screen {
  rows: string[][] = [[]];
  row = 0;
  col = 0;
  pending = false;
  isTTY = true;
  readonly columns: number;
  constructor(columns: number) {
    this.columns = columns;
  }
  private width(ch: string): number {
    const cp = ch.codePointAt(0)!;
    if (cp === 0xfe0f) return 0;
    return cp >= 0x2300 && /\p{Extended_Pictographic}/u.test(ch) ? 2 : 1;
  }
  private line(): string[] {
    while (this.rows.length <= this.row) this.rows.push([]);
    return this.rows[this.row]!;
  }
  write(chunk: string | Uint8Array): boolean {
    const s = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    for (let i = 0; i < s.length; ) {
      const esc = /^\x1b\[(\d*)([A-Za-z])/.exec(s.slice(i));
      if (esc) {
        if (esc[2] === 'A') this.row = Math.max(0, this.row - Number(esc[1] || 1));
        if (esc[2] === 'J') {
          this.line().length = this.col;
          this.rows.length = this.row + 1;
        }
        this.pending = false;
        i += esc[0].length;
        continue;
      }
      const ch = String.fromCodePoint(s.codePointAt(i)!);
      i += ch.length;
      if (ch === '\r') {
        this.col = 0;
        this.pending = false;
        continue;
      }
      if (ch === '\n') {
        this.row++;
        this.col = 0;
        this.pending = false;
        this.line();
        continue;
      }
      const w = this.width(ch);
      if (this.pending || this.col + w > this.columns) {
        this.row++;
        this.col = 0;
        this.pending = false;
      }
      const l = this.line();
      while (l.length < this.col) l.push(' ');
      l[this.col] = ch;
      for (let k = 1; k < w; k++) l[this.col + k] = '';
      this.col += w;
      if (this.col >= this.columns) this.pending = true;
    }
    return true;
  }
  text(): string[] {
    return this.rows.map((r) => r.join('')).filter((r) => r.length > 0);
  }
}

const snapshot = (done: number): JobSnapshot => ({
  id: 'j1',
  kind: 'ping',
  selection: 'status:not_tested,ping_failed country:US',
  total: 5000,
  done,
  counts: { ok: done - 300, refused: 120, timeout_reply: 90, timeout_connect: 60, bad_reply: 30 },
  startedAt: 0,
  rate: 412,
  etaMs: 61_000,
  state: 'running',
});

const tmp = useTempDir('cnx-port-');

describe('the terminal progress line', () => {
  it('fits an 80-column terminal and every redraw leaves no stale row', async () => {
    expect(progressText(snapshot(1000)).split('\n')[1]!.length).toBeGreaterThan(120);
    const screen = new Screen(80);
    const port = new ShellPort({ out: screen as never, outboxDir: tmp.path, color: false });
    const ref = await port.post({ key: 'terminal' }, { text: progressText(snapshot(1000)) });
    for (const done of [2000, 3000, 4000]) await port.edit(ref, { text: progressText(snapshot(done)) });
    const shown = screen.text();
    expect(shown).toHaveLength(2);
    expect(shown[0]).toMatch(/^⏳ ping j1 \(status:not_tested/);
    // The bar, the count and the rate/ETA stay; counts in the middle give way.
    expect(shown[1]).toMatch(/^\[#{16}\.{4}\] 80 % · 4,000 \/ 5,000 · (ok 3,700 · )?… · 412\/s · ETA 1 min 1 s$/);
    for (const row of shown) expect(displayWidth(row)).toBeLessThan(80);
  });

  it('redraws over a first post that wrapped', async () => {
    const screen = new Screen(40);
    const port = new ShellPort({ out: screen as never, outboxDir: tmp.path, color: false });
    const ref = await port.post({ key: 'terminal' }, { text: `first line\n${'x'.repeat(100)}` });
    await port.edit(ref, { text: 'first line\ndone' });
    expect(screen.text()).toEqual(['first line', 'done']);
  });

  it('redraws from the start of the row when a prompt was printed after the message', async () => {
    const screen = new Screen(80);
    const port = new ShellPort({ out: screen as never, outboxDir: tmp.path, color: false });
    const ref = await port.post({ key: 'terminal' }, { text: progressText(snapshot(1000)) });
    screen.write('connexa> ');
    await port.edit(ref, { text: progressText(snapshot(5000)) });
    const shown = screen.text();
    expect(shown).toHaveLength(2);
    expect(shown[0]).toMatch(/^⏳ ping j1 /);
    expect(shown[1]).toMatch(/^\[#{20}\] 100 % · 5,000 \/ 5,000/);
  });

  it('cuts a line without separators at the width, keeping ANSI escapes out of the count', () => {
    const fitted = fitLine(`\x1b[1m${'y'.repeat(100)}\x1b[22m`, 30);
    expect(displayWidth(fitted)).toBe(30);
    // The bold is still switched off after the cut.
    expect(fitted).toBe(`\x1b[1m${'y'.repeat(29)}…\x1b[22m`);
    expect(fitLine('short', 30)).toBe('short');
  });

  it('leaves a pipe untouched: no cutting without a terminal width', async () => {
    let written = '';
    const out = { isTTY: false, write: (s: string) => ((written += s), true) };
    const port = new ShellPort({ out: out as never, outboxDir: tmp.path });
    const ref = await port.post({ key: 'terminal' }, { text: progressText(snapshot(1000)) });
    await port.edit(ref, { text: progressText(snapshot(2000)) });
    expect(written).toBe(`${progressText(snapshot(1000))}\n${progressText(snapshot(2000))}\n`.replaceAll('**', ''));
  });
});

describe('terminal colours and streams', () => {
  const tty = () => {
    const o = { isTTY: true, columns: 200, written: '', write: (s: string) => ((o.written += s), true) };
    return o;
  };

  it('writes bold on a TTY, and none when NO_COLOR is set', async () => {
    const saved = process.env.NO_COLOR;
    try {
      delete process.env.NO_COLOR;
      const a = tty();
      await new ShellPort({ out: a as never, outboxDir: tmp.path }).post({ key: 'terminal' }, { text: '**Connexa** ready' });
      expect(a.written).toBe('\x1b[1mConnexa\x1b[22m ready\n');
      process.env.NO_COLOR = '1';
      const b = tty();
      await new ShellPort({ out: b as never, outboxDir: tmp.path }).post({ key: 'terminal' }, { text: '**Connexa** ready' });
      expect(b.written).toBe('Connexa ready\n');
    } finally {
      if (saved === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = saved;
    }
  });

  it('sends refusals and errors to the error stream and private results to the output', async () => {
    const out = tty();
    const err = tty();
    const port = new ShellPort({ out: out as never, err: err as never, outboxDir: tmp.path, color: false });
    const who = { platform: 'terminal' as const, id: 'me', name: 'me', roleIds: [] };
    await port.postPrivate({ key: 'terminal' }, who, { text: '⚠️ unknown filter key "colour"' });
    await port.postPrivate({ key: 'terminal' }, who, { text: '❌ an internal error stopped the command' });
    await port.postPrivate({ key: 'terminal' }, who, { text: 'Pinging 3 nodes.' });
    expect(err.written).toBe('⚠️ unknown filter key "colour"\n❌ an internal error stopped the command\n');
    expect(out.written).toBe('Pinging 3 nodes.\n');
  });
});
