/**
 * The collecting half of the suite-wide secrets scan (see test/reliability/secret-scan.ts), loaded
 * in every test process by vitest.config.ts `setupFiles`. Inactive without CONNEXA_SECRET_SCAN_DIR
 * (set by test/setup/secret-scan-global.ts).
 *
 * Where secrets are born, every module is wrapped lazily (vi.mock with the original module, so a
 * test that never imports it pays nothing, and behaviour is unchanged):
 *   - node passwords: Store.addNodes / patchNode / transition (patches) and Store.open (what a store
 *     file already held), the simulated fleets (startSimFleet, planSimFleet, startSimProcess);
 *   - proxy passwords: newSocksCredentials (src/services/random.ts), and `socks.password` in store patches;
 *   - private keys: every writePrivateFile (src/services/private-files.ts) whose data holds a PEM
 *     private key or an OpenVPN static key (CA, server, per-node keys, tls-crypt).
 * What is collected:
 *   - every line of every createLogger() logger, whatever its sink, INCLUDING the lines below the
 *     logger's level (formatted by a shadow logger: a secret in a debug line is a leak at LOG_LEVEL=debug),
 *     and each line once more in the JSON form (LOG_FORMAT=json), decoded before the search (logText);
 *   - the channel-visible messages of the mock RecordingPort (post, edit, postAlert; files and zips);
 *   - the fakes' public requests (they register themselves);
 *   - the stderr (the log) of bot processes the tests spawn (bin/connexa.js, src/main.ts).
 * When a hook's target is renamed or removed (src/services is being worked on), the hook stays out of
 * the way: the module loads unwrapped.
 */
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { relative } from 'node:path';
import { afterAll, expect, vi } from 'vitest';
import { fileText, scanCollector } from '../reliability/secret-scan.ts';

const c = scanCollector();
if (c.enabled) {
  const file = expect.getState().testPath;
  c.currentFile = file ? relative(process.cwd(), file) : '(unknown test file)';
  // Setup-file hooks run last among the file's afterAll hooks: the sessions are stopped by then.
  afterAll(() => c.flush());
  teeBotProcesses();
}

type Fn = (...args: never[]) => unknown;
const isFn = (f: unknown): f is Fn => typeof f === 'function';
const collector = () => scanCollector();

vi.mock('../../src/log.ts', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../src/log.ts')>();
  const col = collector();
  if (!col.enabled || !isFn(m.createLogger)) return m;
  const RANK = { debug: 10, info: 20, warn: 30, error: 40 } as const;
  type Level = keyof typeof RANK;
  const createLogger: typeof m.createLogger = (level, write, format) => {
    const sink = write ?? ((l: string) => void process.stderr.write(`${l}\n`));
    const real = m.createLogger(level, (line) => {
      col.log('log', line);
      sink(line);
    }, format);
    const shadow = m.createLogger('debug', (line) => col.log('log (below the logger level)', line));
    // Every line in the JSON form too (LOG_FORMAT=json, what journald and Loki keep), whatever the logger's form.
    const json = m.createLogger('debug', (line) => col.log('log (JSON form)', line), 'json');
    const emit = (lvl: Level) => (msg: string, fields?: Record<string, unknown>) => {
      real[lvl](msg, fields);
      try {
        json[lvl](msg, fields);
      } catch {
        // a value the formatter cannot print: the real logger never formatted it either
      }
      if (RANK[lvl] < RANK[level]) {
        try {
          shadow[lvl](msg, fields);
        } catch {
          // a value the formatter cannot print: the real logger never formatted it either
        }
      }
    };
    return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
  };
  return { ...m, createLogger };
});

vi.mock('../../src/store/store.ts', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../src/store/store.ts')>();
  const col = collector();
  const Store = m.Store as unknown as { prototype: Record<string | symbol, unknown>; open?: unknown } | undefined;
  const done = Symbol.for('connexa.secretScan.store');
  if (!col.enabled || !Store || Store.prototype[done]) return m;
  const proto = Store.prototype;
  proto[done] = true;
  const wrap = (name: string, pick: (args: unknown[]) => unknown) => {
    const orig = proto[name];
    if (!isFn(orig)) return;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      col.secretsIn(pick(args), `Store.${name}`);
      return (orig as (...a: unknown[]) => unknown).apply(this, args);
    };
  };
  wrap('addNodes', (a) => a[0]);
  wrap('patchNode', (a) => a[1]);
  wrap('transition', (a) => (a[0] as { patch?: unknown } | undefined)?.patch);
  const open = Store.open;
  if (isFn(open)) {
    Store.open = async function (this: unknown, ...args: unknown[]) {
      const store = (await (open as (...a: unknown[]) => Promise<{ nodes?: () => unknown }>).apply(this, args)) as { nodes?: () => unknown };
      if (isFn(store?.nodes)) col.secretsIn(store.nodes(), 'Store.open (a store file on disk)');
      return store;
    };
  }
  return { ...m };
});

