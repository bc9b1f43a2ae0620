import { createRequire } from 'node:module';
import type { Logger as PinoLogger } from 'pino';

/**
 * The structured logger: pino, to stderr (or a given sink), in one of two forms:
 *   - `json`: one JSON object a line (`level` as a word, `time` ISO 8601, `msg`, then the fields),
 *     for journald, Loki and other log tools;
 *   - `pretty`: `ISO LEVEL msg {fields}` for a person at a terminal (the default on a TTY).
 * Values under secret-looking keys are replaced before pino sees them, so a password, token or key
 * passed in a log field never reaches the log in either form.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /pass(word)?|secret|token|private.?key|^key$|authorization|credential/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: value.message };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** The form used when LOG_FORMAT is not set: pretty for a person at a terminal, JSON for a service manager. */
export function defaultLogFormat(stream: { isTTY?: boolean } = process.stderr): LogFormat {
  return stream.isTTY ? 'pretty' : 'json';
}

/** Keys pino writes itself: a field of the same name is kept under `field.<name>` instead. */
const RESERVED = new Set(['level', 'time', 'msg']);

/**
 * pino is required on the first line that passes the level: a one-shot command (`connexa help`,
 * level warn) that logs nothing never loads it.
 */
let pinoFactory: typeof import('pino').default | null = null;
function loadPino(): typeof import('pino').default {
  pinoFactory ??= createRequire(import.meta.url)('pino') as typeof import('pino').default;
  return pinoFactory;
}

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`), format: LogFormat = 'pretty'): Logger {
  let pino: PinoLogger | null = null;
  const instance = (): PinoLogger => {
    if (pino) return pino;
    const factory = loadPino();
    // A synchronous destination: a line is out before the call returns (a crash right after loses nothing).
    const dest = { write: (chunk: string) => write(format === 'json' ? chunk.replace(/\n$/, '') : prettyLine(chunk)) };
    pino = factory(
      {
        level,
        base: null,
        messageKey: 'msg',
        timestamp: factory.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      dest,
    );
    return pino;
  };
  const emit = (lvl: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < RANK[level]) return;
    instance()[lvl](fields ? safeFields(redact(fields) as Record<string, unknown>) : {}, msg);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

function safeFields(fields: Record<string, unknown>): Record<string, unknown> {
  if (!Object.keys(fields).some((k) => RESERVED.has(k))) return fields;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[RESERVED.has(k) ? `field.${k}` : k] = v;
  return out;
}

/** pino's JSON line as `ISO LEVEL msg {fields}`, the form a person reads. */
export function prettyLine(json: string): string {
  const { level, time, msg, ...fields } = JSON.parse(json) as { level: string; time: string; msg: string } & Record<string, unknown>;
  const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
  return `${time} ${String(level).toUpperCase()} ${msg}${extra}`;
}
