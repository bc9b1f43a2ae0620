import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpsServer, type OpsServer } from '../../src/ops/http.ts';
import { testApp, type TestApp } from '../kit/app.ts';
import { useTempDir } from '../kit/temp-dir.ts';

const UNIT = readFileSync('deploy/connexa.service', 'utf8');

/** `systemd-analyze verify` on a copy of the unit; ExecStart's node is the one running the tests when /usr/bin/node is absent. */
function verify(unitText: string, dir: string): { status: number | null; out: string } {
  const text = existsSync('/usr/bin/node') ? unitText : unitText.replace('ExecStart=/usr/bin/node', `ExecStart=${process.execPath}`);
  const file = join(dir, 'connexa.service');
  writeFileSync(file, text);
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

describe('deploy/connexa.service', () => {
  const tmp = useTempDir('cnx-unit-');

  it('passes systemd-analyze verify without a warning (and the check does catch a bad directive)', () => {
    const ok = verify(UNIT, tmp.path);
    expect(ok.out).toBe('');
    expect(ok.status).toBe(0);
    const bad = verify(UNIT.replace('NoNewPrivileges=yes', 'NoNewPrivileges=yes\nProtectSystm=strict'), tmp.path);
    expect(bad.out).toMatch(/Unknown key( name)? '?ProtectSystm/);
  });

  it('grants CAP_NET_ADMIN, /dev/ppp and /dev/net/tun and nothing more; the rest of the system read-only but DATA_DIR', () => {
    const values = (key: string) => [...UNIT.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
    expect(values('AmbientCapabilities')).toEqual(['CAP_NET_ADMIN']);
    expect(values('CapabilityBoundingSet')).toEqual(['CAP_NET_ADMIN']);
    expect(values('DevicePolicy')).toEqual(['closed']);
    expect(values('DeviceAllow')).toEqual(['/dev/ppp rw', '/dev/net/tun rw']);
    expect(values('NoNewPrivileges')).toEqual(['yes']);
    expect(values('ProtectSystem')).toEqual(['strict']);
    const dataDir = /DATA_DIR=(\S+)/.exec(values('Environment').join(' '))?.[1];
    expect(dataDir).toBe('/var/lib/connexa');
    expect(values('ReadWritePaths')).toEqual([dataDir]);
    expect(values('Restart')).toEqual(['on-failure']);
    expect(values('User')).toEqual(['connexa']);
    // The environment file example names the same data directory and logs JSON for journald.
    const env = readFileSync('deploy/connexa.env.example', 'utf8');
    expect(env).toMatch(/^DATA_DIR=\/var\/lib\/connexa$/m);
    expect(env).toMatch(/^LOG_FORMAT=json$/m);
  });
});

describe('deploy/connexa-gateway.service', () => {
  const tmp = useTempDir('cnx-gwunit-');
  const GW = readFileSync('deploy/connexa-gateway.service', 'utf8');

  it('passes systemd-analyze verify, runs `connexa gateway` with the same confinement as the bot, on its own DATA_DIR', () => {
    const ok = verify(GW, tmp.path);
    expect(ok.out).toBe('');
    expect(ok.status).toBe(0);
    const values = (text: string, key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
    expect(values(GW, 'ExecStart')).toEqual(['/usr/bin/node /opt/connexa/bin/connexa.js gateway']);
    for (const key of ['AmbientCapabilities', 'CapabilityBoundingSet', 'DevicePolicy', 'DeviceAllow', 'NoNewPrivileges', 'ProtectSystem', 'User', 'Restart']) expect(values(GW, key), key).toEqual(values(UNIT, key));
    const dataDir = /DATA_DIR=(\S+)/.exec(values(GW, 'Environment').join(' '))?.[1];
    expect(dataDir).toBe('/var/lib/connexa-gateway');
    expect(values(GW, 'ReadWritePaths')).toEqual([dataDir]);
    const env = readFileSync('deploy/connexa-gateway.env.example', 'utf8');
    for (const name of ['REDIS_URL', 'GATEWAY_NAME', 'GATEWAY_PUBLIC_HOST', 'GATEWAY_DEAD_AFTER']) expect(env).toMatch(new RegExp(`^${name}=`, 'm'));
    expect(env).toMatch(/^DATA_DIR=\/var\/lib\/connexa-gateway$/m);
  });
});

describe('the Grafana dashboard and the Prometheus alert rules', () => {
  let t: TestApp;
  let server: OpsServer;
  let exported: Set<string>;
  beforeAll(async () => {
    t = await testApp();
    server = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      log: t.app.log,
      metrics: { store: t.app.store, jobs: t.app.jobs, dataDir: t.app.config.dataDir, commands: new Set(), version: 'test' },
      health: { store: t.app.store, adapters: () => [], started: () => true, stopping: () => false },
    });
    const text = await (await fetch(`http://127.0.0.1:${server.address.port}/metrics`)).text();
    exported = new Set();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const [, name, type] = m as unknown as [string, string, string];
      exported.add(name);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(name + s);
      if (type === 'summary') for (const s of ['_sum', '_count']) exported.add(name + s);
    }
  });
  afterAll(async () => {
    await server?.close();
    await t?.dispose();
  });

  /** Metric names in PromQL: the words that look like ours or the client library's. */
  const metricNames = (exprs: string[]) => new Set(exprs.flatMap((e) => [...e.matchAll(/\b(?:connexa|nodejs|process)_[a-z0-9_]+\b/g)].map((m) => m[0])));

  it('every metric the dashboard names is exported', () => {
    const dashboard = JSON.parse(readFileSync('deploy/grafana-dashboard.json', 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(15);
    const names = metricNames(exprs);
    expect(names.size).toBeGreaterThan(15);
    expect([...names].filter((n) => !exported.has(n))).toEqual([]);
  });

  it('every metric the alert rules name is exported', () => {
    const rules = readFileSync('deploy/prometheus-alerts.yml', 'utf8');
    const exprs = [...rules.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]!);
    expect(exprs.length).toBeGreaterThan(8);
    expect([...rules.matchAll(/^\s+- alert: /gm)]).toHaveLength(exprs.length);
    const names = metricNames(exprs);
    expect([...names].filter((n) => !exported.has(n))).toEqual([]);
  });
});
