import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

/** A fresh temp directory for each test of the enclosing block (or file), removed after it. */
export function useTempDir(prefix: string): { readonly path: string } {
  let dir: string | null = null;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = null;
  });
  return {
    get path() {
      if (!dir) throw new Error('the temp directory exists only while a test runs');
      return dir;
    },
  };
}
