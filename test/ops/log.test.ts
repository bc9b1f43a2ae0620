import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.ts';
import { createLogger, defaultLogFormat } from '../../src/log.ts';
import { runConnexa } from '../kit/connexa-process.ts';
import { useTempDir } from '../kit/temp-dir.ts';

const SECRET = 'Log-Test-Secret-9q8w7e';
const PEM = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----';

describe('the logger', () => {
  it('json: one JSON object a line with level, ISO time, msg and the fields; secrets redacted', () => {
    const lines: string[] = [];
    const log = createLogger('info', (l) => lines.push(l), 'json');
    log.debug('below the level', { x: 1 });
    log.info('job started', { job: 'j1', nodes: 5000, password: SECRET, creds: { token: SECRET, privateKey: PEM, key: SECRET } });
    log.error('plain');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).not.toContain('\n');
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first).toEqual({ level: 'info', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), msg: 'job started', job: 'j1', nodes: 5000, password: '[redacted]', creds: { token: '[redacted]', privateKey: '[redacted]', key: '[redacted]' } });
    expect(JSON.parse(lines[1]!)).toEqual({ level: 'error', time: expect.any(String), msg: 'plain' });
    expect(lines.join('\n')).not.toContain(SECRET);
    expect(lines.join('\n')).not.toContain('PRIVATE KEY');
  });

  it('pretty: `ISO LEVEL msg {fields}`, the same redaction', () => {
    const lines: string[] = [];
    const log = createLogger('debug', (l) => lines.push(l), 'pretty');
    log.warn('store write failed', { error: new Error('ENOSPC'), password: SECRET });
    log.debug('no fields');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z WARN store write failed \{"error":\{"name":"Error","message":"ENOSPC"\},"password":"\[redacted\]"\}$/);
    expect(lines[1]).toMatch(/^\S+Z DEBUG no fields$/);
  });

  it('a field named like a key of the line itself is kept under another name, not lost', () => {
    const lines: string[] = [];
    createLogger('info', (l) => lines.push(l), 'json').info('m', { level: 'x', msg: 'y', time: 3 });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', msg: 'm', 'field.level': 'x', 'field.msg': 'y', 'field.time': 3 });
  });

  it('LOG_FORMAT: json or pretty; unset, pretty on a terminal and JSON otherwise', () => {
    expect(parseConfig({ LOG_FORMAT: 'json' }).LOG_FORMAT).toBe('json');
    expect(parseConfig({}).LOG_FORMAT).toBeUndefined();
    expect(() => parseConfig({ LOG_FORMAT: 'xml' })).toThrow(ConfigError);
    expect(() => parseConfig({ LOG_FORMAT: 'xml' })).toThrow('LOG_FORMAT must be json or pretty (got "xml")');
    expect(defaultLogFormat({ isTTY: true })).toBe('pretty');
    expect(defaultLogFormat({ isTTY: false })).toBe('json');
  });
});

describe('the connexa program logs', () => {
  const tmp = useTempDir('cnx-log-');

  it('JSON lines to a non-terminal stderr by default, pretty with LOG_FORMAT=pretty', async () => {
    const dataDir = join(tmp.path, 'data');
    const json = await runConnexa(['stats'], { cwd: tmp.path, dataDir, env: { LOG_LEVEL: 'debug' } });
    expect(json.code).toBe(0);
    const lines = json.err.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    const parsed = lines.map((l) => JSON.parse(l) as { level: string; msg: string; command?: string });
    expect(parsed.find((p) => p.msg === 'command')).toMatchObject({ level: 'debug', outcome: 'ok', command: 'stats' });
    const pretty = await runConnexa(['stats'], { cwd: tmp.path, dataDir, env: { LOG_LEVEL: 'debug', LOG_FORMAT: 'pretty' } });
    expect(pretty.err).toMatch(/^\S+Z DEBUG command \{"outcome":"ok","command":"stats"/m);
  });
});
