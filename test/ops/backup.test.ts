import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateBackups, writeBackup, type BackupManifest } from '../../src/ops/backup.ts';
import { restoreBackup } from '../../src/ops/restore.ts';
import { TAR_END, tarHeader, tarPadding } from '../../src/ops/tar.ts';
import { Pki } from '../../src/services/ovpn/pki.ts';
import { STORE_VERSION } from '../../src/store/schema.ts';
import { Store } from '../../src/store/store.ts';
import { fileOf, OPERATOR, testApp, type TestApp } from '../kit/app.ts';
import { runConnexa } from '../kit/connexa-process.ts';
import { startSimProcess, type SimProcess } from '../kit/sim-process.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnx-backup-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The entries of a backup as `tar` sees them (GNU tar reads what writeBackup writes). */
function tarList(file: string): string[] {
  const r = spawnSync('tar', ['-tzf', file], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout.trim().split('\n');
}

describe('a backup taken while a 5,000-node ping job runs', () => {
  let fleet: SimProcess;
  let t: TestApp;
  beforeAll(async () => {
    fleet = await startSimProcess({ count: 5000, seed: 13, mix: 'good=0.7,silent=0.15,closed=0.1,garbage=0.05', dir });
    // Silent servers wait out the whole deadline: the job lasts long enough for the backup to land inside it.
    t = await testApp({ PING_CONCURRENCY: '100', PING_TIMEOUT_MS: '1500', PING_RETRIES: '0' });
    const out = await t.run('import', OPERATOR, [fileOf('fleet.txt', readFileSync(fleet.importFile))]);
    expect(out.kind).toBe('ok');
    expect(t.app.store.nodes()).toHaveLength(5000);
  }, 60_000);
  afterAll(async () => {
    await t?.dispose();
    await fleet?.stop();
  });

  it('restores to a store that parses and holds every result committed before the backup', async () => {
    expect((await t.run('ping', OPERATOR)).kind).toBe('ok');
    // Wait until the job is well under way, then take the backup in the middle of it.
    while (t.app.store.nodes().filter((n) => n.status !== 'not_tested').length < 500) await new Promise((r) => setTimeout(r, 50));
    const committed = new Map(t.app.store.nodes().filter((n) => n.status !== 'not_tested').map((n) => [n.id, { status: n.status, checkedAt: n.pptp?.checkedAt }]));
    const backup = await writeBackup({ dataDir: t.app.config.dataDir, outDir: join(dir, 'during'), store: t.app.store, version: 'test' });
    const job = t.app.jobs.list()[0];
    expect(job, 'the job is still running after the backup').toBeDefined();
    expect(job!.record.done).toBeLessThan(5000);

    expect(statSync(backup.file).mode & 0o777).toBe(0o600);
    expect(tarList(backup.file)[0]).toBe('manifest.json');
    expect(backup.manifest.storeVersion).toBe(STORE_VERSION);

    const target = join(dir, 'restored-during');
    const r = await restoreBackup(backup.file, target);
    expect(r.nodes).toBe(5000);
    const restored = await Store.open(target);
    try {
      const missing = [...committed].filter(([id, c]) => {
        const n = restored.get(id);
        return !n || n.status !== c.status || n.pptp?.checkedAt !== c.checkedAt;
      });
      expect(missing).toEqual([]);
      // The job that was running is marked interrupted, as after a crash; nothing stays in a transient state.
      const rec = restored.jobs().find((j) => j.id === job!.id);
      expect(rec?.state).toBe('interrupted');
    } finally {
      await restored.close();
    }
    await t.app.jobs.idle();
  }, 120_000);

  it('`connexa backup` from the terminal works while the bot holds the data; `connexa restore` is refused then', async () => {
    const cwd = join(dir, 'cli');
    await mkdir(cwd, { recursive: true });
    const dataDir = t.app.config.dataDir;
    await t.app.store.flush();
    const b = await runConnexa(['backup', join(dir, 'cli-out')], { cwd, dataDir });
    expect(b.err).toBe('');
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/^backup written: .*connexa-backup-\d{8}T\d{9}Z\.tar\.gz .*a running Connexa holds the data/);
    const file = join(dir, 'cli-out', (await readdir(join(dir, 'cli-out')))[0]!);
    const r = await runConnexa(['restore', file], { cwd, dataDir });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^connexa: restore refused: the data directory is in use by another Connexa \(pid \d+\)/);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  }, 60_000);
});

