import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';

/**
 * One process per data directory: two processes writing the same JSON file would each overwrite the
 * other's work.
 *
 * The lock is a listening Unix socket: bind() is atomic (two starters in the same millisecond cannot
 * both win) and the kernel closes the socket when its holder exits, even by SIGKILL and even while the
 * dead holder is a zombie nobody has reaped, so a crash never blocks the next start. A pid file could
 * do neither: `kill(pid, 0)` succeeds on a zombie and on an unrelated process that reused the pid.
 * On Linux the socket has an abstract name (no file to go stale) derived from the directory's real
 * path; elsewhere it is a socket file in the directory. Node opens sockets close-on-exec, so children
 * (pppd, openvpn) never inherit the lock. `connexa.lock` keeps the holder's pid only for the message.
 */
export class StoreLocked extends Error {}

export interface HeldLock {
  release(): void;
}

/** The address the lock binds for a data directory (which must exist). */
export function lockAddress(dataDir: string): string {
  const real = realpathSync(dataDir);
  if (process.platform === 'linux') return `\0connexa-lock-${createHash('sha256').update(real).digest('hex').slice(0, 32)}`;
  return join(real, 'connexa.sock');
}

/**
 * Takes the lock of `dataDir`; throws StoreLocked naming the holder's pid when another process has it.
 * `writeInfo: false` (a read-only directory) skips the informational pid file.
 */
export async function acquireLock(dataDir: string, opts: { writeInfo?: boolean } = {}): Promise<HeldLock> {
  const address = lockAddress(dataDir);
  const infoPath = join(dataDir, 'connexa.lock');
  let server = await listen(address);
  if (!server && !address.startsWith('\0')) {
    // A socket file survives its holder: if nobody answers on it, it is stale.
    if (!(await answers(address))) {
      try {
        unlinkSync(address);
      } catch {
        /* another starter removed it */
      }
      server = await listen(address);
    }
  }
  if (!server) {
    const pid = Number(readInfo(infoPath));
    const who = Number.isInteger(pid) && pid > 0 ? `another Connexa (pid ${pid})` : 'another Connexa';
    throw new StoreLocked(`the data directory is in use by ${who}; stop it first or use another DATA_DIR`);
  }
  // The lock must not keep the event loop alive: a one-shot command ends when its work does.
  server.unref();
  if (opts.writeInfo !== false) {
    try {
      writeFileSync(infoPath, String(process.pid), { mode: 0o600 });
    } catch {
      /* information only */
    }
  }
  const held = server;
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      held.close();
      if (opts.writeInfo === false) return;
      try {
        if (readFileSync(infoPath, 'utf8') === String(process.pid)) unlinkSync(infoPath);
      } catch {
        /* already gone */
      }
    },
  };
}

/** Resolves with the listening server, or null when the address is taken. */
function listen(address: string): Promise<Server | null> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(null);
      else reject(new StoreLocked(`the data directory lock cannot be taken: ${err.code ?? err.message}`));
    });
    server.listen({ path: address, exclusive: true }, () => resolve(server));
  });
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function readInfo(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}
