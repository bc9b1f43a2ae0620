/**
 * The build: bundles src/main.ts (with commands/ and adapters/) into dist/ with esbuild, so that a
 * one-shot `connexa` parses a few JavaScript files instead of type-stripping ~100 TypeScript ones
 * (measured: `connexa help` 0.40 s of CPU and 115 MB stripped, 0.15 s and 83 MB bundled). Packages
 * stay external (resolved from node_modules at run time); the chat adapters are a separate chunk,
 * loaded only when a platform token is set.
 *
 * Each build goes into a directory of its own, and `dist/current.json` (written atomically) names
 * it: a bot still running from an older build keeps finding its lazily loaded chunks, and two
 * processes that build at once each finish with a complete build.
 *
 * `npm install` runs it (`prepare`); `bin/connexa.js` runs it again when a source is newer.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newestSourceMtimeMs } from './sources.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const KEEP_BUILDS = 3;

export interface CurrentBuild {
  dir: string;
  /** The newest source mtime (ms) the build saw. */
  sourcesMtimeMs: number;
}

export async function build(): Promise<CurrentBuild> {
  const { build: esbuild } = await import('esbuild');
  mkdirSync(DIST, { recursive: true });
  const sourcesMtimeMs = newestSourceMtimeMs(ROOT);
  // dist/<dir>/main.js sits two levels below the root, as adapters/shell/usage.ts does: the relative
  // path to package.json it reads the version from holds in both (the launcher test checks it).
  const dir = `build-${Date.now().toString(36)}-${process.pid}`;
  await esbuild({
    // The IP database's thread (src/geo/batch-locator.ts) loads locate-worker.js beside the chunks.
    entryPoints: { main: join(ROOT, 'src/main.ts'), 'locate-worker': join(ROOT, 'src/geo/locate-worker.ts') },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    packages: 'external',
    splitting: true,
    sourcemap: true,
    outdir: join(DIST, dir),
    logLevel: 'warning',
  });
  const current: CurrentBuild = { dir, sourcesMtimeMs };
  const tmp = join(DIST, `current.json.${process.pid}`);
  writeFileSync(tmp, `${JSON.stringify(current)}\n`);
  renameSync(tmp, join(DIST, 'current.json'));
  pruneOldBuilds(dir);
  return current;
}

/** Keeps the newest few builds: an older bot may still load chunks from its own. */
function pruneOldBuilds(keep: string): void {
  const builds = readdirSync(DIST)
    .filter((n) => n.startsWith('build-') && n !== keep)
    .map((n) => ({ n, t: statSync(join(DIST, n)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const b of builds.slice(KEEP_BUILDS - 1)) rmSync(join(DIST, b.n), { recursive: true, force: true });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = performance.now();
  try {
    const b = await build();
    console.log(`connexa: built dist/${b.dir} in ${Math.round(performance.now() - t0)} ms`);
  } catch (err) {
    // An install without dev dependencies has no esbuild: the command then runs the sources.
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    console.log('connexa: esbuild is not installed; `connexa` will run the TypeScript sources directly');
  }
}
