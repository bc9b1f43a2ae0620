/**
 * Builds (once) and caches the VM lab's Debian image: an ext4 root made by debootstrap, the
 * kernel as an uncompressed ELF vmlinux (PVH boot skips ~4 s of decompression under emulation) and
 * a tiny busybox initramfs. The recipe is shared/notes/vm-lab.md.
 *
 * The cache key is a hash of this file, the guest scripts and the package list, so editing any of
 * them rebuilds; nothing else does. Downloaded .debs are kept separately across keys, so a rebuild
 * after an edit does not download again. Needs root, debootstrap and mkfs.ext4 (e2fsprogs).
 *
 * Run alone: `node test/vm/image.ts` (prints the image directory and the build time).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { cpioNewc, type CpioEntry } from './cpio.ts';
import { findExecutable } from '../../src/probes/tunnel/capability.ts';

const execFileP = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));

export const SUITE = 'bookworm';
export const MIRROR = process.env.CONNEXA_VM_MIRROR ?? 'http://deb.debian.org/debian';
/** busybox-static instead of busybox: its static binary is the initramfs, and it gives the guest syslogd. */
export const PACKAGES = ['linux-image-amd64', 'kmod', 'pptpd', 'pptp-linux', 'ppp', 'iproute2', 'procps', 'busybox-static', 'curl', 'nftables'];
/** Modules the initramfs loads to mount the root (dependencies are added from modules.dep). */
const INITRAMFS_MODULES = ['virtio_pci', 'virtio_blk', 'crc32c_generic', 'ext4'];
/** Module trees the lab never needs; removing them halves the image. */
const DROP_MODULE_DIRS = [
  'sound', 'drivers/gpu', 'drivers/media', 'drivers/infiniband', 'drivers/net/wireless', 'drivers/net/ethernet',
  'drivers/staging', 'drivers/scsi', 'drivers/usb', 'drivers/hid', 'drivers/bluetooth', 'drivers/input', 'drivers/isdn',
  'drivers/iio', 'drivers/mtd', 'drivers/hwmon', 'drivers/platform', 'drivers/md', 'drivers/nvme', 'drivers/ata',
  'net/wireless', 'net/mac80211', 'net/bluetooth', 'fs/nls', 'fs/xfs', 'fs/btrfs', 'fs/ocfs2', 'fs/nfs', 'fs/nfsd',
  'fs/ceph', 'fs/smb', 'fs/gfs2', 'fs/f2fs', 'fs/ntfs3',
];
const IMAGE_SIZE = '600M';

export interface VmImage {
  dir: string;
  rootfs: string;
  kernel: string;
  initramfs: string;
  /** True when this call built it. */
  built: boolean;
  buildMs: number | null;
}

export function cacheRoot(): string {
  if (process.env.CONNEXA_VM_CACHE) return path.resolve(process.env.CONNEXA_VM_CACHE);
  const base = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'connexa-vm');
}

/** The cache key: everything that decides the image's content. */
export function imageKey(): string {
  const h = createHash('sha256');
  for (const f of ['image.ts', 'cpio.ts', 'guest/init.sh', 'guest/initramfs-init.sh']) h.update(fs.readFileSync(path.join(HERE, f)));
  h.update(JSON.stringify({ SUITE, MIRROR, PACKAGES, INITRAMFS_MODULES, DROP_MODULE_DIRS, IMAGE_SIZE }));
  return h.digest('hex').slice(0, 16);
}

