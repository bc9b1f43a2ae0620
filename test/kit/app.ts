import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Actor, IncomingFile } from '../../src/chat/types.ts';
import { FileTooLarge } from '../../src/chat/types.ts';
import { compose, type Composed } from '../../src/compose.ts';
import { parseConfig, type Config } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { RecordingPort } from './recording-port.ts';

export const ADMIN: Actor = { platform: 'slack', id: 'UADMIN', name: 'ada', roleIds: [] };
export const OPERATOR: Actor = { platform: 'slack', id: 'UOPER', name: 'otto', roleIds: [] };
export const VIEWER: Actor = { platform: 'slack', id: 'UVIEW', name: 'vera', roleIds: [] };
export const STRANGER: Actor = { platform: 'slack', id: 'USTRANGE', name: 'sam', roleIds: [] };

/**
 * What every test bot starts from: DATA_DIR in a temp directory of its own, the roles of the actors
 * above, loopback probing allowed, and every debug log line kept in `logs`.
 */
export interface TestBot {
  dir: string;
  config: Config;
  log: Logger;
  logs: string[];
  /**
   * compose() on this configuration, then `start` (an adapter) on the composed app. When either
   * fails, what was built is closed and the directory removed before the error goes on.
   */
  boot<T = void>(start?: (app: Composed) => Promise<T>): Promise<{ app: Composed; started: T }>;
  /** Removes the temp directory. */
  remove(): Promise<void>;
}

export async function testBot(env: Record<string, string> = {}, prefix = 'cnx-app-'): Promise<TestBot> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const config = parseConfig({
    DATA_DIR: join(dir, 'data'),
    CONNEXA_ADMINS: 'slack:UADMIN',
    CONNEXA_OPERATORS: 'slack:UOPER',
    CONNEXA_VIEWERS: 'slack:UVIEW',
    // The simulated servers listen on loopback, which the probe refuses unless PROBE_ALLOW names it.
    PROBE_ALLOW: '127.0.0.0/8',
    LOG_LEVEL: 'debug',
    ...env,
  });
  const logs: string[] = [];
  const log = createLogger('debug', (l) => logs.push(l));
  const remove = () => rm(dir, { recursive: true, force: true });
  return {
    dir,
    config,
    log,
    logs,
    remove,
    async boot<T>(start?: (app: Composed) => Promise<T>) {
      let app: Composed | null = null;
      try {
        app = await compose(config, { log });
        const started = (start ? await start(app) : undefined) as T;
        return { app, started };
      } catch (err) {
        await app?.close();
        await remove();
        throw err;
      }
    },
  };
}

export interface TestApp extends Composed {
  port: RecordingPort;
  dir: string;
  logs: string[];
  /** Runs `/connexa <text>` as `actor` and returns the outcome. */
  run(text: string, actor?: Actor, files?: IncomingFile[]): ReturnType<Composed['dispatcher']['dispatch']>;
  dispose(): Promise<void>;
}

export function fileOf(name: string, data: string | Buffer): IncomingFile {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
  return {
    name,
    size: buf.length,
    contentType: 'text/plain',
    async download(max) {
      if (buf.length > max) throw new FileTooLarge(name, buf.length, max);
      return buf;
    },
  };
}

/** A real store in a temp directory, the real registry and dispatcher, a recording port. */
export async function testApp(env: Record<string, string> = {}): Promise<TestApp> {
  const bot = await testBot(env);
  const { app: composed } = await bot.boot();
  const port = new RecordingPort();
  return {
    ...composed,
    port,
    dir: bot.dir,
    logs: bot.logs,
    run: (text, actor = ADMIN, files = []) => composed.dispatcher.dispatch(port, { text, files, actor, where: { key: 'C1' } }),
    async dispose() {
      await composed.close();
      await bot.remove();
    },
  };
}
