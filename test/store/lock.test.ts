import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.ts';
import { StoreLocked } from '../../src/store/lock.ts';
import { runConnexa } from '../kit/connexa-process.ts';

const CHILD = resolve('test/store/fixtures/lock-child.ts');
let dir: string;
const started: ChildProcess[] = [];
const pids: number[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnx-lock-'));
});
afterEach(async () => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await rm(dir, { recursive: true, force: true });
});

/** The lines a child writes, as they come. */
function lines(child: ChildProcess): AsyncIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}
const next = async (it: AsyncIterator<string>) => (await it.next()).value as string;

const procState = async (pid: number) => (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '')[0];

describe('the data directory lock', () => {
  it('is free as soon as its holder is killed, even while the holder is an unreaped zombie whose pid still answers', async () => {
    // sh starts the holder in the background, prints its pid and becomes `sleep`, which never reaps it.
    const sh = spawn('sh', ['-c', `"${process.execPath}" "${CHILD}" "${dir}" hold & echo $!; exec sleep 120`], { stdio: ['ignore', 'pipe', 'inherit'] });
    started.push(sh);
    const out = lines(sh);
    const holder = Number(await next(out));
    pids.push(holder);
    expect(await next(out)).toBe('won');
    await expect(Store.open(dir)).rejects.toThrow(`in use by another Connexa (pid ${holder})`);
    process.kill(holder, 'SIGKILL');
    // The leader shows Z as soon as it has exited; its other threads (which share the descriptors)
    // may still be exiting. Dead for good: a zombie with no thread left but the leader.
    while ((await procState(holder)) !== 'Z' || (await readdir(`/proc/${holder}/task`)).length > 1) await new Promise((r) => setTimeout(r, 20));
    expect(() => process.kill(holder, 0)).not.toThrow(); // what fooled the pid-file lock
    expect((await readFile(join(dir, 'connexa.lock'), 'utf8')).trim()).toBe(String(holder));
    const store = await Store.open(dir);
    await store.close();
  });

  it('does not take a lock file naming a live unrelated process for a holder', async () => {
    const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
    started.push(sleeper);
    await writeFile(join(dir, 'connexa.lock'), String(sleeper.pid));
    const store = await Store.open(dir);
    expect(await readFile(join(dir, 'connexa.lock'), 'utf8')).toBe(String(process.pid));
    await store.close();
    await writeFile(join(dir, 'connexa.lock'), String(process.ppid));
    await (await Store.open(dir)).close();
  });

  it('refuses a second opener while a live holder has it, and is free again after close', async () => {
    const store = await Store.open(dir);
    await expect(Store.open(dir)).rejects.toThrow(StoreLocked);
    await expect(Store.open(dir)).rejects.toThrow(`in use by another Connexa (pid ${process.pid})`);
    // The same directory through another path (a symlink) is the same lock.
    const { symlink } = await import('node:fs/promises');
    await symlink(dir, `${dir}-link`);
    try {
      await expect(Store.open(`${dir}-link`)).rejects.toThrow(StoreLocked);
    } finally {
      await rm(`${dir}-link`);
    }
    await store.close();
    await (await Store.open(dir)).close();
  });

  it('lets exactly one of 40 simultaneous starters win', async () => {
    const children = Array.from({ length: 40 }, () => {
      const c = spawn(process.execPath, [CHILD, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
      started.push(c);
      return { c, out: lines(c) };
    });
    for (const { out } of children) expect(await next(out)).toBe('ready');
    for (const { c } of children) c.stdin!.write('go\n'); // all load first, then all try at once
    const results = await Promise.all(children.map(({ out }) => next(out)));
    expect(results.filter((r) => r === 'won')).toHaveLength(1);
    expect(results.filter((r) => r === 'lost')).toHaveLength(39);
    for (const { c } of children) c.stdin!.end();
  }, 120_000);

  it('makes `connexa` exit 2 with one line while another Connexa holds the directory', async () => {
    const data = join(dir, 'data');
    const store = await Store.open(data);
    const run = await runConnexa(['stats'], { cwd: dir, dataDir: data });
    await store.close();
    expect(run.code).toBe(2);
    expect(run.out).toBe('');
    expect(run.err).toBe(`connexa: the data directory is in use by another Connexa (pid ${process.pid}); stop it first or use another DATA_DIR\n`);
  });
});
