/**
 * A minimal writer for the "newc" cpio format the kernel unpacks as an initramfs. This machine
 * kind has no cpio binary, and the initramfs holds only a handful of files, so 40 lines beat a
 * dependency.
 */
export interface CpioEntry {
  /** Path inside the archive, without a leading slash. */
  name: string;
  /** 'dir', 'file' or 'symlink' (data is the link target). */
  type: 'dir' | 'file' | 'symlink';
  /** Permission bits, e.g. 0o755. */
  mode: number;
  data?: Buffer;
}

const TYPE_BITS = { dir: 0o040000, file: 0o100000, symlink: 0o120000 } as const;

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function header(ino: number, mode: number, size: number, nameSize: number): string {
  const hex = (v: number) => v.toString(16).padStart(8, '0');
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  return `070701${[ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, nameSize, 0].map(hex).join('')}`;
}

export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (name: string, mode: number, data: Buffer) => {
    const nameBuf = Buffer.from(`${name}\0`, 'utf8');
    const head = Buffer.from(header(ino++, mode, data.length, nameBuf.length), 'ascii');
    parts.push(head, nameBuf, Buffer.alloc(pad4(head.length + nameBuf.length)), data, Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) push(e.name, TYPE_BITS[e.type] | e.mode, e.type === 'dir' ? Buffer.alloc(0) : (e.data ?? Buffer.alloc(0)));
  push('TRAILER!!!', 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}
