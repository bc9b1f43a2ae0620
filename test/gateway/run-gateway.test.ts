import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import type { GatewayHeartbeat, ServerMaterial } from '../../src/gateway/port.ts';
import { type GatewayConnections, connectGateways } from '../../src/gateway/remote/control.ts';
import { pkiSigner } from '../../src/gateway/remote/pki-signer.ts';
import { runGateway } from '../../src/gateway/remote/run.ts';
import { createLogger } from '../../src/log.ts';
import { Pki } from '../../src/services/ovpn/pki.ts';
import { runConnexa } from '../kit/connexa-process.ts';
import { type RedisServer, startRedis } from '../kit/redis.ts';
import { eventually } from '../kit/wait.ts';
import { StandInGateway } from './stand-in-gateway.ts';

let redis: RedisServer;
let bot: GatewayConnections;
let tmp: string;
const beats: GatewayHeartbeat[] = [];
const lines: string[] = [];
const log = createLogger('debug', (l) => lines.push(l), 'json');

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'connexa-gwrun-'));
  redis = await startRedis();
  bot = await connectGateways({ redisUrl: redis.url, log, onHeartbeat: (hb) => beats.push(hb), signCsr: pkiSigner(await Pki.open(join(tmp, 'bot-pki'))) });
});
afterAll(async () => {
  await bot?.close();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

it('runGateway enrols, serves the port it is given, and stops cleanly with exit code 0', async () => {
  const config = parseConfig({ DATA_DIR: join(tmp, 'gw'), REDIS_URL: redis.url, GATEWAY_NAME: 'gw-run' });
  const stop = new AbortController();
  let material: ServerMaterial | null = null;
  const said: string[] = [];
  // Stand-in for LocalGateway (see its file): made from the material the gateway enrolled.
  const running = runGateway(config, { port: (m) => ((material = m), new StandInGateway('gw-run')), log, stop: stop.signal, err: { write: (s: string) => said.push(s) }, heartbeatMs: 100 });
  await eventually(() => expect(beats.some((b) => b.name === 'gw-run')).toBe(true));
  expect((await bot.port('gw-run').describe()).name).toBe('gw-run');
  expect(material!.files().cert).toBe(join(tmp, 'gw', 'gateway', 'ovpn', 'server.crt'));
  stop.abort();
  expect(await running).toBe(0);
  expect(said.join('')).toContain('gateway gw-run serving');
  expect(lines.join('\n')).not.toContain(redis.password);
});

it('`connexa gateway` without REDIS_URL, or with a malformed one, stops with one line and exit code 2', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'connexa-gwcli-'));
  try {
    const none = await runConnexa(['gateway'], { cwd, dataDir: join(cwd, 'data'), env: { GATEWAY_NAME: 'gw-x' } });
    expect(none.code).toBe(2);
    expect(none.err).toBe('connexa: gateway needs REDIS_URL (the Redis the bot uses)\n');
    const bad = await runConnexa(['gateway'], { cwd, dataDir: join(cwd, 'data'), env: { GATEWAY_NAME: 'gw-x', REDIS_URL: 'rediss-nope' } });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('REDIS_URL must be a redis:// or rediss:// URL');
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
