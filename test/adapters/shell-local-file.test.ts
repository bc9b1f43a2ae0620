// The terminal's `import <path>`: a file is read to its end or refused, never cut.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localFile } from '../../adapters/shell/local-file.ts';
import { FileTooLarge } from '../../src/chat/types.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnx-lf-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MiB = 1024 * 1024;

describe('reading a local file for import', () => {
  it('reads a /proc file (0 bytes by stat) to its end', async () => {
    for (const p of ['/proc/version', '/proc/filesystems']) {
      const want = readFileSync(p);
      expect(want.length).toBeGreaterThan(1);
      expect((await localFile(p).download(MiB)).equals(want), p).toBe(true);
    }
  });

  it('reads a file of several chunks whole, and refuses one over the cap, also when stat says 0', async () => {
    const data = Buffer.from('203.0.113.5:u:p\n'.repeat(20_000));
    await writeFile(join(dir, 'big.txt'), data);
    expect((await localFile(join(dir, 'big.txt')).download(MiB)).equals(data)).toBe(true);
    await expect(localFile(join(dir, 'big.txt')).download(data.length - 1)).rejects.toBeInstanceOf(FileTooLarge);
    await expect(localFile('/proc/filesystems').download(10)).rejects.toBeInstanceOf(FileTooLarge);
  });

  it('never returns a file cut in the middle while another process is appending to it', async () => {
    const path = join(dir, 'growing.txt');
    const line = '203.0.113.5:user:password\n';
    await writeFile(path, line.repeat(40_000));
    // Appends whole lines, a few at a time, until it is stopped.
    const writer = spawn(process.execPath, ['-e', `const fs=require('fs');setInterval(()=>fs.appendFileSync(${JSON.stringify(path)},${JSON.stringify(line.repeat(20))}),0)`], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 30; i++) {
        try {
          const got = (await localFile(path).download(64 * MiB)).toString('utf8');
          // Read to an end the file really had: whole lines only.
          expect(got.length % line.length).toBe(0);
          expect(got.endsWith(line)).toBe(true);
        } catch (err) {
          expect((err as Error).message).toContain('changed while it was being read');
        }
      }
    } finally {
      writer.kill();
    }
  });
});