describe('restore', () => {
  let src: string;
  let good: string;
  beforeAll(async () => {
    src = join(dir, 'src-data');
    const store = await Store.open(src);
    store.addNodes([{ ip: '203.0.113.5', port: 1723, login: 'u1', password: 'Backup-Test-Pass-1', provider: null, country: 'US', state: 'Ohio', city: null, zip: null, comment: null }], 'test');
    await store.close();
    good = (await writeBackup({ dataDir: src, outDir: join(dir, 'good'), version: 'test' })).file;
  });

  const cli = (args: string[], dataDir: string) => runConnexa(args, { cwd: dir, dataDir });

  it('a corrupted backup is refused with one line and nothing is changed', async () => {
    const target = join(dir, 'corrupt-target');
    expect((await cli(['restore', good], target)).code).toBe(0);
    const before = readFileSync(join(target, 'connexa.json'));
    // A flipped byte in the compressed data, and a file whose content no longer matches its checksum.
    const flipped = join(dir, 'flipped.tar.gz');
    const bytes = readFileSync(good);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(flipped, bytes);
    const tar = gunzipSync(readFileSync(good));
    const at = tar.indexOf('Backup-Test-Pass-1');
    tar.write('X', at);
    const tampered = join(dir, 'tampered.tar.gz');
    writeFileSync(tampered, gzipSync(tar));
    const truncated = join(dir, 'truncated.tar.gz');
    writeFileSync(truncated, readFileSync(good).subarray(0, 200));
    for (const [file, why] of [[flipped, /damaged or not a Connexa backup: .*corrupt|checksum/], [tampered, /connexa\.json does not match its checksum/], [truncated, /damaged or not a Connexa backup/]] as const) {
      const r = await cli(['restore', file], target);
      expect(r.code, file).toBe(2);
      const lines = r.err.trim().split('\n');
      expect(lines, r.err).toHaveLength(1);
      expect(lines[0]).toMatch(/^connexa: /);
      expect(lines[0]).toMatch(why);
      expect(lines[0]).toMatch(/nothing was changed$/);
    }
    expect(readFileSync(join(target, 'connexa.json')).equals(before)).toBe(true);
    expect((await readdir(target)).filter((n) => n.startsWith('.restore'))).toEqual([]);
  }, 60_000);

  it('a backup of a newer schema version is refused with one line', async () => {
    const tar = gunzipSync(readFileSync(good));
    // The manifest is the first entry; rewrite its storeVersion (same length) and fix the header checksum.
    const text = tar.subarray(512, 512 + 2000).toString('utf8');
    const m = JSON.parse(text.slice(0, text.indexOf('\0'))) as BackupManifest;
    expect(m.storeVersion).toBe(STORE_VERSION);
    const from = `"storeVersion": ${STORE_VERSION}`;
    // A newer version of the same number of digits (STORE_VERSION + 7 cut to length was older from 3 on).
    const to = `"storeVersion": ${'9'.repeat(String(STORE_VERSION).length)}`;
    expect(to.length).toBe(from.length);
    tar.write(to, tar.indexOf(from));
    const newer = join(dir, 'newer.tar.gz');
    writeFileSync(newer, gzipSync(tar));
    const r = await cli(['restore', newer], join(dir, 'newer-target'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^connexa: the backup holds a store of schema version \d+, made by a newer Connexa .*nothing was changed\n$/);
  });

  it('an archive that names a path outside DATA_DIR, or lacks a file of its manifest, is refused', async () => {
    const entry = (path: string, data: Buffer) => [tarHeader(path, data.length, 0o600, 0), data, tarPadding(data.length)];
    const store = readFileSync(join(src, 'connexa.json'));
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const archive = (files: Array<{ path: string; data: Buffer }>, listed = files) => {
      const manifest = Buffer.from(JSON.stringify({ format: 'connexa-backup', formatVersion: 1, createdAt: 'x', connexaVersion: 'test', storeVersion: STORE_VERSION, files: listed.map((f) => ({ path: f.path, size: f.data.length, sha256: sha(f.data), mode: 0o600 })) }));
      return gzipSync(Buffer.concat([...entry('manifest.json', manifest), ...files.flatMap((f) => entry(f.path, f.data)), TAR_END]));
    };
    const evil = join(dir, 'evil.tar.gz');
    writeFileSync(evil, archive([{ path: 'connexa.json', data: store }, { path: '../escaped', data: Buffer.from('x') }]));
    const target = join(dir, 'evil-target');
    const r = await cli(['restore', evil], target);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^connexa: .* its manifest has a bad entry \(\.\.\/escaped\); nothing was changed\n$/);
    expect(existsSync(join(dir, 'escaped'))).toBe(false);
    const short = join(dir, 'short.tar.gz');
    writeFileSync(short, archive([{ path: 'connexa.json', data: store }], [{ path: 'connexa.json', data: store }, { path: 'pki/ca.crt', data: Buffer.from('cert') }]));
    const s2 = await cli(['restore', short], target);
    expect(s2.code).toBe(2);
    expect(s2.err).toMatch(/^connexa: .* 1 file\(s\) of its manifest are missing \(pki\/ca\.crt…\); nothing was changed\n$/);
    expect(existsSync(join(target, 'connexa.json'))).toBe(false);
  });

  it('restores over existing data, keeping the replaced data aside', async () => {
    const target = join(dir, 'over');
    const other = await Store.open(target);
    other.addNodes([{ ip: '198.51.100.9', port: 1723, login: 'x', password: 'Other-Store-Pass-22', provider: null, country: null, state: null, city: null, zip: null, comment: null }], 'test');
    await other.close();
    const r = await cli(['restore', good], target);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^restored .* 1 nodes, 1 files into .*; the data it replaced is in .*pre-restore-/);
    const s = await Store.open(target);
    expect(s.nodes().map((n) => n.ip)).toEqual(['203.0.113.5']);
    await s.close();
    const aside = (await readdir(target)).find((n) => n.startsWith('pre-restore-'))!;
    expect(readFileSync(join(target, aside, 'connexa.json'), 'utf8')).toContain('198.51.100.9');
  });

  it('a restored PKI still validates the profiles issued before (openssl verify), and is not regenerated', async () => {
    const data = join(dir, 'pki-data');
    const store = await Store.open(data);
    await store.close();
    const pki = await Pki.open(join(data, 'pki'));
    const issued = await Promise.all(['n1', 'n2', 'n3'].map((id) => pki.issueClient(id)));
    await pki.revoke(issued[2]!.serial);
    // What users hold: the certificate and CA of their profiles, outside DATA_DIR.
    const held = join(dir, 'held');
    await mkdir(held, { recursive: true });
    for (const c of issued) await writeFile(join(held, `${c.serial}.crt`), c.certPem);
    const caBefore = readFileSync(join(data, 'pki', 'ca.crt'), 'utf8');
    const { file } = await writeBackup({ dataDir: data, outDir: join(dir, 'pki-backups'), version: 'test' });
    expect(tarList(file)).toEqual(expect.arrayContaining(['manifest.json', 'connexa.json', 'pki/ca.crt', 'pki/ca.key', 'pki/crl.pem', `pki/issued/${issued[0]!.serial}.key`]));

    await rm(data, { recursive: true, force: true }); // the disk is lost
    const r = await cli(['restore', file], data);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(data, 'pki', 'ca.crt'), 'utf8')).toBe(caBefore);
    expect(statSync(join(data, 'pki', 'ca.key')).mode & 0o777).toBe(0o600);
    const verify = (serial: string) =>
      spawnSync('openssl', ['verify', '-crl_check', '-CAfile', join(data, 'pki', 'ca.crt'), '-CRLfile', join(data, 'pki', 'crl.pem'), join(held, `${serial}.crt`)], { encoding: 'utf8' });
    expect(verify(issued[0]!.serial).stdout).toContain(': OK');
    expect(verify(issued[1]!.serial).stdout).toContain(': OK');
    const revoked = verify(issued[2]!.serial);
    expect(revoked.status).not.toBe(0);
    expect(revoked.stdout + revoked.stderr).toContain('certificate revoked');
    // Opened again, the restored PKI is the same CA (no new one is made).
    const again = await Pki.open(join(data, 'pki'));
    expect(again.caPem()).toBe(caBefore);
    expect(again.find(issued[0]!.serial)).toBeDefined();
  }, 60_000);

  it('restores the places of a store (geo and exit geo, one table), and a version-3 store with places inline', async () => {
    const at = (city: string) => ({ country: 'DE', region: 'Bayern', city, asn: 64501, asOrg: 'Example', source: 'test db' });
    const node = (i: number) => ({ ip: `203.0.113.${i}`, port: 1723, login: `g${i}`, password: `Geo-Test-Pass-${i}`, provider: null, country: null, state: null, city: null, zip: null, comment: null });
    const from = join(dir, 'geo-data');
    const store = await Store.open(from);
    store.addNodes([{ ...node(1), geo: at('München') }, { ...node(2), geo: at('München') }, { ...node(3), geo: at('Nürnberg') }], 'test');
    store.patchNode('n1', { speed: { downMbps: 5, upMbps: 1, error: null, checkedAt: '2026-01-01T00:00:00.000Z', exitIp: '203.0.113.3', exitGeo: at('Nürnberg') } });
    const expected = JSON.parse(JSON.stringify(store.nodes()));
    await store.close();
    const check = async (file: string, target: string) => {
      expect((await restoreBackup(file, target)).nodes).toBe(3);
      const s = await Store.open(target);
      expect(JSON.parse(JSON.stringify(s.nodes()))).toEqual(expected);
      expect(s.get('n1')!.geo).toBe(s.get('n2')!.geo);
      expect(s.get('n1')!.speed!.exitGeo).toBe(s.get('n3')!.geo);
      await s.close();
    };
    const backup = await writeBackup({ dataDir: from, outDir: join(dir, 'geo-backup'), version: 'test' });
    expect(backup.manifest.storeVersion).toBe(STORE_VERSION);
    await check(backup.file, join(dir, 'geo-restored'));

    // The same data as an older Connexa wrote it: version 3, every location inline.
    const { places: _places, ...rest } = JSON.parse(readFileSync(join(from, 'connexa.json'), 'utf8'));
    writeFileSync(join(from, 'connexa.json'), JSON.stringify({ ...rest, version: 3, nodes: expected }));
    const old = await writeBackup({ dataDir: from, outDir: join(dir, 'geo-backup-v3'), version: 'test' });
    expect(old.manifest.storeVersion).toBe(3);
    await check(old.file, join(dir, 'geo-restored-v3'));
    expect(JSON.parse(readFileSync(join(dir, 'geo-restored-v3', 'connexa.json'), 'utf8')).places).toEqual([at('München'), at('Nürnberg')]);
  });

  it('keeps the newest BACKUP_KEEP backups', async () => {
    const out = join(dir, 'rotation');
    for (let i = 0; i < 5; i++) await writeBackup({ dataDir: src, outDir: out, version: 'test', now: new Date(Date.UTC(2026, 0, 1, 3, 0, i)) });
    expect(await rotateBackups(out, 2)).toHaveLength(3);
    expect(await readdir(out)).toEqual(['connexa-backup-20260101T030003000Z.tar.gz', 'connexa-backup-20260101T030004000Z.tar.gz']);
  });
});
