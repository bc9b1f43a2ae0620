/**
 * The pppd driver's process handling, options file, routes and failure mapping, against a fake
 * `pppd` (a small node script that prints what pppd 2.4.9 prints and exits with its codes). This
 * host has no kernel PPP; the real pppd is exercised by the VM lab (npm run test:vm).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HostProbe } from '../../src/probes/tunnel/capability.ts';
import { readPppdWords } from '../../src/probes/tunnel/pppd-options.ts';
import { PppdDriver } from '../../src/probes/tunnel/pppd.ts';
import type { IpRunner } from '../../src/probes/tunnel/routes.ts';
import { eventually } from '../kit/wait.ts';

let dir: string;
let runDir: string;
let capture: string;
let fakePppd: string;

// Behaviour by server address (the fake reads it from the pty line of its options file).
const FAKE = `#!${process.execPath}
const fs = require('fs');
const { spawn } = require('child_process');
const optsPath = process.argv[3];
const text = fs.readFileSync(optsPath);
const ip = /pptp (\\S+) --nolaunchpppd/.exec(text.toString('latin1'))[1];
const out = (l) => process.stdout.write(l + '\\n');
const kid = () => spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }).pid;
const rec = { argv: process.argv.slice(2), mode: fs.statSync(optsPath).mode & 0o777, text: text.toString('base64'), env: Object.keys(process.env).sort(), pid: process.pid, pgid: null };
try { rec.pgid = Number(fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[2]); } catch {}
const save = () => fs.writeFileSync(process.env.CAPTURE || CAPTURE_DIR + '/' + process.pid + '.json', JSON.stringify(rec));
const up = (unit, local) => { out('Using interface ppp' + unit); out('Connect: ppp' + unit + ' <--> /dev/pts/1'); out('CHAP authentication succeeded'); out('MPPE 128-bit stateless compression enabled'); out('local  IP address ' + local); out('remote IP address 192.168.90.1'); };
switch (ip) {
  case '10.0.0.1': case '10.0.0.11':
    rec.kid = kid(); save();
    setTimeout(() => up(ip === '10.0.0.1' ? 3 : 4, ip === '10.0.0.1' ? '192.168.90.10' : '192.168.90.11'), 50);
    process.on('SIGTERM', () => { out('Terminating on signal 15'); out('Connection terminated.'); process.exit(5); });
    setInterval(() => {}, 1000);
    break;
  case '10.0.0.2':
    save(); out('Using interface ppp0'); out('Connect: ppp0 <--> /dev/pts/1');
    setTimeout(() => { out('MS-CHAP authentication failed: E=691 Authentication failure'); out('CHAP authentication failed'); process.exit(19); }, 50);
    break;
  case '10.0.0.3':
    save(); out('Using interface ppp0'); out('Connect: ppp0 <--> /dev/pts/1');
    process.stderr.write('anon warn[open_inetsock:pptp_callmgr.c:352]: connect: Connection refused\\n');
    setTimeout(() => { out('Modem hangup'); out('Connection terminated.'); process.exit(16); }, 50);
    break;
  case '10.0.0.4':
    // Silent and deaf to SIGTERM, with a child in its group: only SIGKILL of the group ends it.
    rec.kid = kid(); save();
    process.on('SIGTERM', () => {});
    setInterval(() => {}, 1000);
    break;
  case '10.0.0.5':
    save(); up(5, '192.168.90.15');
    setTimeout(() => { out('Modem hangup'); out('Connection terminated.'); process.exit(16); }, 300);
    break;
  case '10.0.0.6':
    save(); out('This system lacks kernel support for PPP.'); process.exit(4);
}
`;

const host: HostProbe = {
  exists: (p) => ['/dev/ppp', '/sys/module/ppp_generic', '/sys/module/ppp_mppe'].includes(p),
  readText: () => null,
  which: (b) => ({ pppd: fakePppd, pptp: '/usr/sbin/pptp', ip: '/usr/sbin/ip', modprobe: '/usr/sbin/modprobe' })[b] ?? null,
  kernelRelease: () => 'test',
  effectiveCaps: () => 0x1ffffffffffn,
};

let ipCalls: string[][] = [];
const ip: IpRunner = async (args) => {
  ipCalls.push(args);
  return { ok: true, stdout: '', stderr: '' };
};

function captures(): Array<{ argv: string[]; mode: number; text: string; env: string[]; pid: number; pgid: number | null; kid?: number }> {
  return fs.readdirSync(capture).map((f) => JSON.parse(fs.readFileSync(path.join(capture, f), 'utf8')));
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

const creds = { port: 1723, login: 'bob "the" #1 ü', password: 'pa ss"#\\wörd' };
const driver = () => new PppdDriver({ runDir, host, ip, killGraceMs: 300 });

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnx-tunnel-'));
  runDir = path.join(dir, 'data', 'run');
  capture = path.join(dir, 'capture');
  fs.mkdirSync(capture);
  fakePppd = path.join(dir, 'pppd');
  fs.writeFileSync(fakePppd, FAKE.replace('CAPTURE_DIR', JSON.stringify(capture)), { mode: 0o755 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  ipCalls = [];
  for (const f of fs.readdirSync(capture)) fs.rmSync(path.join(capture, f));
});

describe('the pppd driver (fake pppd)', () => {
  it('opens: parses the interface and addresses, adds the policy route, keeps the password off argv and env', async () => {
    const r = await driver().open({ ip: '10.0.0.1', ...creds }, { timeoutMs: 5000 });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    if (!r.ok) return;
    const t = r.tunnel;
    expect(t).toMatchObject({ iface: 'ppp3', localAddress: '192.168.90.10', remoteAddress: '192.168.90.1' });
    const [c] = captures();
    // argv is `file PATH` and nothing else; the environment is ours-free.
    expect(c!.argv).toEqual(['file', expect.stringMatching(new RegExp(`^${runDir}/pppd-[0-9a-f]{16}\\.options$`))]);
    expect(c!.env).toEqual(['LANG', 'PATH']);
    expect(c!.mode).toBe(0o600);
    expect(fs.statSync(runDir).mode & 0o777).toBe(0o700);
    // pppd has its own process group (so the whole group can be killed).
    expect(c!.pgid).toBe(c!.pid);
    // The credentials arrive intact through pppd's word syntax.
    const words = readPppdWords(Buffer.from(c!.text, 'base64')).map((w) => w.toString('utf8'));
    expect(words[words.indexOf('user') + 1]).toBe(creds.login);
    expect(words[words.indexOf('password') + 1]).toBe(creds.password);
    // The options file is deleted once pppd has printed (it has read it by then).
    expect(fs.readdirSync(runDir)).toEqual([]);
    expect(ipCalls).toContainEqual(['-4', 'route', 'replace', 'default', 'dev', 'ppp3', 'table', '17003']);
    expect(ipCalls).toContainEqual(['-4', 'rule', 'add', 'from', '192.168.90.10/32', 'table', '17003', 'pref', '17723']);

    ipCalls = [];
    await t.close();
    expect(await t.closed).toMatchObject({ why: 'closed', exitCode: 5 });
    expect(ipCalls).toContainEqual(['-4', 'rule', 'del', 'from', '192.168.90.10/32', 'table', '17003', 'pref', '17723']);
    expect(ipCalls).toContainEqual(['-4', 'route', 'flush', 'table', '17003']);
    expect(alive(c!.pid)).toBe(false);
    await eventually(() => expect(alive(c!.kid!)).toBe(false), 3000);
    await t.close(); // idempotent
  });

  it('exit 19 -> auth_failed with the server\'s words; nothing left behind', async () => {
    const r = await driver().open({ ip: '10.0.0.2', ...creds }, { timeoutMs: 5000 });
    expect(r).toMatchObject({ ok: false, kind: 'auth_failed', reason: 'the server refused the credentials (E=691 Authentication failure)' });
    expect(fs.readdirSync(runDir)).toEqual([]);
    expect(ipCalls.filter((a) => a[2] === 'add')).toEqual([]);
  });

  it('pptp\'s "Connection refused" (on stderr) -> unreachable', async () => {
    const r = await driver().open({ ip: '10.0.0.3', ...creds }, { timeoutMs: 5000 });
    expect(r).toMatchObject({ ok: false, kind: 'unreachable' });
    expect(!r.ok && r.reason).toMatch(/connect: Connection refused/);
  });

  it('no tunnel by the deadline -> timeout; a pppd deaf to SIGTERM and its child are SIGKILLed', async () => {
    const t0 = Date.now();
    const r = await driver().open({ ip: '10.0.0.4', ...creds }, { timeoutMs: 1500 });
    expect(r).toMatchObject({ ok: false, kind: 'timeout' });
    expect(!r.ok && r.reason).toMatch(/no tunnel within 1\.5 s \(pppd printed nothing/);
    expect(Date.now() - t0).toBeLessThan(1500 + 300 + 1000);
    const [c] = captures();
    expect(alive(c!.pid)).toBe(false);
    await eventually(() => expect(alive(c!.kid!)).toBe(false), 3000);
    expect(fs.readdirSync(runDir)).toEqual([]);
  });

  it('a cancelled open -> cancelled, pppd gone', async () => {
    const ac = new AbortController();
    const opening = driver().open({ ip: '10.0.0.4', ...creds }, { timeoutMs: 10_000, signal: ac.signal });
    // Cancel once the fake pppd is really running (node starts slowly on a busy machine).
    await eventually(() => expect(captures().length).toBeGreaterThan(0), 8000);
    ac.abort();
    const r = await opening;
    expect(r).toMatchObject({ ok: false, kind: 'cancelled' });
    expect(alive(captures()[0]!.pid)).toBe(false);
  });

  it('a tunnel that drops by itself resolves `closed` as dropped and removes its rule', async () => {
    const r = await driver().open({ ip: '10.0.0.5', ...creds }, { timeoutMs: 5000 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const c = await r.tunnel.closed;
    expect(c.why).toBe('dropped');
    expect(c.exitCode).toBe(16);
    expect(c.reason).toMatch(/^the tunnel dropped: the server hung up after authentication/);
    await eventually(() => expect(ipCalls.some((a) => a[2] === 'del' && a[4] === '192.168.90.15/32')).toBe(true), 3000);
  });

  it('exit 4 (no kernel PPP) -> host_not_capable', async () => {
    const r = await driver().open({ ip: '10.0.0.6', ...creds }, { timeoutMs: 5000 });
    expect(r).toMatchObject({ ok: false, kind: 'host_not_capable' });
  });

  it('a host name or another port is refused before anything is spawned', async () => {
    const d = driver();
    expect(await d.open({ ...creds, ip: 'vpn.example.com' }, { timeoutMs: 5000 })).toMatchObject({ ok: false, kind: 'bad_target', reason: expect.stringMatching(/not an IPv4 address/) });
    expect(await d.open({ ...creds, ip: '10.0.0.1', port: 443 }, { timeoutMs: 5000 })).toMatchObject({ ok: false, kind: 'bad_target', reason: 'port 443: pptp can dial only port 1723' });
    expect(captures()).toEqual([]);
  });

  it('an incapable host refuses with the one-line message and spawns nothing', async () => {
    const bare: HostProbe = { ...host, exists: () => false, which: (b) => (b === 'ip' ? '/usr/sbin/ip' : null) };
    const r = await new PppdDriver({ runDir, host: bare, ip }).open({ ip: '10.0.0.1', ...creds }, { timeoutMs: 5000 });
    expect(r).toMatchObject({ ok: false, kind: 'host_not_capable' });
    expect(!r.ok && r.reason).toMatch(/^speed tests need PPTP tunnels, which this host cannot open: missing kernel PPP .*, pppd, pptp — /);
    expect(captures()).toEqual([]);
  });

  it('tunnels to one server address are taken one at a time; a wait past the deadline is busy', async () => {
    const d = driver();
    const a = await d.open({ ip: '10.0.0.1', ...creds }, { timeoutMs: 5000 });
    expect(a.ok).toBe(true);
    if (!a.ok) return;
    // Another address is not held up.
    const other = await d.open({ ip: '10.0.0.11', ...creds }, { timeoutMs: 5000 });
    expect(other.ok).toBe(true);
    expect(await d.open({ ip: '10.0.0.1', ...creds }, { timeoutMs: 200 })).toMatchObject({ ok: false, kind: 'busy' });
    const t0 = Date.now();
    const b = d.open({ ip: '10.0.0.1', ...creds }, { timeoutMs: 5000 });
    setTimeout(() => void a.tunnel.close(), 300);
    const rb = await b;
    expect(rb.ok).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    if (rb.ok) await rb.tunnel.close();
    if (other.ok) await other.tunnel.close();
  });
});
