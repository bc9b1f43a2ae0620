/**
 * `connexa gateway`: this host serves nodes for a bot elsewhere. It checks Redis, enrols (a server
 * certificate from the bot's CA, once), then serves its queues and sends heartbeats until SIGTERM
 * or SIGINT, when it stops taking jobs, lets the running ones finish and exits 0.
 *
 * The port it serves is the local gateway (the lead wires `new LocalGateway(...)` here); it is
 * given, or made from the server material this process keeps (its own key, the bot's trust).
 */
import { join } from 'node:path';
import type { Config } from '../../config.ts';
import { type Logger, createLogger, defaultLogFormat } from '../../log.ts';
import type { GatewayPort, ServerMaterial } from '../port.ts';
import { enrolGateway } from './enrol.ts';
import { GatewayMaterial } from './gateway-material.ts';
import { RedisUnavailable, checkRedis } from './redis-check.ts';
import { serveGateway } from './serve.ts';
import { connectionOptions, parseRedisUrl } from './transport.ts';

export interface RunGatewayOptions {
  port?: GatewayPort | ((material: ServerMaterial) => GatewayPort);
  log?: Logger;
  err?: { write(s: string): unknown };
  /** Ends the gateway like SIGTERM does (tests); the process signals always do. */
  stop?: AbortSignal;
  heartbeatMs?: number;
}

/** Resolves with the exit code: 0 after a clean stop, 2 when it cannot start (said in one line). */
export async function runGateway(config: Config, o: RunGatewayOptions = {}): Promise<number> {
  const err = o.err ?? process.stderr;
  const fail = (line: string) => {
    err.write(`connexa: ${line}\n`);
    return 2;
  };
  if (!config.REDIS_URL) return fail('gateway needs REDIS_URL (the Redis the bot uses)');
  if (!config.GATEWAY_NAME) return fail('gateway needs GATEWAY_NAME (lower-case letters, digits and dashes, such as fra-1)');
  if (!o.port) return fail('gateway: this build has no local gateway to serve (LocalGateway is not wired in yet)');
  const log = o.log ?? createLogger(config.LOG_LEVEL, undefined, config.LOG_FORMAT ?? defaultLogFormat());
  const name = config.GATEWAY_NAME;
  const target = parseRedisUrl(config.REDIS_URL);
  const material = new GatewayMaterial({ dir: join(config.dataDir, 'gateway', 'ovpn') });
  let served: Awaited<ReturnType<typeof serveGateway>>;
  try {
    await checkRedis(target);
    await enrolGateway({ name, connection: connectionOptions(target), material, log });
    const port = typeof o.port === 'function' ? o.port(material) : o.port;
    // At least three beats per GATEWAY_DEAD_AFTER (one lost beat is not a death), at most one a second.
    const heartbeatMs = o.heartbeatMs ?? Math.max(1000, Math.min(5000, Math.floor(config.GATEWAY_DEAD_AFTER / 3)));
    served = await serveGateway({ name, redisUrl: config.REDIS_URL, port, log, heartbeatMs });
  } catch (e) {
    if (e instanceof RedisUnavailable) return fail(e.message);
    if (e instanceof Error && /^enrolment/.test(e.message)) return fail(e.message);
    throw e;
  }
  err.write(`connexa: gateway ${name} serving; SIGTERM or Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGTERM', done);
      process.off('SIGINT', done);
      resolve();
    };
    process.on('SIGTERM', done);
    process.on('SIGINT', done);
    o.stop?.addEventListener('abort', done, { once: true });
  });
  err.write(`connexa: gateway ${name} stopping: running jobs finish first\n`);
  await served.close();
  return 0;
}
