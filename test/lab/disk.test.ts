// Disk full and a read-only data directory while a job writes results: a clear alert, the data
// kept in memory, no corrupted file, and recovery once space is back. Needs root (mount tmpfs).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compose, type Composed } from '../../src/compose.ts';
import { parseConfig } from '../../src/config.ts';
import { Pki } from '../../src/services/ovpn/pki.ts';
import { createLogger } from '../../src/log.ts';
import { runConnexa, type ConnexaRun } from '../kit/connexa-process.ts';
import { RecordingPort } from '../kit/recording-port.ts';
import { eventually } from '../kit/wait.ts';


let mnt: string;
let composed: Composed | null = null;

beforeEach(() => {
  if (process.getuid?.() !== 0) throw new Error('the disk lab needs root (it mounts a small tmpfs)');
  mnt = mkdtempSync(join(tmpdir(), 'cnx-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mnt]);
});
afterEach(async () => {
  try {
    execFileSync('mount', ['-o', 'remount,rw', mnt]);
  } catch {
    /* already rw */
  }
  await composed?.close().catch(() => {});
  composed = null;
  execFileSync('umount', ['-l', mnt]);
  rmSync(mnt, { recursive: true, force: true });
});

async function start(): Promise<{ c: Composed; port: RecordingPort }> {
  const c = await compose(parseConfig({ DATA_DIR: join(mnt, 'data') }), { log: createLogger('error', () => {}) });
  const port = new RecordingPort();
  c.app.alerts.register(port);
  composed = c;
  return { c, port };
}

describe('the store on a failing disk', () => {
  it('alerts once when the disk is full, keeps the last good file intact, and recovers when space is back', async () => {
    const { c, port } = await start();
    c.app.store.addNodes([{ ip: '203.0.113.1', login: 'a', password: 'b' }], null);
    await c.app.store.flush();
    const good = readFileSync(join(mnt, 'data', 'connexa.json'), 'utf8');
    // Fill the disk, then make many changes (a job's worth).
    const filler = join(mnt, 'filler');
    writeFileSync(filler, Buffer.alloc(1));
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k', 'count=2000'], { stdio: 'ignore' });
    } catch {
      /* ENOSPC is the point */
    }
    c.app.store.addNodes(Array.from({ length: 3000 }, (_, i) => ({ ip: `10.0.${i >> 8}.${i & 255}`, login: 'u', password: `p${i}` })), null);
    await expect(c.app.store.flush()).rejects.toThrow(/ENOSPC/);
    await eventually(() => expect(port.calls.some((x) => x.verb === 'postAlert')).toBe(true));
    const alerts = port.calls.filter((x) => x.verb === 'postAlert');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.verb === 'postAlert' && alerts[0]!.msg.text).toMatch(/cannot save its data.*ENOSPC/);
    // More failures do not repeat the alert.
    await expect(c.app.store.flush()).rejects.toThrow();
    expect(port.calls.filter((x) => x.verb === 'postAlert')).toHaveLength(1);
    // The file on disk is the last good one, whole.
    expect(readFileSync(join(mnt, 'data', 'connexa.json'), 'utf8')).toBe(good);
    expect(JSON.parse(good).nodes).toHaveLength(1);
    // Space comes back: the retry saves everything and a recovery notice follows.
    rmSync(filler);
    await c.app.store.flush();
    await eventually(() => expect(port.calls.filter((x) => x.verb === 'postAlert')).toHaveLength(2));
    expect(JSON.parse(readFileSync(join(mnt, 'data', 'connexa.json'), 'utf8')).nodes).toHaveLength(3001);
  });

  it('alerts on a read-only data directory and never corrupts the file', async () => {
    const { c, port } = await start();
    c.app.store.addNodes([{ ip: '203.0.113.1', login: 'a', password: 'b' }], null);
    await c.app.store.flush();
    const good = readFileSync(join(mnt, 'data', 'connexa.json'), 'utf8');
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    c.app.store.addNodes([{ ip: '203.0.113.2', login: 'a', password: 'b' }], null);
    await expect(c.app.store.flush()).rejects.toThrow(/EROFS/);
    await eventually(() => expect(port.calls.some((x) => x.verb === 'postAlert')).toBe(true));
    expect(readFileSync(join(mnt, 'data', 'connexa.json'), 'utf8')).toBe(good);
    execFileSync('mount', ['-o', 'remount,rw', mnt]);
    await c.app.store.flush();
    expect(JSON.parse(readFileSync(join(mnt, 'data', 'connexa.json'), 'utf8')).nodes).toHaveLength(2);
  });
});