async function run(cmd: string, args: string[], log: (l: string) => void, timeoutMs = 15 * 60_000): Promise<string> {
  const t0 = Date.now();
  try {
    const { stdout } = await execFileP(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
    log(`  ${cmd} ${args[0] ?? ''}… ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim().split('\n').slice(-15).join('\n') || e.message}`);
  }
}

/** Checks the host can build the image; one line per missing tool, with how to install it. */
export function buildPrerequisites(): string[] {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('building the VM image needs root (debootstrap, chroot)');
  // xz: Debian's bookworm kernel image is xz-compressed (gzip and zstd are handled too, if ever used).
  const need: Array<[string, string]> = [['debootstrap', 'debootstrap'], ['mkfs.ext4', 'e2fsprogs'], ['chroot', 'coreutils'], ['xz', 'xz-utils']];
  const missing = need.filter(([bin]) => !onPath(bin));
  if (missing.length) problems.push(`missing ${missing.map((m) => m[0]).join(', ')}: apt-get install -y --no-install-recommends ${[...new Set(missing.map((m) => m[1]))].join(' ')}`);
  return problems;
}

export const onPath = findExecutable;

/** Returns the cached image, building it first when the key has none. */
export async function ensureImage(log: (l: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<VmImage> {
  const root = cacheRoot();
  const key = imageKey();
  const dir = path.join(root, `img-${key}`);
  const files = { rootfs: path.join(dir, 'rootfs.ext4'), kernel: path.join(dir, 'vmlinux'), initramfs: path.join(dir, 'initramfs.cpio.gz') };
  if (fs.existsSync(path.join(dir, 'done.json'))) return { dir, ...files, built: false, buildMs: null };

  const problems = buildPrerequisites();
  if (problems.length) throw new Error(`cannot build the VM image: ${problems.join('; ')}`);
  const t0 = Date.now();
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const debs = path.join(root, 'debs');
  fs.mkdirSync(debs, { recursive: true });
  const work = fs.mkdtempSync(path.join(root, `build-${key}-`));
  const rootDir = path.join(work, 'root');
  try {
    log(`vm image: building ${key} in ${work} (debootstrap ${SUITE} from ${MIRROR})`);
    await run('debootstrap', ['--variant=minbase', `--cache-dir=${debs}`, `--include=${PACKAGES.join(',')}`, SUITE, rootDir, MIRROR], log, 30 * 60_000);

    const kver = fs.readdirSync(path.join(rootDir, 'usr/lib/modules'))[0];
    if (!kver) throw new Error('debootstrap installed no kernel modules');
    const vmlinuz = path.join(rootDir, 'boot', `vmlinuz-${kver}`);
    const stage = path.join(work, 'out');
    fs.mkdirSync(stage);
    fs.writeFileSync(path.join(stage, 'vmlinux'), await extractVmlinux(fs.readFileSync(vmlinuz)));
    log(`  kernel ${kver}: vmlinux extracted`);

    await slim(rootDir, kver, log);
    // merged /usr: /sbin is a link to usr/sbin, so install into usr/sbin.
    fs.copyFileSync(path.join(HERE, 'guest/init.sh'), path.join(rootDir, 'usr/sbin/connexa-init'));
    fs.chmodSync(path.join(rootDir, 'usr/sbin/connexa-init'), 0o755);

    fs.writeFileSync(path.join(stage, 'initramfs.cpio.gz'), zlib.gzipSync(await initramfs(rootDir, kver)));
    log('  initramfs written');
    await run('mkfs.ext4', ['-q', '-F', '-L', 'connexa-vm', '-d', rootDir, path.join(stage, 'rootfs.ext4'), IMAGE_SIZE], log);
    const buildMs = Date.now() - t0;
    fs.writeFileSync(path.join(stage, 'done.json'), JSON.stringify({ key, kernel: kver, builtAt: new Date().toISOString(), buildMs, packages: PACKAGES }, null, 2));
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(stage, dir);
    // Older keys are dead weight (hundreds of MB each): keep only this one and the .debs.
    for (const e of fs.readdirSync(root)) if (e.startsWith('img-') && e !== `img-${key}`) fs.rmSync(path.join(root, e), { recursive: true, force: true });
    log(`vm image: built in ${(buildMs / 1000).toFixed(1)} s -> ${dir}`);
    return { dir, ...files, built: true, buildMs };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Removes docs, locales, apt lists and module trees the lab never loads; refreshes modules.dep. */
async function slim(rootDir: string, kver: string, log: (l: string) => void): Promise<void> {
  for (const p of ['usr/share/doc', 'usr/share/man', 'usr/share/locale', 'usr/share/info', 'var/cache/apt', 'var/lib/apt/lists', 'boot']) {
    fs.rmSync(path.join(rootDir, p), { recursive: true, force: true });
  }
  fs.mkdirSync(path.join(rootDir, 'boot'));
  const mods = path.join(rootDir, 'usr/lib/modules', kver, 'kernel');
  for (const d of DROP_MODULE_DIRS) fs.rmSync(path.join(mods, d), { recursive: true, force: true });
  await run('chroot', [rootDir, 'depmod', '-a', kver], log);
}

/** Finds the compressed payload inside a bzImage and returns the ELF it decompresses to. */
export async function extractVmlinux(bz: Buffer): Promise<Buffer> {
  const candidates: Array<{ magic: Buffer; decompress: (b: Buffer) => Promise<Buffer> }> = [
    { magic: Buffer.from([0x1f, 0x8b, 0x08]), decompress: async (b) => zlib.gunzipSync(b, { finishFlush: zlib.constants.Z_SYNC_FLUSH }) },
    { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), decompress: (b) => pipeThrough('xz', ['-dc', '--single-stream'], b) },
    { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), decompress: (b) => pipeThrough('zstd', ['-dc'], b) },
  ];
  for (const c of candidates) {
    let at = bz.indexOf(c.magic);
    while (at >= 0) {
      try {
        const out = await c.decompress(bz.subarray(at));
        if (out.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return out;
      } catch {
        // not this offset
      }
      at = bz.indexOf(c.magic, at + 1);
    }
  }
  throw new Error('no gzip/xz/zstd payload with an ELF inside the kernel image');
}

/** Runs a filter program on a buffer (no shell); resolves with what it wrote even if it complains about trailing data. */
function pipeThrough(cmd: string, args: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'buffer', maxBuffer: 512 * 1024 * 1024 }, (err, stdout) => {
      if (stdout && stdout.length > 0) resolve(stdout);
      else reject(err ?? new Error(`${cmd} produced nothing`));
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(input);
  });
}

/** The initramfs: static busybox, the root-mounting modules (dependencies first) and the init script. */
async function initramfs(rootDir: string, kver: string): Promise<Buffer> {
  const modRoot = path.join(rootDir, 'usr/lib/modules', kver);
  const deps = new Map<string, string[]>();
  for (const line of fs.readFileSync(path.join(modRoot, 'modules.dep'), 'utf8').split('\n')) {
    const [mod, rest] = line.split(':');
    if (mod && rest !== undefined) deps.set(mod, rest.trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map<string, string>();
  for (const m of deps.keys()) byName.set(path.basename(m).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_'), m);
  const order: string[] = [];
  const visit = (m: string) => {
    if (order.includes(m)) return;
    for (const d of deps.get(m) ?? []) visit(d);
    order.push(m);
  };
  for (const name of INITRAMFS_MODULES) {
    const m = byName.get(name);
    if (m) visit(m); // absent from modules.dep: built into the kernel
  }
  const entries: CpioEntry[] = [
    { name: 'bin', type: 'dir', mode: 0o755 },
    { name: 'modules', type: 'dir', mode: 0o755 },
    { name: 'bin/busybox', type: 'file', mode: 0o755, data: fs.readFileSync(path.join(rootDir, 'usr/bin/busybox')) },
    { name: 'init', type: 'file', mode: 0o755, data: fs.readFileSync(path.join(HERE, 'guest/initramfs-init.sh')) },
  ];
  const names: string[] = [];
  for (const m of order) {
    let data: Buffer = fs.readFileSync(path.join(modRoot, m));
    if (m.endsWith('.xz')) data = await pipeThrough('xz', ['-dc'], data);
    else if (m.endsWith('.zst')) data = await pipeThrough('zstd', ['-dc'], data);
    else if (m.endsWith('.gz')) data = zlib.gunzipSync(data);
    const name = path.basename(m).replace(/\.(xz|zst|gz)$/, '');
    names.push(name);
    entries.push({ name: `modules/${name}`, type: 'file', mode: 0o644, data });
  }
  entries.push({ name: 'modules.order', type: 'file', mode: 0o644, data: Buffer.from(`${names.join('\n')}\n`) });
  return cpioNewc(entries);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureImage()
    .then((img) => console.log(JSON.stringify(img, null, 2)))
    .catch((err: Error) => {
      console.error(err.message);
      process.exit(1);
    });
}
