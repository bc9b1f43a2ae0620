import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Actor, IncomingFile } from '../../src/chat/types.ts';
import { FileTooLarge } from '../../src/chat/types.ts';
import { compose, type Composed } from '../../src/compose.ts';
import { parseConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { RecordingPort } from './recording-port.ts';

export const ADMIN: Actor = { platform: 'slack', id: 'UADMIN', name: 'ada', roleIds: [] };
export const OPERATOR: Actor = { platform: 'slack', id: 'UOPER', name: 'otto', roleIds: [] };
export const VIEWER: Actor = { platform: 'slack', id: 'UVIEW', name: 'vera', roleIds: [] };
export const STRANGER: Actor = { platform: 'slack', id: 'USTRANGE', name: 'sam', roleIds: [] };

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
  const dir = await mkdtemp(join(tmpdir(), 'cnx-app-'));
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
  const composed = await compose(config, { log: createLogger('debug', (l) => logs.push(l)) });
  const port = new RecordingPort();
  return {
    ...composed,
    port,
    dir,
    logs,
    run: (text, actor = ADMIN, files = []) => composed.dispatcher.dispatch(port, { text, files, actor, where: { key: 'C1' } }),
    async dispose() {
      await composed.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