vi.mock('../../src/services/random.ts', async (importOriginal) => {
  const m = await importOriginal<Record<string, unknown>>();
  const col = collector();
  const orig = m.newSocksCredentials;
  if (!col.enabled || !isFn(orig)) return m;
  return {
    ...m,
    newSocksCredentials: (...args: unknown[]) => {
      const creds = (orig as (...a: unknown[]) => { password?: unknown }).apply(undefined, args);
      if (typeof creds?.password === 'string') col.secret('proxy password', creds.password, 'newSocksCredentials');
      return creds;
    },
  };
});

vi.mock('../../src/services/private-files.ts', async (importOriginal) => {
  const m = await importOriginal<Record<string, unknown>>();
  const col = collector();
  const orig = m.writePrivateFile;
  if (!col.enabled || !isFn(orig)) return m;
  return {
    ...m,
    writePrivateFile: (file: unknown, data: unknown, ...rest: unknown[]) => {
      col.secretsIn(data, `writePrivateFile ${String(file).split('/').slice(-2).join('/')}`);
      return (orig as (...a: unknown[]) => unknown)(file, data, ...rest);
    },
  };
});

vi.mock('../sim/fleet.ts', async (importOriginal) => {
  const m = await importOriginal<typeof import('../sim/fleet.ts')>();
  const col = collector();
  if (!col.enabled) return m;
  return {
    ...m,
    planSimFleet: ((...args: Parameters<typeof m.planSimFleet>) => {
      const servers = m.planSimFleet(...args);
      col.secretsIn(servers, 'planSimFleet');
      return servers;
    }) as typeof m.planSimFleet,
    startSimFleet: (async (...args: Parameters<typeof m.startSimFleet>) => {
      const fleet = await m.startSimFleet(...args);
      col.secretsIn(fleet.servers, 'startSimFleet');
      return fleet;
    }) as typeof m.startSimFleet,
  };
});

vi.mock('../kit/sim-process.ts', async (importOriginal) => {
  const m = await importOriginal<typeof import('../kit/sim-process.ts')>();
  const col = collector();
  if (!col.enabled) return m;
  return {
    ...m,
    startSimProcess: (async (...args: Parameters<typeof m.startSimProcess>) => {
      const fleet = await m.startSimProcess(...args);
      col.secretsIn(fleet.servers, 'startSimProcess');
      return fleet;
    }) as typeof m.startSimProcess,
  };
});

vi.mock('../kit/recording-port.ts', async (importOriginal) => {
  const m = await importOriginal<typeof import('../kit/recording-port.ts')>();
  const col = collector();
  if (!col.enabled) return m;
  type Msg = Parameters<InstanceType<typeof m.RecordingPort>['post']>[1];
  class ScannedRecordingPort extends m.RecordingPort {
    // What the channel saw, kept even when a test clear()s the port's calls.
    private readonly shown: Array<{ verb: string; msg: Msg }> = [];
    constructor(...args: ConstructorParameters<typeof m.RecordingPort>) {
      super(...args);
      col.addSource('RecordingPort', () =>
        this.shown.map(({ verb, msg }) => ({ label: verb, text: [msg.text, ...(msg.files ?? []).map((f) => `${f.name}\n${fileText(f.data)}`)].join('\n') })),
      );
    }
    override post(...args: Parameters<InstanceType<typeof m.RecordingPort>['post']>) {
      this.shown.push({ verb: 'post', msg: args[1] });
      return super.post(...args);
    }
    override edit(...args: Parameters<InstanceType<typeof m.RecordingPort>['edit']>) {
      this.shown.push({ verb: 'edit', msg: args[1] });
      return super.edit(...args);
    }
    override postAlert(...args: Parameters<InstanceType<typeof m.RecordingPort>['postAlert']>) {
      this.shown.push({ verb: 'postAlert', msg: args[0] });
      return super.postAlert(...args);
    }
  }
  return { ...m, RecordingPort: ScannedRecordingPort };
});

/**
 * The bot run as a program (bin/connexa.js, src/main.ts) logs to its stderr: the lines go to the
 * scan as they arrive. The test still reads the stream as before (one more 'data' listener).
 */
function teeBotProcesses(): void {
  const KEY = Symbol.for('connexa.secretScan.spawnTee');
  const cp = childProcess as unknown as Record<string | symbol, unknown>;
  if (cp[KEY]) return;
  cp[KEY] = true;
  const original = childProcess.spawn;
  const tee = function spawn(this: unknown, ...args: unknown[]) {
    const child = (original as (...a: unknown[]) => childProcess.ChildProcess).apply(this, args);
    try {
      const argv = Array.isArray(args[1]) ? (args[1] as unknown[]).map(String) : [];
      if (String(args[0]) === process.execPath && argv.some((a) => /(bin\/connexa\.js|src\/main\.ts)$/.test(a)) && child.stderr) {
        let partial = '';
        child.stderr.on('data', (d: Buffer) => {
          const lines = (partial + d.toString('utf8')).split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) if (l) scanCollector().log('bot process stderr', l);
        });
        child.stderr.once('end', () => {
          if (partial) scanCollector().log('bot process stderr', partial);
        });
      }
    } catch {
      // never in the way of the test
    }
    return child;
  } as typeof childProcess.spawn;
  childProcess.spawn = tee;
  syncBuiltinESMExports();
}
