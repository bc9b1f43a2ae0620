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
import { publicCrlPath } from '../../services/ovpn/pki-material.ts';
import { connectionOptions, parseRedisUrl } from './transport.ts';

export interface RunGatewayOptions {
  port?: GatewayPort | ((material: ServerMaterial, log: Logger) => GatewayPort & { close?(): Promise<void> });
  log?: Logger;
  err?: { write(s: string): unknown };
  /** Ends the gateway like SIGTERM does (tests); the process signals always do. */
  stop?: AbortSignal;
  heartbeatMs?: number;
  /** The account its OpenVPN servers drop to (default: as this host's check says; null: they keep root). */
  runAs?: { user: string; group: string } | null;
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
  // Servers that drop root re-read the CRL as nobody: then it is served from a world-readable copy.
  const runAs = o.runAs !== undefined ? o.runAs : (await import('../../services/ovpn/capability.ts')).checkOvpnHost().runAs;
  const material = new GatewayMaterial({ dir: join(config.dataDir, 'gateway', 'ovpn'), crlCopy: runAs ? publicCrlPath(config.dataDir) : undefined });
  let port: (GatewayPort & { close?(): Promise<void> }) | null = null;
  let served: Awaited<ReturnType<typeof serveGateway>>;
  try {
    await checkRedis(target);
    await enrolGateway({ name, connection: connectionOptions(target), material, log });
    port = typeof o.port === 'function' ? o.port(material, log) : o.port;
    // At least three beats per GATEWAY_DEAD_AFTER (one lost beat is not a death), at most one a second.
    const heartbeatMs = o.heartbeatMs ?? Math.max(1000, Math.min(5000, Math.floor(config.GATEWAY_DEAD_AFTER / 3)));
    // Its own SPEED_CONCURRENCY caps the tests it runs at once, whatever the bot sends (the bot sends at most its own per gateway).
    served = await serveGateway({ name, redisUrl: config.REDIS_URL, port, log, heartbeatMs, speedConcurrency: config.SPEED_CONCURRENCY });
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
  // What it runs goes down with it (nothing is revoked): the bot starts it again here when it is back.
  await port?.close?.();
  return 0;
}