/** Runs the real `connexa` program (one-shot, or piped lines) on the tmpfs data directory. */
async function connexa(args: string[], stdin = ''): Promise<ConnexaRun> {
  const cwd = mkdtempSync(join(tmpdir(), 'cnx-disk-cwd-'));
  try {
    return await runConnexa(args, { cwd, dataDir: join(mnt, 'data'), stdin });
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

function serverList(lines: string): string {
  const d = mkdtempSync(join(tmpdir(), 'cnx-disk-list-'));
  writeFileSync(join(d, 'list.txt'), lines);
  return join(d, 'list.txt');
}

describe('the connexa command on a failing disk', () => {
  it('reports a one-shot import on a full disk as not imported, without a stack trace, and leaves the store file as it was', async () => {
    const first = serverList('203.0.113.5:alice:pw1\n');
    expect((await connexa(['import', first])).code).toBe(0);
    const good = readFileSync(join(mnt, 'data', 'connexa.json'), 'utf8');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(mnt, 'filler')}`, 'bs=4k', 'count=2000'], { stdio: 'ignore' });
    } catch {
      /* ENOSPC is the point */
    }
    const list = serverList(Array.from({ length: 200 }, (_, i) => `10.9.${i >> 8}.${i & 255}:u${i}:p${i}\n`).join(''));
    const run = await connexa(['import', list]);
    expect(run.code).toBe(1);
    const all = run.out + run.err;
    expect(all).not.toMatch(/Imported/);
    expect(all).toMatch(/list\.txt was not imported: the store could not be saved \(ENOSPC\)/);
    expect(all).not.toMatch(/fatal|\n\s+at /);
    expect(readFileSync(join(mnt, 'data', 'connexa.json'), 'utf8')).toBe(good);
    // Space comes back: nothing of the failed import appears, and it can be imported again.
    rmSync(join(mnt, 'filler'));
    expect((await connexa(['stats'])).out).toMatch(/\b1 nodes/);
    expect((await connexa(['import', list])).out).toMatch(/200 added/);
    rmSync(dirname(first), { recursive: true });
    rmSync(dirname(list), { recursive: true });
  });

  it('serves stats and list from a read-only data directory, says so once, and refuses commands that write with one line', async () => {
    const list = serverList('203.0.113.5:alice:pw1\n203.0.113.6:bob:pw2\n');
    expect((await connexa(['import', list])).code).toBe(0);
    const before = readFileSync(join(mnt, 'data', 'connexa.json'), 'utf8');
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    const stats = await connexa(['stats']);
    expect(stats.code).toBe(0);
    expect(stats.out).toMatch(/2 nodes/);
    expect(stats.err.trimEnd().split('\n')).toEqual([expect.stringMatching(/read-only mode: .* cannot be written \(EROFS\); stats and list work/)]);
    const listed = await connexa(['list']);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/203\.0\.113\.6\s+bob/);
    const piped = await connexa([], 'stats\nlist\nreset all\n');
    expect(piped.err.match(/read-only mode/g)).toHaveLength(1);
    for (const args of [['import', list], ['reset', 'all'], ['delete', 'all']]) {
      const run = await connexa(args);
      expect(run.code).toBe(1);
      const said = (run.out + run.err).trimEnd().split('\n').filter((l) => !/read-only mode/.test(l));
      expect(said).toEqual([expect.stringMatching(new RegExp(`\`${args[0]}\` is refused: the data directory .* is read-only \\(EROFS\\)`))]);
    }
    expect(readFileSync(join(mnt, 'data', 'connexa.json'), 'utf8')).toBe(before);
    rmSync(dirname(list), { recursive: true });
  });
});

describe('the OpenVPN PKI on a full disk', () => {
  it('a revocation that cannot be written is reported as failed, and the retry once space is back really revokes', async () => {
    const pki = await Pki.open(join(mnt, 'pki'));
    const c = await pki.issueClient('n1');
    const certFile = join(pki.paths.issued, `${c.serial}.crt`);
    const filler = join(mnt, 'filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k', 'count=2000'], { stdio: 'ignore' });
    } catch {
      /* ENOSPC is the point */
    }
    await expect(pki.revoke(c.serial)).rejects.toThrow(/ENOSPC/);
    await expect(pki.revoke(c.serial)).rejects.toThrow(/ENOSPC/); // not "already revoked"
    expect(pki.isRevoked(c.serial)).toBe(false);
    rmSync(filler);
    expect(await pki.revoke(c.serial)).toBe(true);
    const check = spawnSync('openssl', ['verify', '-crl_check', '-CAfile', pki.paths.ca, '-CRLfile', pki.paths.crl, certFile], { encoding: 'utf8' });
    expect(check.stdout + check.stderr).toContain('certificate revoked');
    expect(JSON.parse(readFileSync(pki.paths.index, 'utf8')).certs[0].revokedAt).toEqual(expect.any(String));
  });
});
