#!/usr/bin/env node
// The `connexa` command: runs the build in dist/ (see bin/build.ts), rebuilding it first when a
// source file is newer. Where the build cannot be made (esbuild not installed: a production install
// without dev dependencies), Node 24 runs the TypeScript sources directly (type stripping): slower
// to start, same behaviour.
import { readFileSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { newestSourceMtimeMs } from './sources.js';

// V8's code cache on disk: the second start skips most parsing and compiling.
module.enableCompileCache?.();

const dist = new URL('../dist/', import.meta.url);

function currentBuild() {
  try {
    return JSON.parse(readFileSync(new URL('current.json', dist), 'utf8'));
  } catch {
    return null;
  }
}

async function entry() {
  let current = currentBuild();
  if (!current || newestSourceMtimeMs(fileURLToPath(new URL('..', import.meta.url))) > current.sourcesMtimeMs) {
    try {
      current = await (await import('./build.ts')).build();
    } catch (err) {
      process.stderr.write(`connexa: could not build (${err instanceof Error ? err.message.split('\n')[0] : err}); running the sources directly\n`);
      return new URL('../src/main.ts', import.meta.url);
    }
  }
  return new URL(`${current.dir}/main.js`, dist);
}

await import((await entry()).href);
