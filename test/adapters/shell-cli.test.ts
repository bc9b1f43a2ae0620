import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runConnexa, type ConnexaRun, type ConnexaRunOptions } from '../kit/connexa-process.ts';
import { useSimFleet } from '../kit/sim-fleet.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnx-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Run = ConnexaRun;

/** Runs the real `connexa` program with a clean environment (no tokens), in `dir`. */
function connexa(args: string[], opts: { stdin?: string; env?: Record<string, string | undefined>; keepOpen?: ConnexaRunOptions['keepOpen'] } = {}): Promise<Run> {
  return runConnexa(args, { ...opts, cwd: dir, dataDir: join(dir, 'data'), env: { LOG_LEVEL: 'warn', PROBE_ALLOW: '127.0.0.0/8', ...opts.env } });
}

describe('the connexa command', () => {
  it('runs one command, prints its output and exits 0; exits 1 when the command is refused', async () => {
    await writeFile(join(dir, 'list.txt'), '203.0.113.5:alice:pw1\n203.0.113.6 bob pw2 OH\n1.2.3:carol:pw3\n');
    const imp = await connexa(['import', 'list.txt']);
    expect(imp.code).toBe(0);
    expect(imp.out).toContain('Imported list.txt: 2 added, 0 updated, 0 duplicate, 1 rejected');
    expect((await stat(join(dir, 'data', 'connexa.json'))).mode & 0o777).toBe(0o600);

    const list = await connexa(['/connexa', 'list', 'state:Ohio']);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/n2\s+203\.0\.113\.6\s+bob\s+not_tested/);

    const bad = await connexa(['list', 'colour:red']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('unknown filter key "colour"');
    expect(bad.out).toBe('');
  });

  it('exits 1 with "nothing found" for a file without a server line, and reads a /proc file whole', async () => {
    await writeFile(join(dir, 'v6.txt'), '2001:db8::1 alice pw\nfe80::2 bob pw\n');
    const v6 = await connexa(['import', 'v6.txt']);
    expect(v6.code).toBe(1);
    expect(v6.out + v6.err).toContain('nothing found in v6.txt: none of its 2 lines is a server');
    // 0 bytes by stat, yet every line of it is read (and none is a server).
    const proc = await connexa(['import', '/proc/filesystems']);
    expect(proc.code).toBe(1);
    const lines = (await readFile('/proc/filesystems', 'utf8')).split('\n').filter(Boolean).length;
    expect(proc.out + proc.err).toContain(`nothing found in filesystems: none of its ${lines} lines`);
  });

  it('keeps a quoted value with spaces together', async () => {
    await writeFile(join(dir, 'l.csv'), 'ip,login,password,city\n203.0.113.5,a,b,New York\n203.0.113.6,c,d,York\n');
    expect((await connexa(['import', 'l.csv'])).code).toBe(0);
    const out = await connexa(['list', 'city:New York']);
    expect(out.out).toContain('1 nodes match city:new york');
  });

  it('runs one command per line from a pipe and writes attachments to the outbox', async () => {
    await writeFile(join(dir, 'list.txt'), '203.0.113.5:alice:pw1\n');
    const run = await connexa([], { stdin: '# a comment\nimport list.txt\nstats chart=no\nexport all format=txt\n' });
    expect(run.code).toBe(0);
    expect(run.out).toContain('1 added');
    expect(run.out).toMatch(/not_tested\s+1/);
    const files = await readdir(join(dir, 'data', 'outbox'));
    expect(files).toHaveLength(1);
    expect(await readFile(join(dir, 'data', 'outbox', files[0]!), 'utf8')).toBe('203.0.113.5:alice:pw1\n');
    expect((await stat(join(dir, 'data', 'outbox', files[0]!))).mode & 0o777).toBe(0o600);
    const failing = await connexa([], { stdin: 'stats chart=no\nfrobnicate\n' });
    expect(failing.code).toBe(1);
    // The stats picture (attached by default) is a file in the outbox too; chart=no leaves it out.
    const pngs = async () => (await readdir(join(dir, 'data', 'outbox'))).filter((f) => f.endsWith('.png'));
    const before = (await pngs()).length;
    expect((await connexa(['stats', 'chart=no'])).code).toBe(0);
    expect(await pngs()).toHaveLength(before);
    const stats = await connexa(['stats']);
    expect(stats.code).toBe(0);
    expect(stats.out).toMatch(/📎 connexa-stats-\d{4}-\d\d-\d\d(-\d+)?\.png \(.*\) saved to /);
    const png = await pngs();
    expect(png).toHaveLength(before + 1);
    expect((await readFile(join(dir, 'data', 'outbox', png[0]!))).subarray(1, 4).toString()).toBe('PNG');
  });

  it('stops on a bad configuration value with one line naming the variable', async () => {
    const run = await connexa(['stats'], { env: { PING_TIMEOUT_MS: 'soon' } });
    expect(run.code).toBe(2);
    expect(run.err).toBe('connexa: PING_TIMEOUT_MS must be milliseconds from 100 to 120000 (got "soon")\n');
  });

  it('reports every bad configuration variable at once, one line each', async () => {
    const run = await connexa(['stats'], { env: { PING_TIMEOUT_MS: 'soon', PING_RETRIES: '9', LOG_LEVEL: 'loud' } });
    expect(run.code).toBe(2);
    expect(run.err.split('\n').filter(Boolean).sort()).toEqual([
      'connexa: LOG_LEVEL must be debug, info, warn or error (got "loud")',
      'connexa: PING_RETRIES must be a whole number from 0 to 5 (got "9")',
      'connexa: PING_TIMEOUT_MS must be milliseconds from 100 to 120000 (got "soon")',
    ]);
    expect(run.out).toBe('');
  });

  it('answers --help, -h and --version without a configuration or a data directory', async () => {
    const { version } = JSON.parse(await readFile(resolve('package.json'), 'utf8')) as { version: string };
    for (const flag of ['--help', '-h']) {
      const run = await connexa([flag], { env: { PING_TIMEOUT_MS: 'soon' } });
      expect(run.code).toBe(0);
      expect(run.err).toBe('');
      expect(run.out).toContain(`connexa ${version}`);
      expect(run.out).toMatch(/^\s+import <file> .*$/m);
    }
    const v = await connexa(['--version']);
    expect(v).toMatchObject({ code: 0, out: `connexa ${version}\n`, err: '' });
    const bad = await connexa(['--frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('connexa: unknown option --frobnicate; connexa --help lists the usage\n');
    expect(await readdir(dir)).toEqual([]);
  });

  it('answers help without opening the store: no data directory, no configuration, beside a locked store', async () => {
    const all = await connexa(['help'], { env: { PING_TIMEOUT_MS: 'soon' } });
    expect(all).toMatchObject({ code: 0, err: '' });
    expect(all.out).toMatch(/^import <file> \[test=none\|ping\|speed\]\s+operator\s+Import a server list/m);
    const one = await connexa(['/connexa', 'HELP', 'list']);
    expect(one.code).toBe(0);
    expect(one.out).toContain('**/connexa list [filter] [page=N]**'.replace(/\*\*/g, ''));
    const unknown = await connexa(['help', 'frobnicate']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('there is no command `frobnicate`');
    expect(await readdir(dir)).toEqual([]);
    // A running bot holds the store's lock; help still answers while `stats` is refused.
    await connexa(['stats']);
    let whileLocked: Promise<[Run, Run]> | undefined;
    const bot = connexa([], {
      keepOpen: (child) => {
        child.stdin!.write('stats\n');
        // The bot has answered a command, so it holds the lock until its stdin ends.
        child.stdout!.once('data', () => {
          whileLocked = Promise.all([connexa(['help', 'stats']), connexa(['stats'])]);
          void whileLocked.finally(() => child.stdin!.end());
        });
      },
    });
    expect((await bot).code).toBe(0);
    const [help, stats] = await whileLocked!;
    expect(help.code).toBe(0);
    expect(help.out).toContain('/connexa stats');
    expect(stats.code).toBe(2);
  });

  it('reads .env, with the real environment winning', async () => {
    await writeFile(join(dir, '.env'), `DATA_DIR=${join(dir, 'from-env-file')}\nPING_RETRIES=9\n`);
    const run = await connexa(['stats'], { env: { DATA_DIR: undefined } });
    expect(run.err).toContain('PING_RETRIES must be a whole number from 0 to 5 (got "9")');
    await writeFile(join(dir, '.env'), `DATA_DIR=${join(dir, 'from-env-file')}\n`);
    const ok = await connexa(['stats', 'chart=no'], { env: { DATA_DIR: undefined } });
    expect(ok.code).toBe(0);
    expect((await readdir(join(dir, 'from-env-file'))).sort()).toEqual(['connexa.json']);
  });

  it('refuses a corrupted store without touching it', async () => {
    await connexa(['stats']);
    const path = join(dir, 'data', 'connexa.json');
    await writeFile(path, '{"version":1,"nodes":[{"id":');
    const run = await connexa(['stats']);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/^connexa: .*connexa\.json is not valid JSON .*left untouched/);
    expect(await readFile(path, 'utf8')).toBe('{"version":1,"nodes":[{"id":');
  });

  it('saves what was done when stopped by SIGTERM', async () => {
    await writeFile(join(dir, 'list.txt'), '203.0.113.5:alice:pw1\n');
    const run = await connexa([], {
      keepOpen: (child) => {
        child.stdin!.write('import list.txt\n');
        let sent = false;
        child.stdout!.on('data', (d: Buffer) => {
          if (!sent && d.toString().includes('1 added')) {
            sent = true;
            child.kill('SIGTERM');
          }
        });
      },
    });
    expect(run.code).toBe(130);
    const onDisk = JSON.parse(await readFile(join(dir, 'data', 'connexa.json'), 'utf8'));
    expect(onDisk.nodes.map((n: { ip: string }) => n.ip)).toEqual(['203.0.113.5']);
    expect(await readdir(join(dir, 'data'))).not.toContain('connexa.lock');
  });
});

describe('ping from the terminal', () => {
  const fleet = useSimFleet({ count: 40, seed: 11, mix: { good: 0.5, silent: 0.5 } });

  it('waits for the job and prints its summary before exiting', async () => {
    await writeFile(join(dir, 'fleet.txt'), fleet.importText());
    expect((await connexa(['import', 'fleet.txt'])).code).toBe(0);
    const run = await connexa(['ping', 'status:not_tested'], { env: { PING_TIMEOUT_MS: '200', PING_RETRIES: '0' } });
    expect(run.code).toBe(0);
    expect(run.out).toContain('✅ ping j1 finished');
    expect(run.out).toContain('ok 20 · timeout_reply 20');
    expect(run.out).toMatch(/ping-j1-failures\.csv \([\d.]+ KiB\) saved to/);
  });

  it('cancels the job cleanly on SIGINT and keeps what was committed', async () => {
    await writeFile(join(dir, 'fleet.txt'), fleet.importText());
    expect((await connexa(['import', 'fleet.txt'])).code).toBe(0);
    const run = await connexa(['ping'], {
      env: { PING_TIMEOUT_MS: '20000', PING_RETRIES: '0', PING_CONCURRENCY: '30' },
      keepOpen: (child) => {
        child.stdin!.end();
        let sent = false;
        child.stdout!.on('data', (d: Buffer) => {
          if (!sent && /ok 20/.test(d.toString())) {
            sent = true;
            child.kill('SIGINT');
          }
        });
      },
    });
    expect(run.code).toBe(130);
    expect(run.out).toMatch(/⏹️ ping j1 cancelled by SIGINT after \d+ of 40/);
    const onDisk = JSON.parse(await readFile(join(dir, 'data', 'connexa.json'), 'utf8'));
    expect(onDisk.jobs[0].state).toBe('cancelled');
    const statuses = onDisk.nodes.map((n: { status: string }) => n.status).sort();
    expect(statuses.filter((s: string) => s === 'ping_ok')).toHaveLength(20);
    expect(statuses.filter((s: string) => s === 'not_tested')).toHaveLength(20);
  });
});
