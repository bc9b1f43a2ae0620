// Plain JavaScript on purpose: bin/connexa.js checks staleness on every start, and loading a
// TypeScript file would cost the type stripper's start-up (~40 ms, ~17 MB).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** What the build reads: a newer file in here makes the build stale. */
const SOURCE_DIRS = ['src', 'commands', 'adapters'];

/** The newest mtime (ms) of package.json and the TypeScript sources under `root`. */
export function newestSourceMtimeMs(root) {
  let newest = statSync(join(root, 'package.json')).mtimeMs;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of SOURCE_DIRS) walk(join(root, d));
  return newest;
}
